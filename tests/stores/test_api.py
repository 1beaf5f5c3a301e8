import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token

from stores.models import StoreVisit
from tests.conftest import client_for
from tests.factories import KAManagerFactory, KeyAccountFactory, RegionFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def visit(store="mine", day=None, total=100, own=20, **extra):
    return {"store": store, "date": (day or TODAY()).isoformat(), "total_sales": total, "own_sales": own, **extra}


def count_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


# --- authentication -------------------------------------------------------------------------

def test_anonymous_calls_get_401(api):
    for url in ["/api/v1/stores/", "/api/v1/visits/", "/api/v1/regions/", "/api/v1/accounts/", "/api/v1/market-shares/"]:
        assert api.get(url).status_code == 401, url
    assert api.post("/api/v1/visits/bulk/", [], format="json").status_code == 401


def test_a_token_is_issued_for_a_username_and_password_and_authenticates(api, rep, my_store):
    response = api.post("/api/v1/auth/token/", {"username": "rep1", "password": "pw"}, format="json")
    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=rep).key
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert [s["code"] for s in api.get("/api/v1/stores/").json()["results"]] == ["mine"]


def test_a_wrong_password_gets_no_token(api, rep):
    response = api.post("/api/v1/auth/token/", {"username": "rep1", "password": "nope"}, format="json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


# --- scoping --------------------------------------------------------------------------------

def test_a_rep_lists_only_own_stores_and_visits(rep, my_store, their_store):
    StoreVisitFactory(store=my_store)
    StoreVisitFactory(store=their_store)
    client = client_for(rep)
    assert [s["code"] for s in client.get("/api/v1/stores/").json()["results"]] == ["mine"]
    assert [v["store"] for v in client.get("/api/v1/visits/").json()["results"]] == ["mine"]


def test_another_reps_store_and_visit_are_404(rep, their_store):
    theirs = StoreVisitFactory(store=their_store)
    client = client_for(rep)
    assert client.get("/api/v1/stores/theirs/").status_code == 404
    assert client.get(f"/api/v1/visits/{theirs.pk}/").status_code == 404
    assert client.patch(f"/api/v1/visits/{theirs.pk}/", {"own_sales": 1}, format="json").status_code == 404
    assert StoreVisit.objects.get(pk=theirs.pk).own_sales == 20


def test_a_supervisor_sees_own_regions_stores_only(supervisor, my_store, their_store):
    StoreFactory(code="elsewhere", region=RegionFactory(code="south"))
    codes = [s["code"] for s in client_for(supervisor).get("/api/v1/stores/").json()["results"]]
    assert codes == ["mine", "theirs"]


def test_a_ka_manager_sees_own_accounts_stores_and_cannot_log_visits(region):
    ka = KAManagerFactory(username="ka1")
    mine = StoreFactory(code="ka-store", region=region, account=KeyAccountFactory(owner=ka, code="wm"))
    StoreFactory(code="other-chain", region=region, account=KeyAccountFactory(code="cf"))
    client = client_for(ka)
    assert [s["code"] for s in client.get("/api/v1/stores/").json()["results"]] == [mine.code]
    assert [a["code"] for a in client.get("/api/v1/accounts/").json()["results"]] == ["wm"]
    assert client.post("/api/v1/visits/", visit("ka-store"), format="json").status_code == 403
    assert StoreVisit.objects.count() == 0


def test_an_analyst_sees_everything(analyst, my_store, their_store):
    codes = [s["code"] for s in client_for(analyst).get("/api/v1/stores/").json()["results"]]
    assert codes == ["mine", "theirs"]


# --- logging a visit ------------------------------------------------------------------------

def test_a_rep_logs_a_visit_credited_to_them(rep, my_store):
    response = client_for(rep).post("/api/v1/visits/", visit(display_ok=True, staff_ok=False), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["store"], body["total_sales"], body["own_sales"], body["rep"], body["suspect"]) == ("mine", 100, 20, "rep1", False)
    assert (body["display_ok"], body["promotion_ok"], body["staff_ok"]) == (True, None, False)
    assert StoreVisit.objects.get().rep == rep


@pytest.mark.parametrize(
    "payload, field",
    [
        (visit(total=10, own=11), "own_sales"),
        (visit(total=-5, own=0), "total_sales"),
        (visit(total=10, own=-1), "own_sales"),
        (visit(day=dt.date.today() + dt.timedelta(days=2)), "date"),
        (visit(store="nowhere"), "store"),
        (visit(total="many"), "total_sales"),
        (visit(own=1.5), "own_sales"),
        (visit(day=None, display_ok="perhaps"), "display_ok"),
        ({**visit(), "date": "23/11/2026"}, "date"),
        ({"store": "mine"}, "date"),
        (visit(total=10**12, own=0), "total_sales"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(rep, my_store, payload, field):
    response = client_for(rep).post("/api/v1/visits/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert StoreVisit.objects.count() == 0


def test_own_above_total_explains_itself(rep, my_store):
    response = client_for(rep).post("/api/v1/visits/", visit(total=10, own=11), format="json")
    assert response.json() == {"own_sales": ["Our sales (11) cannot exceed the total category sales (10)."]}


def test_another_reps_store_is_rejected_like_an_unknown_code(rep, their_store):
    response = client_for(rep).post("/api/v1/visits/", visit("theirs"), format="json")
    assert response.status_code == 400
    assert response.json()["store"] == ["Unknown store code “theirs”, or not a store you may log visits for."]
    assert StoreVisit.objects.count() == 0


def test_a_second_visit_for_the_same_store_and_day_is_a_400(rep, my_store):
    client = client_for(rep)
    assert client.post("/api/v1/visits/", visit(), format="json").status_code == 201
    response = client.post("/api/v1/visits/", visit(total=500, own=1), format="json")
    assert response.status_code == 400
    assert "date" in response.json()
    assert list(StoreVisit.objects.values_list("total_sales", flat=True)) == [100]


def test_malformed_json_is_a_400(rep, my_store):
    response = client_for(rep).post("/api/v1/visits/", '{"store": "mine",', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert StoreVisit.objects.count() == 0


def test_a_visit_is_corrected_with_patch(rep, my_store):
    client = client_for(rep)
    pk = client.post("/api/v1/visits/", visit(), format="json").json()["id"]
    response = client.patch(f"/api/v1/visits/{pk}/", {"own_sales": 30, "notes": "recount"}, format="json")
    assert response.status_code == 200
    assert StoreVisit.objects.values_list("total_sales", "own_sales", "notes").get() == (100, 30, "recount")


def test_a_correction_keeps_own_within_total(rep, my_store):
    client = client_for(rep)
    pk = client.post("/api/v1/visits/", visit(), format="json").json()["id"]
    response = client.patch(f"/api/v1/visits/{pk}/", {"own_sales": 101}, format="json")
    assert response.status_code == 400
    assert "own_sales" in response.json()
    assert StoreVisit.objects.get().own_sales == 20


def test_visits_filter_by_store_rep_region_and_dates(analyst, my_store, their_store):
    day = TODAY()
    StoreVisitFactory(store=my_store, date=day - dt.timedelta(days=3))
    StoreVisitFactory(store=my_store, date=day)
    StoreVisitFactory(store=their_store, date=day)
    StoreVisitFactory(store=StoreFactory(code="far", region=RegionFactory(code="south")), date=day)
    client = client_for(analyst)

    def stores(query):
        return [(v["store"], v["date"]) for v in client.get(f"/api/v1/visits/?{query}").json()["results"]]

    assert stores("store=mine") == [("mine", day.isoformat()), ("mine", (day - dt.timedelta(days=3)).isoformat())]
    assert stores("rep=rep2") == [("theirs", day.isoformat())]
    assert stores("region=south") == [("far", day.isoformat())]
    after = (day - dt.timedelta(days=1)).isoformat()
    assert [s for s, _ in stores(f"date_after={after}")] == ["mine", "theirs", "far"]  # a day in store order (id)
    assert stores(f"store=mine&date_before={after}") == [("mine", (day - dt.timedelta(days=3)).isoformat())]


def test_pagination_follows_the_contract(analyst, my_store):
    for n in range(5):
        StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=n))
    body = client_for(analyst).get("/api/v1/visits/?page_size=2&page=2").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 5 and len(body["results"]) == 2
    assert client_for(analyst).get("/api/v1/visits/?page_size=5000").json()["count"] == 5


# --- bulk -----------------------------------------------------------------------------------

def bulk(client, items):
    return client.post("/api/v1/visits/bulk/", items, format="json")


def test_bulk_creates_then_updates_and_a_resend_changes_nothing(rep, my_store):
    client = client_for(rep)
    items = [visit(day=TODAY() - dt.timedelta(days=n), total=100 + n, own=n) for n in range(10)]
    assert bulk(client, items).json() == {"created": 10, "updated": 0}
    before = list(StoreVisit.objects.order_by("date").values())
    response = bulk(client, items)
    assert (response.status_code, response.json()) == (200, {"created": 0, "updated": 0})
    assert list(StoreVisit.objects.order_by("date").values()) == before
    items[0]["own_sales"] = 50
    items.append(visit(day=TODAY() - dt.timedelta(days=30)))
    assert bulk(client, items).json() == {"created": 1, "updated": 1}
    assert StoreVisit.objects.get(date=TODAY()).own_sales == 50
    assert StoreVisit.objects.count() == 11


def test_a_bulk_batch_with_one_bad_item_stores_nothing_and_names_its_index(rep, my_store, their_store):
    StoreVisitFactory(store=my_store, date=TODAY() - dt.timedelta(days=20), total_sales=7, own_sales=7)
    items = [visit(day=TODAY() - dt.timedelta(days=n)) for n in range(4)]
    items[2]["own_sales"] = 999
    items.append(visit("theirs"))
    items.append(visit(day=TODAY() - dt.timedelta(days=20)))  # would update the stored row
    response = bulk(client_for(rep), items)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [e["index"] for e in errors] == [2, 4]
    assert list(errors[0]["errors"]) == ["own_sales"]
    assert list(errors[1]["errors"]) == ["store"]
    assert list(StoreVisit.objects.values_list("total_sales", flat=True)) == [7]


def test_bulk_rejects_the_same_store_and_day_twice_in_one_batch(rep, my_store):
    response = bulk(client_for(rep), [visit(), visit(total=5, own=1)])
    assert response.status_code == 400
    assert response.json()["errors"][0]["index"] == 1
    assert StoreVisit.objects.count() == 0


def test_bulk_rejects_more_than_5000_items(rep, my_store):
    items = [visit(day=TODAY() - dt.timedelta(days=n % 3000)) for n in range(5001)]
    response = bulk(client_for(rep), items)
    assert response.status_code == 400
    assert "5000" in response.json()["non_field_errors"][0]
    assert StoreVisit.objects.count() == 0


@pytest.mark.parametrize("body", [{"store": "mine"}, "[1, 2", [17]])
def test_bulk_rejects_what_is_not_a_list_of_visits(rep, my_store, body):
    client = client_for(rep)
    response = client.post("/api/v1/visits/bulk/", body if isinstance(body, str) else json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert StoreVisit.objects.count() == 0


def test_an_empty_bulk_batch_is_valid_and_changes_nothing(rep, my_store):
    response = bulk(client_for(rep), [])
    assert (response.status_code, response.json()) == (200, {"created": 0, "updated": 0})
    assert StoreVisit.objects.count() == 0


def test_bulk_rejects_future_dates_and_wrong_types(rep, my_store):
    items = [visit(day=TODAY() + dt.timedelta(days=1)), visit(day=TODAY() - dt.timedelta(days=1), total="x")]
    errors = bulk(client_for(rep), items).json()["errors"]
    assert [(e["index"], list(e["errors"])) for e in errors] == [(0, ["date"]), (1, ["total_sales"])]


def test_bulk_issues_the_same_number_of_queries_for_10_and_500_visits(rep, my_store):
    client = client_for(rep)
    stores = [my_store] + [StoreFactory(rep=rep, region=my_store.region) for _ in range(4)]

    def batch(n):
        return [visit(s.code, TODAY() - dt.timedelta(days=i // len(stores))) for i, s in zip(range(n), stores * n)]

    with CaptureQueriesContext(connection) as small:
        assert bulk(client, batch(10)).status_code == 200
    StoreVisit.objects.all().delete()
    with CaptureQueriesContext(connection) as large:
        assert bulk(client, batch(500)).status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)


# --- query counts ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url", ["/api/v1/stores/", "/api/v1/visits/", "/api/v1/regions/", "/api/v1/accounts/", "/api/v1/market-shares/"]
)
def test_list_endpoints_issue_the_same_number_of_queries_at_two_sizes(analyst, supervisor, url):
    from tests.factories import MarketShareFactory

    def grow(n):
        for _ in range(n):
            region = RegionFactory()
            region.supervisors.add(supervisor)
            store = StoreFactory(region=region, account=KeyAccountFactory())
            StoreVisitFactory(store=store)
            MarketShareFactory(region=region)

    client = client_for(analyst)
    grow(2)
    small = count_queries(client, url)
    grow(20)
    assert count_queries(client, url) == small



def test_a_rep_confirms_a_suspect_day_and_it_counts_from_then_on(rep, my_store, their_store):
    flagged = StoreVisitFactory(store=my_store, total_sales=1000, own_sales=10, suspect=True)
    client = client_for(rep)
    response = client.post(f"/api/v1/visits/{flagged.pk}/confirm-suspect/")
    assert response.status_code == 200
    assert (response.json()["suspect"], response.json()["suspect_confirmed"]) == (True, True)
    flagged.refresh_from_db()
    assert flagged.suspect_confirmed_by == rep
    assert list(StoreVisit.objects.valid().values_list("pk", flat=True)) == [flagged.pk]


def test_only_flagged_days_of_visible_stores_can_be_confirmed(rep, my_store, their_store):
    plain = StoreVisitFactory(store=my_store)
    theirs = StoreVisitFactory(store=their_store, suspect=True)
    client = client_for(rep)
    assert client.post(f"/api/v1/visits/{plain.pk}/confirm-suspect/").status_code == 400
    assert client.post(f"/api/v1/visits/{theirs.pk}/confirm-suspect/").status_code == 404
    assert not StoreVisit.objects.filter(suspect_confirmed=True).exists()


def test_a_ka_manager_cannot_confirm_suspects(my_store):
    flagged = StoreVisitFactory(store=my_store, suspect=True)
    ka = KAManagerFactory()
    my_store.account = KeyAccountFactory(owner=ka)
    my_store.save()
    assert client_for(ka).post(f"/api/v1/visits/{flagged.pk}/confirm-suspect/").status_code == 403
