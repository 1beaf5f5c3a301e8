import pytest
from django.contrib.auth import get_user_model

from tests.conftest import client_for
from tests.factories import RegionFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def admin():
    return UserFactory(username="admin", is_staff=True, is_superuser=True, role="analyst")


def test_only_admins_reach_the_users_resource(rep, analyst):
    assert client_for(rep).get("/api/v1/users/").status_code == 403
    assert client_for(analyst).get("/api/v1/users/").status_code == 403


def test_an_admin_creates_a_user_who_can_then_get_a_token(admin, region, api):
    payload = {"username": "newrep", "role": "sales_manager", "region": "north", "email": "n@example.com",
               "is_active": True, "password": "a-long-Secret-42"}
    response = client_for(admin).post("/api/v1/users/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert response.json() == {"username": "newrep", "role": "sales_manager", "region": "north", "team": None,
                               "email": "n@example.com", "is_active": True}
    token = api.post("/api/v1/auth/token/", {"username": "newrep", "password": "a-long-Secret-42"}, format="json")
    assert token.status_code == 200


def test_users_are_looked_up_by_username_and_updated(admin, rep):
    client = client_for(admin)
    assert client.get("/api/v1/users/rep1/").json()["role"] == "sales_manager"
    response = client.patch("/api/v1/users/rep1/", {"is_active": False, "role": "supervisor"}, format="json")
    assert response.status_code == 200
    rep.refresh_from_db()
    assert (rep.is_active, rep.role) == (False, "supervisor")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"username": "x", "role": "boss"}, "role"),
        ({"username": "x", "role": "analyst", "region": "atlantis"}, "region"),
        ({"username": "x", "role": "analyst", "password": "123"}, "password"),
        ({"role": "analyst"}, "username"),
    ],
)
def test_bad_user_payloads_are_400s(admin, payload, field):
    response = client_for(admin).post("/api/v1/users/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert list(User.objects.values_list("username", flat=True)) == ["admin"]


def test_regions_show_supervisors_by_username_and_are_scoped(rep, supervisor, region):
    RegionFactory(code="south")
    assert client_for(rep).get("/api/v1/regions/").json()["results"] == [
        {"code": "north", "name": region.name, "country": "CN", "supervisors": ["sup1"]}
    ]
    assert [r["code"] for r in client_for(supervisor).get("/api/v1/regions/").json()["results"]] == ["north"]


def test_only_analysts_write_regions(rep, analyst, supervisor):
    payload = {"code": "west", "name": "West", "country": "es", "supervisors": ["sup1"]}
    assert client_for(rep).post("/api/v1/regions/", payload, format="json").status_code == 403
    response = client_for(analyst).post("/api/v1/regions/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["country"] == "ES"


def test_a_region_needs_an_iso_country_code(analyst):
    response = client_for(analyst).post("/api/v1/regions/", {"code": "x", "name": "X", "country": "Spain"}, format="json")
    assert response.status_code == 400
    assert "country" in response.json()
