"""The dossier and the account list at two data sizes (issue 10): an account with 3 stores against 30, each with
a year of visits, a corrected visit (an audit row the dossier lists) and a score."""
import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from planning.models import AccountPlan
from stores import services as store_services
from tests.factories import KAManagerFactory, KeyAccountFactory, StoreFactory, StoreVisitFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db
YEAR = 2026


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def account(ka1):
    account = KeyAccountFactory(code="chain", owner=ka1)
    AccountPlan.objects.create(account=account, year=YEAR).forecast.create(month=1, own_units=100)
    return account


def add_stores(account, region, n):
    for _ in range(n):
        store = StoreFactory(account=account, region=region)
        score(store, zone="attack", own_annual=600.0)
        visits = [StoreVisitFactory(store=store, date=dt.date(YEAR, month, 3)) for month in range(1, 13)]
        store_services.correct_visit(visit=visits[0], own_sales=25)


def count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response


@pytest.mark.parametrize("who", ["ka1", "analyst"])
def test_the_dossier_costs_no_more_queries_for_30_stores_with_visits_and_corrections_than_for_3(
    client, ka1, analyst, account, region, who
):
    client.force_login({"ka1": ka1, "analyst": analyst}[who])
    url = reverse("account-dossier", args=["chain"])

    add_stores(account, region, 3)
    small, _response = count(client, url)
    add_stores(account, region, 27)
    large, response = count(client, url)

    assert large <= small  # 3 stores: the 20 rows are filled up with stores without a potential, one query more
    assert response.context["store_total"] == 30
    assert len(response.context["corrections"]) == 8  # CORRECTION_ROWS of the 30


def test_the_account_list_costs_the_same_queries_for_3_and_30_stores(client, analyst, account, region):
    client.force_login(analyst)
    add_stores(account, region, 3)
    small, _response = count(client, reverse("account-list"))
    add_stores(account, region, 27)
    large, response = count(client, reverse("account-list"))

    assert small == large
    assert [a.store_count for a in response.context["page"]] == [30]
