import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from accounts.models import KeyAccount
from org.models import Region, Role, User
from stores.models import MarketShare, Store, StoreVisit

pytestmark = pytest.mark.django_db

SMALL = ["--stores", "40", "--days", "60", "--seed", "7", "--skip-recompute"]


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True  # pytest-django turns it off; the command refuses without it


def seed(*args):
    out = StringIO()
    call_command("seed_demo", *SMALL, *args, stdout=out)
    return out.getvalue()


def visit_sums():
    return StoreVisit.objects.aggregate(n=Count("id"), total=Sum("total_sales"), own=Sum("own_sales"))


def test_it_creates_the_named_logins_with_their_roles():
    seed()

    users = {u.username: u for u in User.objects.select_related("region")}
    assert users["admin"].is_superuser and users["admin"].is_staff and users["admin"].role == Role.ANALYST
    assert users["analyst"].role == Role.ANALYST and not users["analyst"].is_staff
    assert users["ka1"].role == Role.KA_MANAGER
    assert users["sup1"].role == Role.SUPERVISOR
    assert users["rep1"].role == users["rep2"].role == Role.SALES_MANAGER
    assert all(users[name].check_password("demo") for name in ["admin", "analyst", "ka1", "sup1", "rep1", "rep2"])


def test_rep1_and_rep2_work_in_the_region_sup1_heads():
    seed()

    rep1, rep2, sup1 = (User.objects.get(username=n) for n in ["rep1", "rep2", "sup1"])
    assert rep1.region == rep2.region
    assert list(sup1.supervised_regions.all()) == [rep1.region]
    assert set(Store.objects.filter(rep__in=[rep1, rep2]).values_list("region", flat=True)) == {rep1.region_id}


def test_ka1_owns_a_chain_of_each_tier():
    seed()

    chains = KeyAccount.objects.filter(owner__username="ka1", kind=KeyAccount.Kind.CHAIN)
    assert sorted(chains.values_list("tier", flat=True)) == ["GKA", "LKA", "NKA"]
    gka = chains.get(tier="GKA")
    assert Store.objects.filter(account=gka).values("region__country").distinct().count() >= 2


def test_every_visit_is_plausible():
    seed()

    today = timezone.localdate()
    assert not StoreVisit.objects.filter(Q(own_sales__lt=0) | Q(own_sales__gt=F("total_sales"))).exists()
    assert not StoreVisit.objects.filter(date__gt=today).exists()
    closed = 0
    for store in Store.objects.exclude(closed_weekdays=[]):
        days = store.visits.values_list("date", flat=True)
        closed += 1
        assert [d for d in days if d.weekday() in store.closed_weekdays] == []
    assert closed >= 1


def test_the_world_has_every_format_stores_missing_a_driver_and_independents():
    seed()

    assert set(Store.objects.values_list("format", flat=True)) == {"hypermarket", "large", "medium", "small"}
    missing = Q(floor_area_m2=None) | Q(checkouts=None) | Q(shelves=None) | Q(open_24h=None)
    assert Store.objects.filter(missing).exists()
    assert Store.objects.filter(account=None).exists()
    assert set(Region.objects.values_list("country", flat=True)) == {"CN", "ES", "MX"}


def test_reps_visit_less_often_at_weekends():
    seed()

    today = timezone.localdate()
    days = [today - dt.timedelta(days=i) for i in range(60)]
    weekend_days = sum(d.weekday() >= 5 for d in days)
    visits = StoreVisit.objects.values_list("date", flat=True)
    weekend = sum(d.weekday() >= 5 for d in visits)
    weekday = len(visits) - weekend
    assert weekend / weekend_days < 0.5 * weekday / (len(days) - weekend_days)


def test_rep1s_stores_were_visited_today_or_yesterday():
    seed()

    today = timezone.localdate()
    stores = Store.objects.filter(rep__username="rep1", active=True)
    recent = stores.filter(visits__date__gte=today - dt.timedelta(days=1)).distinct()
    assert stores.count() >= 2
    assert recent.count() == stores.count()


def test_it_plants_extra_zero_typos_for_the_suspect_screen():
    seed()

    typos = []
    for store in Store.objects.all():
        totals = sorted(store.visits.values_list("total_sales", flat=True))
        if len(totals) >= 10:
            median = totals[len(totals) // 2]
            typos += [t for t in totals if t >= 5 * median > 0]
    assert 1 <= len(typos) <= 2


def test_market_shares_cover_each_country_today_and_one_region_overrides():
    seed()

    today = timezone.localdate()
    current = MarketShare.objects.valid_on(today)
    assert sorted(current.filter(region=None).values_list("country", flat=True)) == ["CN", "ES", "MX"]
    assert list(current.exclude(region=None).values_list("region__code", flat=True)) == ["cn-east"]


def test_it_refuses_with_debug_off(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        seed()

    assert User.objects.count() == 0


def test_it_runs_with_debug_off_when_forced(settings):
    settings.DEBUG = False

    seed("--force")

    assert User.objects.filter(username="rep1").exists()


def test_a_second_run_refuses_and_changes_nothing():
    seed()
    before = (visit_sums(), Store.objects.count(), User.objects.count())

    with pytest.raises(CommandError, match="already present.*--reset"):
        seed("--seed", "8")

    assert (visit_sums(), Store.objects.count(), User.objects.count()) == before


def test_the_same_seed_rebuilds_the_same_world():
    seed()
    first = visit_sums()

    seed("--reset", "--seed", "8")
    other = visit_sums()
    seed("--reset")

    assert visit_sums() == first
    assert other != first
    assert User.objects.filter(username="rep1").count() == 1


def test_it_prints_the_demo_logins():
    out = seed()

    table = out[out.index("Demo logins"):]
    for name in ["admin", "analyst", "ka1", "sup1", "rep1", "rep2"]:
        assert f"\n  {name} " in table
    assert 'password "demo"' in table


def test_it_ends_with_one_recompute():
    from analytics.models import AnalyticsRun, StoreScore

    out = StringIO()

    call_command("seed_demo", "--stores", "40", "--days", "60", stdout=out)

    assert "Recompute: running `manage.py recompute`" in out.getvalue()
    assert list(AnalyticsRun.objects.values_list("status", flat=True)) == ["succeeded"]
    assert StoreScore.objects.count() == Store.objects.filter(active=True).count()


def test_the_seeded_tiers_are_the_ones_the_recompute_computes():
    seed()
    seeded = dict(KeyAccount.objects.values_list("code", "tier"))

    call_command("recompute", stdout=StringIO())

    assert dict(KeyAccount.objects.values_list("code", "tier")) == seeded
    assert seeded == {
        "valmore": "GKA", "carrefino": "GKA", "sunbright": "NKA", "mercadia": "NKA", "huadong-mart": "LKA",
        "tiendas-norte": "",  # its one store of this small world is closed: no active footprint
        "east-rail": "", "campus-madrid": "",  # institutions have no tier
    }


def test_if_empty_seeds_an_empty_database_and_leaves_a_used_one_alone():
    out = StringIO()
    call_command("seed_demo", "--stores", "40", "--days", "60", "--if-empty", "--skip-recompute", stdout=out)
    visits = StoreVisit.objects.count()
    assert visits > 0

    again = StringIO()
    call_command("seed_demo", "--if-empty", stdout=again)

    assert again.getvalue().strip() == "The database already holds data; demo not seeded."
    assert StoreVisit.objects.count() == visits
