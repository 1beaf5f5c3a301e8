import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from planning import services
from planning.models import Target
from stores.models import Store
from tests.conftest import client_for
from tests.factories import RegionFactory, RepFactory, StoreFactory, StoreVisitFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db
NOVEMBER = dt.date(2026, 11, 1)


def _targets(*stores):
    for store in stores:
        score(store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=NOVEMBER)


def test_reps_see_only_their_stores_targets(rep, my_store, their_store):
    _targets(my_store, their_store)
    body = client_for(rep).get("/api/v1/targets/?month=2026-11").json()
    assert [row["store"] for row in body["results"]] == ["mine"]
    assert body["results"][0]["target_own"] == pytest.approx(130)
    assert body["results"][0]["month"] == "2026-11"


def test_supervisors_see_only_their_regions_targets(supervisor, my_store, their_store):
    elsewhere = StoreFactory(code="far", region=RegionFactory(code="south"))
    _targets(my_store, their_store, elsewhere)
    body = client_for(supervisor).get("/api/v1/targets/?month=2026-11").json()
    assert [row["store"] for row in body["results"]] == ["mine", "theirs"]
    far = Target.objects.get(store=elsewhere)
    assert client_for(supervisor).get(f"/api/v1/targets/{far.pk}/").status_code == 404
    assert client_for(supervisor).patch(f"/api/v1/targets/{far.pk}/", {"target_own": 1}, format="json").status_code == 404


def test_a_supervisor_edits_a_target_and_it_records_who(supervisor, my_store):
    _targets(my_store)
    target = Target.objects.get()
    response = client_for(supervisor).patch(f"/api/v1/targets/{target.pk}/", {"target_own": 200}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["target_own"], response.json()["edited_by"]) == (200, "sup1")
    target.refresh_from_db()
    assert (target.target_own, target.edited_by, target.edited_at is not None) == (200, supervisor, True)


def test_reps_may_not_edit_targets(rep, my_store):
    _targets(my_store)
    target = Target.objects.get()
    assert client_for(rep).patch(f"/api/v1/targets/{target.pk}/", {"target_own": 1}, format="json").status_code == 403


@pytest.mark.parametrize("payload", [{"target_own": -1}, {"target_own": "many"}])
def test_bad_target_values_are_400s(supervisor, my_store, payload):
    _targets(my_store)
    target = Target.objects.get()
    response = client_for(supervisor).patch(f"/api/v1/targets/{target.pk}/", payload, format="json")
    assert (response.status_code, list(response.json())) == (400, ["target_own"])


def test_a_bad_month_is_a_400(analyst):
    response = client_for(analyst).get("/api/v1/targets/?month=november")
    assert (response.status_code, list(response.json())) == (400, ["month"])


def test_summary_groups_by_rep_within_scope(rep, other_rep, my_store, their_store):
    _targets(my_store, their_store)
    StoreVisitFactory(store=my_store, date=dt.date(2026, 11, 2), own_sales=5)
    body = client_for(rep).get("/api/v1/targets/summary/?group=rep&month=2026-11").json()
    assert [(row["label"], row["stores"], row["covered"]) for row in body] == [("rep1", 1, 1)]
    assert body[0]["actual"] == pytest.approx(150)
    assert client_for(rep).get("/api/v1/targets/summary/?group=planet").status_code == 400


def test_the_target_list_costs_the_same_queries_at_two_sizes(analyst, region):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client_for(analyst).get("/api/v1/targets/?month=2026-11").status_code == 200
        return len(ctx)

    rep = RepFactory(region=region)
    for _ in range(2):
        StoreVisitFactory(store=StoreFactory(region=region, rep=rep), date=dt.date(2026, 11, 3))
    _targets(*Store.objects.all())
    small = count()
    for _ in range(6):
        store = StoreFactory(region=RegionFactory(), rep=RepFactory())
        score(store, zone="defend", potential=12000, wallet_share=0.4)
        StoreVisitFactory(store=store, date=dt.date(2026, 11, 3))
    services.generate_targets(month=NOVEMBER)
    assert count() == small


def test_the_summary_costs_the_same_queries_at_two_sizes_and_a_supervisor_sees_only_their_regions(supervisor, region):
    def summary():
        with CaptureQueriesContext(connection) as ctx:
            response = client_for(supervisor).get("/api/v1/targets/summary/?group=rep&month=2026-11")
        assert response.status_code == 200
        return len(ctx), response.json()

    def add(n, start):
        for i in range(start, start + n):
            mine = StoreFactory(region=region, rep=RepFactory(username=f"n{i:02d}", region=region))
            far = RegionFactory(code=f"south{i}")
            theirs = StoreFactory(region=far, rep=RepFactory(username=f"s{i:02d}", region=far))
            _targets(mine, theirs)
            StoreVisitFactory(store=mine, date=dt.date(2026, 11, 3), total_sales=100, own_sales=2)
            StoreVisitFactory(store=theirs, date=dt.date(2026, 11, 3), total_sales=100, own_sales=2)

    add(2, 0)
    small, _body = summary()
    add(8, 2)
    large, body = summary()

    assert small == large
    assert [row["label"] for row in body] == [f"n{i:02d}" for i in range(10)]
    assert {(row["stores"], row["covered"], row["actual"], row["attainment"]) for row in body} == {(1, 1, 2 * 30.0, 2 * 30 / 130)}
