import datetime as dt

import pytest
from django.core.management import call_command
from jsonschema import Draft202012Validator, FormatChecker

from org.models import User
from tests.conftest import client_for
from tests.factories import KeyAccountFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_describes_the_v1_resources(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ["/api/v1/visits/", "/api/v1/visits/bulk/", "/api/v1/stores/{code}/", "/api/v1/users/{username}/",
                 "/api/v1/regions/{code}/", "/api/v1/accounts/{code}/", "/api/v1/market-shares/{id}/", "/api/v1/auth/token/"]:
        assert path in schema["paths"], path


def test_the_docs_page_loads_its_assets_from_this_server(client):
    html = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


def test_health_check_answers(client):
    assert client.get("/healthz").json() == {"status": "ok"}


# --- the schema tells the truth (kacrm/schema.py, kacrm/api.py); .ci/schemathesis is the full check -----------------

METHODS = {"get", "post", "put", "patch", "delete"}


def openapi(client):
    return client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def documented(schema, method, path):
    return set(schema["paths"][path][method]["responses"])


def _json_schema(node):
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes "or null", component references point at $defs."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if "$ref" in node:
        node["$ref"] = node["$ref"].replace("#/components/schemas/", "#/$defs/")
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def response_errors(schema, method, path, response):
    """What in `response` the schema does not document for this operation and status (empty: it tells the truth)."""
    documented_response = schema["paths"][path][method]["responses"].get(str(response.status_code))
    if documented_response is None:
        return [f"status {response.status_code} is not documented"]
    if "content" not in documented_response:
        return [] if not response.content else ["a body where none is documented"]
    body_schema = {**_json_schema(documented_response["content"]["application/json"]["schema"]),
                   "$defs": _json_schema(schema["components"]["schemas"])}
    validator = Draft202012Validator(body_schema, format_checker=FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in validator.iter_errors(response.json())]


def blanks(value, where=""):
    """Where a response says "" (SPEC §7: an absent value is null, never "")."""
    if value == "":
        return [where]
    if isinstance(value, dict):
        return [b for key, item in value.items() for b in blanks(item, f"{where}/{key}")]
    if isinstance(value, list):
        return [b for i, item in enumerate(value) for b in blanks(item, f"{where}/{i}")]
    return []


def test_every_operation_documents_its_error_responses_with_the_projects_error_shape(client):
    schema = openapi(client)
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        assert "application/json" in responses["400"]["content"], (method, path)  # input can be wrong anywhere
        for code in {"401", "403", "404"} & set(responses):
            assert responses[code]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        # Every request but a sign-in carries credentials that can be wrong.
        assert ("401" in responses) == (path != "/api/v1/auth/token/"), (method, path)
    # A view may declare its own 400 (the token endpoint's fields); the others get the field errors of kacrm.api.
    for method, path in [("get", "/api/v1/stores/"), ("post", "/api/v1/visits/bulk/"), ("patch", "/api/v1/targets/{id}/"),
                         ("delete", "/api/v1/regions/{code}/"), ("post", "/api/v1/alerts/{id}/resolve/")]:
        body = schema["paths"][path][method]["responses"]["400"]["content"]["application/json"]["schema"]
        assert body == {"$ref": "#/components/schemas/FieldErrors"}, (method, path)


def test_403_is_documented_for_every_write_and_for_reads_that_a_role_may_be_refused(client):
    schema = openapi(client)
    cases = {
        ("get", "/api/v1/stores/"): False,  # every signed-in user reads the stores of their scope
        ("post", "/api/v1/stores/"): True,
        ("delete", "/api/v1/visits/{id}/"): True,
        ("get", "/api/v1/alerts/{id}/"): False,
        ("post", "/api/v1/alerts/{id}/acknowledge/"): True,
        ("get", "/api/v1/users/"): True,  # admins only
        ("get", "/api/v1/accounts/{account_code}/events/"): True,  # readers of the dossier only
        ("get", "/api/v1/scores/accounts/"): True,
        ("post", "/api/v1/auth/token/"): False,
    }
    assert {key: "403" in documented(schema, *key) for key in cases} == cases


def test_404_is_documented_for_an_object_in_the_address_and_for_a_page_of_a_list(client):
    schema = openapi(client)
    cases = {
        ("get", "/api/v1/stores/{code}/"): True,
        ("get", "/api/v1/stores/"): True,  # ?page= past the last page
        ("post", "/api/v1/stores/"): False,
        ("post", "/api/v1/visits/bulk/"): False,
        ("get", "/api/v1/targets/summary/"): False,  # a bare list: no pages
        ("post", "/api/v1/accounts/{account_code}/events/"): True,  # the account in the address
        ("get", "/api/v1/potential-model/"): True,  # no run yet, or none on ?as_of=
    }
    assert {key: "404" in documented(schema, *key) for key in cases} == cases
    assert documented(schema, "post", "/api/v1/auth/token/") == {"200", "400", "429"}


def test_the_error_responses_the_api_gives_are_the_documented_ones(client, rep, my_store):
    schema = openapi(client)
    anonymous, signed_in = client_for(None), client_for(rep)
    anonymous.logout()
    answers = [
        ("get", "/api/v1/stores/", anonymous.get("/api/v1/stores/"), 401),
        ("post", "/api/v1/stores/", signed_in.post("/api/v1/stores/", {}, format="json"), 403),
        ("get", "/api/v1/stores/{code}/", signed_in.get("/api/v1/stores/nowhere/"), 404),
        # No route matches (a dot in a code), and the answer is the API's JSON 404 all the same.
        ("get", "/api/v1/visits/{id}/", signed_in.get("/api/v1/visits/6.5e-158/"), 404),
        ("get", "/api/v1/stores/", signed_in.get("/api/v1/stores/?page=9"), 404),
        ("get", "/api/v1/stores/", signed_in.get("/api/v1/stores/?active=maybe"), 400),
        ("post", "/api/v1/visits/", signed_in.post("/api/v1/visits/", {"store": "mine"}, format="json"), 400),
        ("post", "/api/v1/visits/bulk/", signed_in.post("/api/v1/visits/bulk/", [{"store": "mine"}], format="json"), 400),
    ]
    for method, path, response, status in answers:
        assert response.status_code == status, (method, path, response.content)
        assert response_errors(schema, method, path, response) == [], (method, path, response.content)


def test_a_list_that_an_action_answers_is_documented_bare_and_a_list_view_paginated(client):
    schema = openapi(client)

    def body(method, path):
        return schema["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]

    assert body("get", "/api/v1/targets/summary/") == {"type": "array", "items": {"$ref": "#/components/schemas/TargetSummary"}}
    assert body("get", "/api/v1/account-plans/{id}/forecast-vs-actual/")["type"] == "array"
    assert body("get", "/api/v1/targets/") == {"$ref": "#/components/schemas/PaginatedTargetList"}
    summary_parameters = {p["name"] for p in schema["paths"]["/api/v1/targets/summary/"]["get"]["parameters"]}
    assert summary_parameters == {"group", "month"}  # neither pages nor the list's filters, which it does not apply


def test_fields_that_can_be_null_are_nullable_and_a_month_is_documented_as_one(client):
    components = openapi(client)["components"]["schemas"]
    nullable = {
        ("Alert", "acknowledged_by"), ("Alert", "resolved_by"), ("AnalyticsRun", "requested_by"),
        ("Target", "edited_by"), ("VisitPlan", "edited_by"), ("VisitPlan", "zone"), ("AccountScore", "tier"),
        ("KeyAccountSummary", "tier"), ("StoreVisit", "notes"), ("StoreVisit", "rep"), ("MarketShare", "source"),
    }
    assert {(c, f) for c, f in nullable if components[c]["properties"][f].get("nullable")} == nullable
    assert not components["Target"]["properties"]["store"].get("nullable")
    assert components["Target"]["properties"]["month"]["pattern"] == r"^20\d{2}-(0[1-9]|1[0-2])$"


def test_every_read_answers_what_the_schema_says_on_the_demo_world(client):
    """Every GET of the API, as an admin and as a rep, on the demo world: each body matches its documented schema
    (no null where the schema says not nullable, months as months, bare lists bare) and holds no ""."""
    call_command("seed_demo", "--force", "--stores", "30", "--days", "60")
    schema = openapi(client)
    checked = set()
    for username in ["admin", "rep1"]:
        api = client_for(User.objects.get(username=username))
        values = {"account_code": "valmore"}  # ka1's chain: it has a dossier
        for path, method, _operation in sorted(operations(schema)):
            if method != "get":
                continue
            url = path.replace("{account_code}", values["account_code"])
            if "{" in url:  # a detail: the first row of the list above it
                parent, param = url.rsplit("{", 1)
                rows = api.get(parent).json()
                rows = rows.get("results", []) if isinstance(rows, dict) else rows
                param = param.split("}")[0]
                fields = {"code": ("code", "store", "account"), "id": ("id",)}.get(param, (param,))
                if not rows:
                    continue
                url = parent + str(next(rows[0][f] for f in fields if f in rows[0])) + url.split("}", 1)[1]
            if path == "/api/v1/targets/summary/":
                url += "?group=rep"
            response = api.get(url)
            assert response_errors(schema, method, path, response) == [], (username, url)
            assert blanks(response.json()) == [], (username, url)
            checked.add((username, path, response.status_code))
    assert {
        ("admin", "/api/v1/alerts/{id}/", 200), ("admin", "/api/v1/visit-plans/{id}/", 200),
        ("admin", "/api/v1/analytics/runs/{id}/", 200), ("admin", "/api/v1/scores/accounts/{code}/", 200),
        ("admin", "/api/v1/account-plans/{id}/forecast-vs-actual/", 200), ("admin", "/api/v1/targets/summary/", 200),
        ("rep1", "/api/v1/accounts/{code}/", 200), ("rep1", "/api/v1/scores/accounts/", 403),
        ("rep1", "/api/v1/visits/{id}/", 200), ("rep1", "/api/v1/targets/", 200),
    } <= checked


# --- an absent value is null, never "" (kacrm.api.NullForAbsent) ------------------------------------------------------

def test_a_blank_text_reads_as_null_and_null_is_taken_for_it(rep, my_store):
    visit = StoreVisitFactory(store=my_store, rep=rep, date=dt.date(2026, 11, 2), notes="")
    api = client_for(rep)
    assert api.get(f"/api/v1/visits/{visit.pk}/").json()["notes"] is None
    assert api.patch(f"/api/v1/visits/{visit.pk}/", {"notes": "Shelf moved"}, format="json").json()["notes"] == "Shelf moved"
    response = api.patch(f"/api/v1/visits/{visit.pk}/", {"notes": None}, format="json")
    assert (response.status_code, response.json()["notes"]) == (200, None)
    visit.refresh_from_db()
    assert visit.notes == ""  # stored blank, as the column wants


def test_an_account_without_a_tier_reads_null_to_its_reps(rep, region):
    account = KeyAccountFactory(code="inst", kind="institution", tier="")
    StoreFactory(code="campus", rep=rep, region=region, account=account)
    assert client_for(rep).get("/api/v1/accounts/inst/").json()["tier"] is None


# --- query parameters mean what the schema says (kacrm.api.Pagination, kacrm.api.FilterBackend) ----------------------

@pytest.mark.parametrize("query, field", [
    ("active=-9.4e307", "active"), ("active=yes", "active"), ("page_size=2.1e-224", "page_size"),
    ("page_size=0", "page_size"), ("page=-1", "page"), ("page=abc", "page"),
])
def test_a_nonsense_filter_or_page_is_a_400(rep, my_store, query, field):
    response = client_for(rep).get(f"/api/v1/stores/?{query}")
    assert (response.status_code, list(response.json())) == (400, [field])


@pytest.mark.parametrize("url", [
    "/api/v1/stores/?active=&page=&page_size=", "/api/v1/alerts/?status=", "/api/v1/scores/stores/?as_of=",
    "/api/v1/visits/?date_after=&suspect=",
])
def test_an_empty_parameter_is_absent(rep, my_store, url):
    assert client_for(rep).get(url).status_code == 200


def test_a_whole_number_filter_refuses_a_fraction(analyst):
    response = client_for(analyst).get("/api/v1/account-plans/?year=2026.5")
    assert (response.status_code, list(response.json())) == (400, ["year"])


def test_the_format_filter_filters_stores_and_is_not_taken_for_a_renderer(rep, region):
    StoreFactory(code="big", rep=rep, region=region, format="hypermarket")
    StoreFactory(code="small", rep=rep, region=region, format="small")
    response = client_for(rep).get("/api/v1/stores/?format=hypermarket")
    assert [s["code"] for s in response.json()["results"]] == ["big"]


def test_a_page_size_above_the_maximum_gives_the_maximum(rep, my_store):
    body = client_for(rep).get("/api/v1/stores/?page_size=5000").json()
    assert (body["count"], body["next"]) == (1, None)


# --- a JSON body has the types the schema gives it (kacrm.api.StrictJSON) ------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"notes": 0}, "notes"), ({"total_sales": "12"}, "total_sales"), ({"display_ok": "true"}, "display_ok"),
    ({"display_ok": 1}, "display_ok"), ({"own_sales": False}, "own_sales"), ({"store": ""}, "store"),
])
def test_a_value_of_the_wrong_json_type_is_a_400(rep, my_store, change, field):
    body = {"store": "mine", "date": "2026-11-02", "total_sales": 100, "own_sales": 10, **change}
    response = client_for(rep).post("/api/v1/visits/", body, format="json")
    assert (response.status_code, list(response.json())) == (400, [field])


def test_a_nested_item_is_whole_in_a_patch_too(analyst):
    account = KeyAccountFactory(code="wm")
    api = client_for(analyst)
    plan = api.post("/api/v1/account-plans/", {"account": account.code, "year": 2026}, format="json").json()
    response = api.patch(f"/api/v1/account-plans/{plan['id']}/", {"forecast": [{"own_units": 5}]}, format="json")
    # DRF keys a list's item errors by index in a partial update.
    assert (response.status_code, response.json()) == (400, {"forecast": {"0": {"month": ["This field is required."]}}})


def test_a_body_django_cannot_parse_is_the_apis_json_400(client, rep, my_store):
    schema = openapi(client)
    response = client_for(rep).generic("POST", "/api/v1/visits/", b"--x\r\n", content_type="multipart/form-data")
    assert (response.status_code, response["Content-Type"]) == (400, "application/json")
    assert response_errors(schema, "post", "/api/v1/visits/", response) == []
