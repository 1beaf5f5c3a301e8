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
