"""Input no field can store is a 400 at the request level, never a 500 (SPEC §7), and stores nothing."""
import datetime as dt

import pytest

from planning import services
from planning.models import Target, VisitPlan
from stores.models import StoreVisit
from tests.conftest import client_for
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db
VISIT = {"date": "2026-11-02", "total_sales": 100, "own_sales": 10}
DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("url", [
    "/api/v1/stores/a%00b/",
    "/api/v1/visits/?store=a%00b",
    "/api/v1/regions/?country=%00",
])
def test_a_nul_byte_in_an_api_path_or_filter_is_a_400(analyst, url):
    response = client_for(analyst).get(url)

    assert response.status_code == 400
    assert response.json() == {"detail": "The request contains a NUL character, which no field accepts."}


@pytest.mark.parametrize("url", ["/accounts/?q=%00", "/planning/visit-plans/?rep=%00", "/stores/a%00b/"])
def test_a_nul_byte_in_a_page_address_is_a_400(client, analyst, url):
    client.force_login(analyst)

    assert client.get(url).status_code == 400


@pytest.mark.parametrize(("url", "body"), [
    ("/api/v1/visits/", {**VISIT, "store": "mi\u0000ne"}),
    ("/api/v1/visits/", {**VISIT, "store": "mine", "notes": "a\u0000b"}),
    ("/api/v1/visits/bulk/", [{**VISIT, "store": "mine", "notes": "\u0000"}]),
    ("/api/v1/stores/", {"code": "new", "name": "New", "region": "no\u0000rth"}),
])
def test_a_nul_byte_anywhere_in_a_json_body_is_a_400_and_nothing_is_stored(rep, my_store, analyst, url, body):
    user = analyst if "stores" in url else rep

    response = client_for(user).post(url, body, format="json")

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert StoreVisit.objects.count() == 0


def test_a_nul_byte_in_a_page_form_is_a_400_and_nothing_is_stored(client, rep, my_store):
    client.force_login(rep)

    response = client.post(f"/stores/{my_store.code}/", {**VISIT, "notes": "a\x00b"})

    assert response.status_code == 400
    assert StoreVisit.objects.count() == 0


@pytest.mark.parametrize(("body", "content_type", "nul"), [
    ('[{"store": "mine", "notes": "café \\u0000"}]'.encode(), "application/json", True),  # in UTF-8 text
    ('[{"store": "mine", "no\\u0000tes": "x"}]'.encode(), "application/json", True),  # in a key
    ('[{"store": "mine", "notes": "\\u0000"}]'.encode("utf-16"), "application/json; charset=utf-16", True),
    ('[{"store": "mine", "notes": "\\\\u0000"}]'.encode(), "application/json", False),  # a backslash, then "u0000"
])
def test_a_nul_in_a_bulk_body_is_found_in_any_encoding_and_key(rep, my_store, body, content_type, nul):
    response = client_for(rep).generic("POST", "/api/v1/visits/bulk/", body, content_type=content_type)

    assert response.status_code == 400
    assert ("NUL" in str(response.json())) is nul  # otherwise an ordinary field error: the date is missing
    assert StoreVisit.objects.count() == 0


@pytest.mark.parametrize("url", ["/api/v1/visits/", "/api/v1/visits/bulk/"])
def test_deeply_nested_json_is_a_400(rep, url):
    response = client_for(rep).generic("POST", url, DEEP, content_type="application/json")

    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


def test_json_nested_a_little_is_still_an_ordinary_field_error(rep, my_store):
    response = client_for(rep).post("/api/v1/visits/", {**VISIT, "store": "mine", "notes": [[["x"]]]}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["notes"]


def test_an_empty_patch_of_a_target_changes_nothing(supervisor, my_store):
    score(my_store, zone="attack", potential=12000, wallet_share=0.10)
    services.generate_targets(month=dt.date(2026, 11, 1))
    target = Target.objects.get()

    response = client_for(supervisor).patch(f"/api/v1/targets/{target.pk}/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["target_own"] == target.target_own
    assert Target.objects.get().edited_at is None


def test_an_empty_patch_of_a_visit_plan_changes_nothing(supervisor, my_store):
    score(my_store, zone="defend", potential=12000, wallet_share=0.30)
    services.generate_visit_plans()
    plan = VisitPlan.objects.get()

    response = client_for(supervisor).patch(f"/api/v1/visit-plans/{plan.pk}/", {}, format="json")

    assert response.status_code == 200
    assert response.json()["weekdays"] == plan.weekdays
    assert VisitPlan.objects.get().edited_at is None


@pytest.mark.parametrize("url", ["/api/v1/visits/", "/stores/mine/"])
def test_a_multipart_body_without_a_boundary_is_a_400_without_a_logged_traceback(client, rep, my_store, caplog, url):
    client.force_login(rep)

    response = client.generic("POST", url, b"--x\r\n", content_type="multipart/form-data")

    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert [record for record in caplog.records if record.exc_info] == []
    assert StoreVisit.objects.count() == 0
