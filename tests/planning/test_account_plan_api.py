import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning.models import AccountPlan
from tests.conftest import client_for
from tests.factories import AnalystFactory, KAManagerFactory, KeyAccountFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def account(ka1):
    return KeyAccountFactory(code="carrefour", name="Carrefour", owner=ka1)


PLAN = {
    "account": "carrefour", "year": 2026, "summary": "Grow in hypermarkets",
    "objectives": [{"title": "Lift wallet share", "metric": "wallet_share", "target": 25, "due": "2026-12-31"}],
    "actions": [{"title": "End caps in 20 stores", "owner": "ka1", "due": "2026-06-30", "status": "open"}],
    "reviews": [{"quarter": 1, "date": "2026-03-20", "held": True, "summary": "Agreed Q2 promotions"}],
    "forecast": [{"month": 1, "own_units": 1000}, {"month": 2, "own_units": 1200}],
}


def test_a_ka_manager_creates_a_plan_with_everything_nested(ka1, account):
    response = client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["account"], body["year"], body["updated_by"]) == ("carrefour", 2026, "ka1")
    assert [o["title"] for o in body["objectives"]] == ["Lift wallet share"]
    assert [(a["owner"], a["status"]) for a in body["actions"]] == [("ka1", "open")]
    assert [r["quarter"] for r in body["reviews"]] == [1]
    assert body["forecast"] == [{"month": 1, "own_units": 1000.0}, {"month": 2, "own_units": 1200.0}]


def test_a_patch_replaces_only_the_lists_it_sends(ka1, account):
    plan_id = client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json").json()["id"]
    response = client_for(ka1).patch(f"/api/v1/account-plans/{plan_id}/", {"actions": []}, format="json")
    assert response.status_code == 200
    assert (response.json()["actions"], len(response.json()["objectives"])) == ([], 1)


def test_a_second_plan_for_the_same_year_is_a_400(ka1, account):
    client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json")
    response = client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json")
    assert (response.status_code, list(response.json())) == (400, ["year"])


@pytest.mark.parametrize("change, field", [
    ({"reviews": [{"quarter": 5, "date": "2026-03-01"}]}, "reviews"),
    ({"reviews": [{"quarter": 1, "date": "2026-03-01"}, {"quarter": 1, "date": "2026-03-02"}]}, "reviews"),
    ({"forecast": [{"month": 13, "own_units": 1}]}, "forecast"),
    ({"forecast": [{"month": 1, "own_units": -1}]}, "forecast"),
    ({"actions": [{"title": "x", "due": "2026-01-01", "status": "someday"}]}, "actions"),
    ({"objectives": [{"title": "x", "metric": "happiness", "target": 1, "due": "2026-01-01"}]}, "objectives"),
    ({"year": 1850}, "year"),
])
def test_bad_plans_are_400s(ka1, account, change, field):
    response = client_for(ka1).post("/api/v1/account-plans/", {**PLAN, **change}, format="json")
    assert (response.status_code, list(response.json())) == (400, [field])
    assert AccountPlan.objects.count() == 0


def test_a_ka_manager_cannot_plan_someone_elses_account(account):
    other = KAManagerFactory(username="ka2")
    response = client_for(other).post("/api/v1/account-plans/", PLAN, format="json")
    assert (response.status_code, list(response.json())) == (400, ["account"])


def test_plans_are_read_by_whoever_reads_the_dossier_and_written_only_by_its_owner(ka1, account, rep, supervisor, region):
    plan_id = client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json").json()["id"]
    KeyAccountFactory(code="other")
    StoreFactory(account=account, region=region, rep=rep)
    client_for(ka1).post("/api/v1/account-plans/", {**PLAN, "account": "other"}, format="json")  # not ka1's: 400
    other_plan = AccountPlan.objects.create(account=KeyAccountFactory(code="third"), year=2026)

    assert [p["account"] for p in client_for(ka1).get("/api/v1/account-plans/").json()["results"]] == ["carrefour"]
    assert [p["account"] for p in client_for(AnalystFactory()).get("/api/v1/account-plans/").json()["results"]] == [
        "carrefour", "third"]
    # Reps and supervisors of the account's stores read no plan, as the plan page answers them (SPEC §7).
    assert client_for(rep).get("/api/v1/account-plans/").status_code == 403
    assert client_for(rep).get(f"/api/v1/account-plans/{plan_id}/").status_code == 403
    assert client_for(supervisor).get(f"/api/v1/account-plans/{plan_id}/forecast-vs-actual/").status_code == 403
    assert client_for(supervisor).patch(f"/api/v1/account-plans/{plan_id}/", {"summary": "x"},
                                        format="json").status_code == 403
    assert client_for(ka1).get(f"/api/v1/account-plans/{other_plan.pk}/").status_code == 404


def test_forecast_vs_actual_scales_each_stores_month(ka1, account, region):
    store = StoreFactory(account=account, region=region)
    StoreVisitFactory(store=store, date=dt.date(2026, 1, 5), own_sales=10)
    StoreVisitFactory(store=store, date=dt.date(2026, 1, 6), own_sales=30)
    plan_id = client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json").json()["id"]

    rows = client_for(ka1).get(f"/api/v1/account-plans/{plan_id}/forecast-vs-actual/").json()

    assert len(rows) == 12
    assert rows[0] == {"month": "2026-01-01", "forecast": 1000.0, "actual": 620.0, "gap": -380.0}
    assert rows[1] == {"month": "2026-02-01", "forecast": 1200.0, "actual": None, "gap": None}


def test_the_plan_list_costs_the_same_queries_at_two_sizes(ka1, analyst):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(analyst).get("/api/v1/account-plans/").status_code == 200
        return len(ctx)

    KeyAccountFactory(code="carrefour", owner=ka1)
    client_for(ka1).post("/api/v1/account-plans/", PLAN, format="json")
    small = count()
    for n in range(4):
        KeyAccountFactory(code=f"acc-{n}", owner=ka1)
        client_for(ka1).post("/api/v1/account-plans/", {**PLAN, "account": f"acc-{n}"}, format="json")
    assert count() == small
