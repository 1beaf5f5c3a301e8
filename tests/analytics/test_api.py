import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics import services
from analytics.models import AnalyticsRun, StoreScore
from tests.analytics.test_services import AS_OF, build_world
from tests.conftest import client_for
from tests.factories import KAManagerFactory, RepFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db

STORE_FIELDS = [
    "store", "as_of", "obs_days", "observed", "potential", "potential_source", "own_annual", "wallet_share",
    "market_share", "market_share_source", "key_potential", "zone", "abc", "xyz", "trad_ka", "missed_attack",
    "false_ka", "customer_status",
]


@pytest.fixture
def scored_world():
    stores = build_world(n_stores=8, days=120)
    services.recompute(as_of=AS_OF - dt.timedelta(days=1))
    services.recompute(as_of=AS_OF)
    return stores


def test_store_scores_have_the_contract_fields_of_the_latest_run(analyst, scored_world):
    body = client_for(analyst).get("/api/v1/scores/stores/").json()
    assert body["count"] == 8
    first = body["results"][0]
    assert list(first) == STORE_FIELDS
    row = StoreScore.objects.get(store__code="s00", as_of=AS_OF)
    assert (first["store"], first["as_of"], first["potential"], first["zone"]) == ("s00", AS_OF.isoformat(), row.potential, row.zone)


def test_as_of_selects_an_earlier_run_and_a_bad_date_is_a_400(analyst, scored_world):
    client = client_for(analyst)
    earlier = (AS_OF - dt.timedelta(days=1)).isoformat()
    assert {r["as_of"] for r in client.get(f"/api/v1/scores/stores/?as_of={earlier}").json()["results"]} == {earlier}
    assert client.get(f"/api/v1/scores/stores/s01/?as_of={earlier}").json()["as_of"] == earlier
    assert client.get("/api/v1/scores/stores/?as_of=yesterday").status_code == 400


def test_a_rep_reads_only_own_store_scores(scored_world):
    rep = RepFactory(username="rep9")
    store = scored_world[3]
    store.rep = rep
    store.save()
    client = client_for(rep)
    assert [r["store"] for r in client.get("/api/v1/scores/stores/").json()["results"]] == [store.code]
    assert client.get("/api/v1/scores/stores/s00/").status_code == 404
    # Account scores sum every store of the account, other reps' too: for readers of the dossier only.
    assert client.get("/api/v1/scores/accounts/").status_code == 403
    assert client.get("/api/v1/scores/accounts/wm/").status_code == 403


def test_store_scores_filter_by_zone_region_and_account(analyst, scored_world):
    client = client_for(analyst)
    for zone in ["attack", "defend", "maintenance"]:
        expected = sorted(StoreScore.objects.filter(as_of=AS_OF, zone=zone).values_list("store__code", flat=True))
        assert [r["store"] for r in client.get(f"/api/v1/scores/stores/?zone={zone}").json()["results"]] == expected
    assert [r["store"] for r in client.get("/api/v1/scores/stores/?region=n2").json()["results"]] == ["s01", "s03", "s05", "s07"]
    assert [r["store"] for r in client.get("/api/v1/scores/stores/?account=wm").json()["results"]] == ["s00", "s01", "s02", "s03"]


def test_account_scores_are_scoped_to_the_owner(scored_world):
    from accounts.models import KeyAccount

    owner = KeyAccount.objects.get(code="wm").owner
    body = client_for(owner).get("/api/v1/scores/accounts/wm/").json()
    assert (body["account"], body["as_of"], body["tier"], body["coverage"]) == ("wm", AS_OF.isoformat(), "NKA", 1.0)
    assert client_for(KAManagerFactory()).get("/api/v1/scores/accounts/wm/").status_code == 404


def test_the_potential_model_endpoint_reports_the_latest_fit(analyst, scored_world):
    body = client_for(analyst).get("/api/v1/potential-model/").json()
    assert set(body) >= {"as_of", "n", "r2", "r2_adj", "rmse", "press_r2", "usable", "coefficients"}
    assert body["as_of"] == AS_OF.isoformat() and body["n"] == 8 and body["usable"] is False
    assert body["reason"]  # 8 stores cannot fit 7 predictors; the reason says so


def test_the_potential_model_is_404_before_any_run(analyst):
    assert client_for(analyst).get("/api/v1/potential-model/").status_code == 404


def test_an_analyst_queues_a_run_and_a_rep_may_not(analyst, rep, django_capture_on_commit_callbacks):
    build_world(n_stores=3, days=30)
    assert client_for(rep).post("/api/v1/analytics/runs/", {}, format="json").status_code == 403
    assert client_for(rep).get("/api/v1/analytics/runs/").status_code == 403
    client = client_for(analyst)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/analytics/runs/", {"as_of": AS_OF.isoformat()}, format="json")
    assert response.status_code == 201
    assert response.json()["as_of"] == AS_OF.isoformat()
    run = AnalyticsRun.objects.get()
    assert (run.status, run.requested_by) == ("succeeded", analyst)  # tasks run in-process in tests
    assert StoreScore.objects.filter(as_of=AS_OF).count() == 3
    listed = client.get("/api/v1/analytics/runs/").json()["results"]
    assert [(r["id"], r["status"], r["counts"]["stores"]) for r in listed] == [(run.pk, "succeeded", 3)]


def test_a_run_for_a_future_day_is_refused(analyst):
    response = client_for(analyst).post("/api/v1/analytics/runs/", {"as_of": "2099-01-01"}, format="json")
    assert response.status_code == 400 and "as_of" in response.json()
    assert AnalyticsRun.objects.count() == 0


@pytest.mark.parametrize("url", ["/api/v1/scores/stores/", "/api/v1/scores/accounts/", "/api/v1/analytics/runs/"])
def test_score_lists_issue_the_same_number_of_queries_at_two_sizes(analyst, url):
    from tests.factories import KeyAccountFactory

    def grow(n):
        for _ in range(n):
            store = StoreFactory(account=KeyAccountFactory())
            StoreVisitFactory(store=store, date=AS_OF)
        services.recompute(as_of=AS_OF)

    client = client_for(analyst)
    grow(2)
    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    grow(20)
    with CaptureQueriesContext(connection) as large:
        assert client.get(url).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
