"""Who reads what of a key account (SPEC §7), through the API and the pages alike.

An account owns stores in two regions of two countries. Its KA manager, the analysts and admins read its dossier
(profile, people, events, competitors, plans) and its account-wide scores; a rep and a supervisor of one region read
its code, name, kind and tier and the scores of their own stores, nothing summed over the other region's stores.
"""
import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat

from analytics.models import AccountScore, PotentialModelFit, StoreScore
from planning.models import AccountPlan, PlanAction
from tests.conftest import client_for
from tests.factories import (
    AnalystFactory, KAManagerFactory, KeyAccountFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory,
)

from .factories import DecisionMakerFactory, EventFactory, PresenceFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 1, 15)
BIRTHDAY = dt.date(1970, 5, 17)
PHONE, EMAIL, INTERESTS = "+86 21 5555 0101", "li.ming@wm.example", "Calligraphy and Go"
EVENT, STRENGTHS, PLAN = "Agreed the spring tender terms", "Undercuts every promotion", "Double the hypermarkets"
PROFILE = "Founded in Shenzhen, expanding to Europe"
ACCOUNT_POTENTIAL, ACCOUNT_OWN = 987654.0, 123456.0  # wm summed over n1, n2 and p1: must not reach rep1 or sup1
# The dossier in every form it is shown: API values and HTML text.
SECRETS = [PHONE, EMAIL, INTERESTS, EVENT, STRENGTHS, PLAN, PROFILE, "1970-05-17", dateformat.format(BIRTHDAY, "j F"),
           "987654", "987,654", "123456", "123,456"]
SUMMARY_FIELDS = ["code", "name", "kind", "tier"]


def _store_score(store, potential):
    return StoreScore(
        store=store, as_of=DAY, obs_days=30, observed=True, potential=potential, potential_source="observed",
        own_annual=potential / 10, wallet_share=0.1, market_share=0.2, market_share_source="country",
        key_potential=True, zone="attack", abc="A", xyz="X", trad_ka=True, missed_attack=False, false_ka=False,
        customer_status="active",
    )


def _account_score(account, potential, own):
    return AccountScore.objects.create(
        account=account, as_of=DAY, potential=potential, own_annual=own, wallet_share=own / potential,
        active_stores=3, known_stores=3, coverage=1.0, market_share=0.2, market_share_source="country",
        key_potential=True, zone="attack", abc="A", trad_ka=True, missed_attack=False, false_ka=False,
        lifeblood=False, tier="NKA",
    )


@pytest.fixture
def world():
    north, paris = RegionFactory(code="north", country="CN"), RegionFactory(code="paris", country="FR")
    rep1, rep2 = RepFactory(username="rep1", region=north), RepFactory(username="rep2", region=north)
    sup1 = SupervisorFactory(username="sup1")
    north.supervisors.add(sup1)
    paris.supervisors.add(SupervisorFactory(username="sup-fr"))
    ka1, ka2 = KAManagerFactory(username="ka1"), KAManagerFactory(username="ka2")
    wm = KeyAccountFactory(code="wm", name="Walmart China", owner=ka1, tier="NKA", description=PROFILE)
    cf = KeyAccountFactory(code="cf", name="Carrefour", owner=ka2, tier="LKA")
    stores = {
        "n1": StoreFactory(code="n1", account=wm, region=north, rep=rep1),
        "n2": StoreFactory(code="n2", account=wm, region=north, rep=rep2),
        "p1": StoreFactory(code="p1", account=wm, region=paris, rep=RepFactory(username="rep-fr", region=paris)),
        "n3": StoreFactory(code="n3", account=cf, region=north, rep=rep1),
    }
    person = DecisionMakerFactory(account=wm, name="Li Ming", phone=PHONE, email=EMAIL, birthday=BIRTHDAY,
                                  interests=INTERESTS)
    event = EventFactory(account=wm, summary=EVENT)
    presence = PresenceFactory(account=wm, strengths=STRENGTHS)
    plan = AccountPlan.objects.create(account=wm, year=2026, summary=PLAN)
    PlanAction.objects.create(plan=plan, title="End caps", owner=rep1, due=DAY)
    StoreScore.objects.bulk_create([_store_score(stores[code], p) for code, p in
                                    [("n1", 1111.0), ("n2", 2222.0), ("p1", 3333.0), ("n3", 4444.0)]])
    _account_score(wm, ACCOUNT_POTENTIAL, ACCOUNT_OWN)
    _account_score(cf, 4444.0, 444.0)
    PotentialModelFit.objects.create(as_of=DAY, n=40, m=4, r2=0.8, r2_adj=0.78, rmse=10.0, press_r2=0.7, usable=True)
    return SimpleNamespace(
        rep1=rep1, sup1=sup1, ka1=ka1, ka2=ka2, analyst=AnalystFactory(username="analyst"), wm=wm, plan=plan,
        ids={"decision-makers": person.pk, "events": event.pk, "competitors": presence.pk},
    )


def assert_no_secret(text):
    assert [secret for secret in SECRETS if secret in text] == []


# -- the API ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rep1", "sup1"])
def test_reps_and_supervisors_list_the_summary_of_the_accounts_of_their_stores(world, name):
    client = client_for(getattr(world, name))

    body = client.get("/api/v1/accounts/").json()
    detail = client.get("/api/v1/accounts/wm/")

    assert body["results"] == [
        {"code": "cf", "name": "Carrefour", "kind": "chain", "tier": "LKA"},
        {"code": "wm", "name": "Walmart China", "kind": "chain", "tier": "NKA"},
    ]
    assert detail.json() == {"code": "wm", "name": "Walmart China", "kind": "chain", "tier": "NKA"}
    assert_no_secret(detail.content.decode())
    # `owner` is not theirs to read, so it does not filter for them either.
    assert [a["code"] for a in client.get("/api/v1/accounts/?owner=ka2").json()["results"]] == ["cf", "wm"]


def test_the_ka_manager_and_analysts_read_the_full_account_and_another_ka_manager_nothing(world):
    mine = client_for(world.ka1).get("/api/v1/accounts/wm/").json()
    every = client_for(world.analyst).get("/api/v1/accounts/").json()["results"]

    assert list(mine) != SUMMARY_FIELDS
    assert (mine["owner"], mine["description"]) == ("ka1", PROFILE)
    assert [(a["code"], a["owner"]) for a in every] == [("cf", "ka2"), ("wm", "ka1")]
    assert [a["code"] for a in client_for(world.ka2).get("/api/v1/accounts/").json()["results"]] == ["cf"]
    assert client_for(world.ka2).get("/api/v1/accounts/wm/").status_code == 404


@pytest.mark.parametrize("resource", ["decision-makers", "events", "competitors"])
def test_the_dossier_resources_are_read_by_the_owner_and_analysts_only(world, resource):
    base, pk = f"/api/v1/accounts/wm/{resource}/", world.ids[resource]

    for name in ("rep1", "sup1"):
        client = client_for(getattr(world, name))
        assert (client.get(base).status_code, client.get(f"{base}{pk}/").status_code) == (403, 403), name
    other = client_for(world.ka2)
    assert (other.get(base).status_code, other.get(f"{base}{pk}/").status_code) == (404, 404)
    for name in ("ka1", "analyst"):
        response = client_for(getattr(world, name)).get(base)
        assert [row["id"] for row in response.json()["results"]] == [pk], name


def test_only_the_owner_and_analysts_read_the_decision_makers_contact_details(world):
    row = client_for(world.ka1).get("/api/v1/accounts/wm/decision-makers/").json()["results"][0]

    assert (row["phone"], row["email"], row["birthday"], row["interests"]) == (PHONE, EMAIL, "1970-05-17", INTERESTS)
    for name in ("rep1", "sup1"):
        response = client_for(getattr(world, name)).get("/api/v1/accounts/wm/decision-makers/")
        assert_no_secret(response.content.decode())


def test_account_plans_are_read_by_the_owner_and_analysts_only_even_by_an_action_owner(world):
    plan = f"/api/v1/account-plans/{world.plan.pk}/"

    for name in ("rep1", "sup1"):  # rep1 owns one of its actions, and still reads no plan
        client = client_for(getattr(world, name))
        assert (client.get("/api/v1/account-plans/").status_code, client.get(plan).status_code) == (403, 403), name
        assert client.get(f"{plan}forecast-vs-actual/").status_code == 403
    assert client_for(world.ka2).get("/api/v1/account-plans/").json()["count"] == 0
    assert client_for(world.ka2).get(plan).status_code == 404
    for name in ("ka1", "analyst"):
        body = client_for(getattr(world, name)).get("/api/v1/account-plans/").json()
        assert [p["summary"] for p in body["results"]] == [PLAN], name


def test_account_wide_scores_are_for_readers_of_the_dossier_and_store_scores_for_the_stores_in_scope(world):
    for name in ("rep1", "sup1"):
        client = client_for(getattr(world, name))
        assert client.get("/api/v1/scores/accounts/").status_code == 403
        assert client.get("/api/v1/scores/accounts/wm/").status_code == 403

    mine = client_for(world.ka1).get("/api/v1/scores/accounts/").json()["results"]
    every = client_for(world.analyst).get("/api/v1/scores/accounts/").json()["results"]
    assert [(s["account"], s["potential"]) for s in mine] == [("wm", ACCOUNT_POTENTIAL)]
    assert [s["account"] for s in every] == ["cf", "wm"]
    assert client_for(world.ka2).get("/api/v1/scores/accounts/wm/").status_code == 404

    def stores(user):
        return [(s["store"], s["potential"]) for s in client_for(user).get("/api/v1/scores/stores/?account=wm").json()["results"]]

    assert stores(world.rep1) == [("n1", 1111.0)]
    assert stores(world.sup1) == [("n1", 1111.0), ("n2", 2222.0)]
    assert stores(world.ka1) == [("n1", 1111.0), ("n2", 2222.0), ("p1", 3333.0)]


def test_reps_and_supervisors_write_nothing_of_an_account_a_403(world):
    for name in ("rep1", "sup1"):
        client = client_for(getattr(world, name))
        pk = world.ids["decision-makers"]
        assert client.patch("/api/v1/accounts/wm/", {"name": "x"}, format="json").status_code == 403
        assert client.patch(f"/api/v1/accounts/wm/decision-makers/{pk}/", {"name": "x"}, format="json").status_code == 403
        assert client.post("/api/v1/accounts/wm/events/", {"date": "2026-01-01", "kind": "call", "summary": "x"},
                           format="json").status_code == 403
    assert world.wm.decision_makers.get().name == "Li Ming"


# -- the pages -------------------------------------------------------------------------------------


@pytest.fixture
def page(client):
    def get(user, name, *args, **params):
        client.force_login(user)
        return client.get(reverse(name, args=args), params)

    return get


@pytest.mark.parametrize("name, stores, hidden", [("rep1", ["n1"], ["n2", "p1"]), ("sup1", ["n2", "n1"], ["p1"])])
def test_reps_and_supervisors_get_the_summary_page_with_their_own_stores_only(world, page, name, stores, hidden):
    response = page(getattr(world, name), "account-dossier", "wm")
    html = response.content.decode()

    assert response.status_code == 200
    assert response.templates[0].name == "accounts/account_summary.html"
    assert [s.code for s in response.context["stores"]] == stores
    assert "Walmart China" in html and "NKA" in html
    assert [code for code in hidden if f"{code}/" in html] == []  # no link to a store outside their scope
    assert_no_secret(html)
    assert "3,333" not in html  # p1's potential, in Paris


def test_the_ka_manager_and_analysts_get_the_whole_dossier_and_another_ka_manager_a_404(world, page):
    for name in ("ka1", "analyst"):
        html = page(getattr(world, name), "account-dossier", "wm").content.decode()
        assert [secret for secret in [PHONE, EMAIL, INTERESTS, EVENT, STRENGTHS, PLAN, PROFILE, "987,654"]
                if secret not in html] == [], name
    assert page(world.ka2, "account-dossier", "wm").status_code == 404


def test_the_account_list_shows_reps_and_supervisors_no_account_wide_figure_or_owner(world, page):
    for name in ("rep1", "sup1"):
        response = page(getattr(world, name), "account-list")
        html = response.content.decode()
        assert [(a.code, a.store_count) for a in response.context["page"]] == (
            [("cf", 1), ("wm", 1)] if name == "rep1" else [("cf", 1), ("wm", 2)])
        assert_no_secret(html)
        assert "ka1" not in html and "ka2" not in html
    mine = page(world.ka1, "account-list")
    assert [(a.code, a.potential, a.owner.username) for a in mine.context["page"]] == [("wm", ACCOUNT_POTENTIAL, "ka1")]
    assert "987,654" in mine.content.decode()


def test_the_plan_page_and_the_account_matrix_answer_reps_and_supervisors_403_as_the_api_does(world, page):
    for name in ("rep1", "sup1"):
        user = getattr(world, name)
        assert page(user, "account-plan", "wm", 2026).status_code == 403
        assert page(user, "account-matrix").status_code == 403
        assert f'href="{reverse("account-matrix")}' not in page(user, "score-matrix").content.decode()
    assert page(world.ka2, "account-plan", "wm", 2026).status_code == 404
    assert page(world.ka1, "account-plan", "wm", 2026).status_code == 200
    assert [p["code"] for p in page(world.ka1, "account-matrix").context["chart"]["points"]] == ["wm"]
    assert f'href="{reverse("account-matrix")}' in page(world.ka1, "score-matrix").content.decode()


def test_the_comparison_page_counts_accounts_only_for_readers_of_dossiers(world, page):
    rep = page(world.rep1, "score-comparison")
    analyst = page(world.analyst, "score-comparison")

    assert rep.context["accounts"] is None
    assert "Accounts: traditional KA" not in rep.content.decode()
    assert (rep.context["stores"]["total"], analyst.context["stores"]["total"]) == (2, 4)
    assert analyst.context["accounts"]["total"] == 2


def test_the_store_page_names_the_account_and_shows_nothing_of_its_dossier(world, page):
    html = page(world.rep1, "store-detail", "n1").content.decode()

    assert "Walmart China (wm)" in html
    assert_no_secret(html)


def test_a_supervisor_gets_the_list_and_a_summary_in_the_same_queries_for_2_and_20_accounts_and_stores(world, client):
    north = world.wm.stores.get(code="n1").region
    client.force_login(world.sup1)
    counts = []
    for n in (2, 20):
        for i in range(n if not counts else n - 2):
            account = KeyAccountFactory(code=f"more-{n}-{i}")
            StoreFactory(code=f"more-{n}-{i}", account=account, region=north)
            StoreFactory(code=f"wm-more-{n}-{i}", account=world.wm, region=north)
        with CaptureQueriesContext(connection) as listing:
            assert len(client.get(reverse("account-list")).context["page"]) == n + 2
        with CaptureQueriesContext(connection) as summary:
            assert client.get(reverse("account-dossier", args=["wm"])).context["store_total"] == n + 2
        counts.append((len(listing), len(summary)))
    assert counts[0] == counts[1]
