"""The account plan page, its forecast-vs-actual endpoint and the compliance page at two data sizes (issue 10):
an account with 3 stores against 30, each with a year of visits; 2 reps against 12 with plans and visits."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from planning.models import AccountPlan, VisitPlan
from tests.conftest import client_for
from tests.factories import KAManagerFactory, KeyAccountFactory, RepFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db
YEAR = 2026


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def plan(ka1):
    plan = AccountPlan.objects.create(account=KeyAccountFactory(code="chain", owner=ka1), year=YEAR)
    plan.forecast.create(month=1, own_units=100)
    return plan


def add_stores_with_visits(account, region, n):
    for _ in range(n):
        store = StoreFactory(account=account, region=region)
        for month in range(1, 13):
            StoreVisitFactory(store=store, date=dt.date(YEAR, month, 3), own_sales=month)
            StoreVisitFactory(store=store, date=dt.date(YEAR, month, 17), own_sales=month + 2)


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response


@pytest.mark.parametrize("who", ["ka1", "analyst"])
def test_the_plan_page_and_forecast_vs_actual_cost_the_same_queries_for_3_and_30_stores(
    client, ka1, analyst, plan, region, who
):
    user = {"ka1": ka1, "analyst": analyst}[who]
    client.force_login(user)
    api = client_for(user)
    page = reverse("account-plan", args=["chain", YEAR])
    endpoint = f"/api/v1/account-plans/{plan.pk}/forecast-vs-actual/"

    add_stores_with_visits(plan.account, region, 3)
    small = [queries(client, page)[0], queries(api, endpoint)[0]]
    add_stores_with_visits(plan.account, region, 27)
    large_page, _page = queries(client, page)
    large_api, answer = queries(api, endpoint)

    assert small == [large_page, large_api]
    days = 31  # January: 30 stores x (mean of 1 and 3 units a valid day) x 31 days
    assert answer.json()[0] == {"month": f"{YEAR}-01-01", "forecast": 100.0, "actual": 30 * 2.0 * days,
                                "gap": 30 * 2.0 * days - 100.0}


def test_compliance_costs_the_same_queries_for_2_and_12_reps_with_their_stores_visited(client, analyst, region):
    client.force_login(analyst)
    today = timezone.localdate()

    def add_reps(n, start):
        for i in range(start, start + n):
            rep = RepFactory(username=f"rep{i:02d}", region=region)
            for _ in range(3):
                store = StoreFactory(region=region, rep=rep)
                VisitPlan.objects.create(store=store, rep=rep, weekdays=[0, 1, 2, 3, 4], zone="attack")
                for back in range(0, 21, 3):
                    StoreVisitFactory(store=store, date=today - dt.timedelta(days=back))

    add_reps(2, 0)
    small, _response = queries(client, reverse("compliance"))
    add_reps(10, 2)
    large, response = queries(client, reverse("compliance"))

    assert small == large
    assert [rep.username for rep, _cells in response.context["page"].object_list] == [f"rep{i:02d}" for i in range(12)]


def test_compliance_pages_the_reps_in_username_order_with_their_own_figures(client, analyst, region, monkeypatch):
    from planning import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    client.force_login(analyst)
    today = timezone.localdate()
    for i, stores in enumerate([1, 2, 3, 1, 2]):
        rep = RepFactory(username=f"rep{i:02d}", region=region)
        for _ in range(stores):
            VisitPlan.objects.create(store=StoreFactory(region=region, rep=rep), rep=rep, weekdays=list(range(7)), zone="attack")
            StoreVisitFactory(store=rep.stores.last(), date=today)
    stale = RepFactory(username="rep99", region=region)  # a plan whose store went to another rep: not current
    VisitPlan.objects.create(store=StoreFactory(region=region, rep=RepFactory(username="rep98")), rep=stale, weekdays=[])

    small, first = queries(client, reverse("compliance"))
    large, second = queries(client, reverse("compliance") + "?page=2")
    _third_count, third = queries(client, reverse("compliance") + "?page=3")

    assert small == large
    assert [rep.username for rep, _cells in second.context["page"].object_list] == ["rep02", "rep03"]
    assert [rep.username for rep, _cells in third.context["page"].object_list] == ["rep04"]
    assert second.context["page"].paginator.count == 5
    logged = {rep.username: cells[-1]["logged"] for rep, cells in second.context["page"].object_list}
    assert logged == {"rep02": 3, "rep03": 1}


def test_coverage_costs_a_supervisor_the_same_queries_at_two_sizes_and_shows_only_their_regions(client, supervisor, region):
    from org.models import Team
    from tests.factories import RegionFactory
    from tests.planning.helpers import score

    client.force_login(supervisor)
    farmers = Team.objects.create(name="North farmers", kind="farmers", region=region)
    south = RegionFactory(code="south")
    south_farmers = Team.objects.create(name="South farmers", kind="farmers", region=south)

    def add(n, start):
        for i in range(start, start + n):
            score(StoreFactory(code=f"n{i:02d}", region=region, rep=RepFactory(region=region, team=farmers)),
                  zone="attack", potential=1000.0 * (i + 1))
            score(StoreFactory(code=f"s{i:02d}", region=south, rep=RepFactory(region=south, team=south_farmers)),
                  zone="attack", potential=1000.0 * (i + 1))

    add(2, 0)
    small, _response = queries(client, reverse("coverage"))
    add(10, 2)
    large, response = queries(client, reverse("coverage"))

    assert small == large
    assert response.context["page"].paginator.count == 12
    assert [row["store"].code for row in response.context["page"].object_list] == [f"n{i:02d}" for i in range(11, -1, -1)]
