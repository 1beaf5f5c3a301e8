"""The access policy of org.access, role by role: what each role may do, and exactly which rows it sees."""
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import KeyAccount
from org.access import Action, can
from org.models import Region
from stores.models import Store, StoreVisit
from tests.factories import (
    AnalystFactory, KAManagerFactory, KeyAccountFactory, RegionFactory, RepFactory, StoreFactory, StoreVisitFactory,
    SupervisorFactory, UserFactory,
)

pytestmark = pytest.mark.django_db

ALL = set(Action)
MAY = {
    "sales_manager": {Action.LOG_VISITS},
    "supervisor": {Action.LOG_VISITS, Action.SEE_REPS, Action.HANDLE_ALERTS, Action.EDIT_PLANNING},
    "ka_manager": {Action.READ_DOSSIERS, Action.EDIT_DOSSIERS},
    "analyst": ALL - {Action.MANAGE_PEOPLE},
    "staff": ALL,
    "superuser": ALL,
    "anonymous": set(),
}


def make_user(role):
    if role == "anonymous":
        return AnonymousUser()
    if role == "staff":
        return UserFactory(is_staff=True)  # a sales manager by role: staff decides
    if role == "superuser":
        return UserFactory(is_superuser=True)
    return {"sales_manager": RepFactory, "supervisor": SupervisorFactory, "ka_manager": KAManagerFactory,
            "analyst": AnalystFactory}[role]()


@pytest.mark.parametrize("role, action", [(role, action) for role in MAY for action in Action])
def test_each_role_may_do_exactly_the_actions_of_its_row(role, action):
    assert can(make_user(role), action) is (action in MAY[role])


@pytest.fixture
def world():
    """Two regions, two reps, two supervisors, two KA managers; stores of both reps and accounts, one of nobody's."""
    north, south = RegionFactory(code="north"), RegionFactory(code="south")
    rep1, rep2 = RepFactory(username="rep1", region=north), RepFactory(username="rep2", region=south)
    sup1, sup2 = SupervisorFactory(username="sup1"), SupervisorFactory(username="sup2")
    north.supervisors.add(sup1)
    south.supervisors.add(sup2)
    ka1, ka2 = KAManagerFactory(username="ka1"), KAManagerFactory(username="ka2")
    wm, cf = KeyAccountFactory(code="wm", owner=ka1), KeyAccountFactory(code="cf", owner=ka2)
    KeyAccountFactory(code="xx", owner=None)
    for code, region, rep, account in [
        ("n1", north, rep1, wm), ("n2", north, None, cf), ("s1", south, rep2, cf), ("s2", south, None, None),
    ]:
        StoreVisitFactory(store=StoreFactory(code=code, region=region, rep=rep, account=account))
    return SimpleNamespace(rep1=rep1, sup1=sup1, ka1=ka1, ka2=ka2)


EVERY_ROW = {
    "stores": ["n1", "n2", "s1", "s2"], "visits": ["n1", "n2", "s1", "s2"], "regions": ["north", "south"],
    "accounts": ["cf", "wm", "xx"], "dossiers": ["cf", "wm", "xx"],
}
NO_ROW = {"stores": [], "visits": [], "regions": [], "accounts": [], "dossiers": []}
SEES = {
    "rep1": {"stores": ["n1"], "visits": ["n1"], "regions": ["north"], "accounts": ["wm"], "dossiers": []},
    "sup1": {"stores": ["n1", "n2"], "visits": ["n1", "n2"], "regions": ["north"], "accounts": ["cf", "wm"],
             "dossiers": []},
    "ka1": {"stores": ["n1"], "visits": ["n1"], "regions": ["north"], "accounts": ["wm"], "dossiers": ["wm"]},
    "ka2": {"stores": ["n2", "s1"], "visits": ["n2", "s1"], "regions": ["north", "south"], "accounts": ["cf"],
            "dossiers": ["cf"]},
    "analyst": EVERY_ROW,
    "staff": EVERY_ROW,
    "anonymous": NO_ROW,
}


def user_named(world, name):
    if name == "analyst":
        return AnalystFactory()
    if name == "staff":
        return UserFactory(is_staff=True)
    if name == "anonymous":
        return AnonymousUser()
    return getattr(world, name)


@pytest.mark.parametrize("name", SEES)
def test_each_role_sees_exactly_its_rows(world, name):
    user = user_named(world, name)

    seen = {
        "stores": list(Store.objects.visible_to(user).order_by("code").values_list("code", flat=True)),
        "visits": list(StoreVisit.objects.visible_to(user).order_by("store__code").values_list("store__code", flat=True)),
        "regions": list(Region.objects.visible_to(user).order_by("code").values_list("code", flat=True)),
        "accounts": list(KeyAccount.objects.visible_to(user).order_by("code").values_list("code", flat=True)),
        "dossiers": list(KeyAccount.objects.dossier_visible_to(user).order_by("code").values_list("code", flat=True)),
    }

    assert seen == SEES[name]


@pytest.mark.parametrize("name", SEES)
def test_whoever_may_read_dossiers_reads_those_of_exactly_their_accounts_and_edits_the_same(world, name):
    user = user_named(world, name)

    accounts = list(KeyAccount.objects.visible_to(user).order_by("code").values_list("code", flat=True))
    dossiers = list(KeyAccount.objects.dossier_visible_to(user).order_by("code").values_list("code", flat=True))
    editable = list(KeyAccount.objects.editable_by(user).order_by("code").values_list("code", flat=True))

    assert dossiers == (accounts if can(user, Action.READ_DOSSIERS) else [])
    assert editable == dossiers
