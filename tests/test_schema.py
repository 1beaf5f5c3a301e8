import pytest

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
