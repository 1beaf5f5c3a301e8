import pytest

from accounts.models import KeyAccount
from tests.conftest import client_for
from tests.factories import KAManagerFactory, KeyAccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ka1():
    return KAManagerFactory(username="ka1")


@pytest.fixture
def ka2():
    return KAManagerFactory(username="ka2")


def test_a_ka_manager_sees_only_own_accounts(ka1, ka2):
    KeyAccountFactory(code="wm", owner=ka1)
    KeyAccountFactory(code="cf", owner=ka2)
    client = client_for(ka1)
    assert [a["code"] for a in client.get("/api/v1/accounts/").json()["results"]] == ["wm"]
    assert client.get("/api/v1/accounts/cf/").status_code == 404


def test_a_rep_reads_the_accounts_of_own_stores_but_cannot_edit(rep, my_store, ka1):
    my_store.account = KeyAccountFactory(code="wm", owner=ka1)
    my_store.save()
    KeyAccountFactory(code="cf")
    client = client_for(rep)
    assert [a["code"] for a in client.get("/api/v1/accounts/").json()["results"]] == ["wm"]
    assert client.patch("/api/v1/accounts/wm/", {"name": "Mine now"}, format="json").status_code == 403
    assert KeyAccount.objects.get(code="wm").name != "Mine now"


def test_the_owner_edits_and_overrides_the_tier(ka1):
    KeyAccountFactory(code="wm", owner=ka1, tier="LKA")
    response = client_for(ka1).patch("/api/v1/accounts/wm/", {"tier": "NKA", "description": "Big"}, format="json")
    assert response.status_code == 200
    account = KeyAccount.objects.get(code="wm")
    assert (account.tier, account.tier_override, account.description) == ("NKA", True, "Big")


def test_a_ka_manager_cannot_create_or_hand_over_accounts(ka1, ka2):
    KeyAccountFactory(code="wm", owner=ka1)
    client = client_for(ka1)
    assert client.post("/api/v1/accounts/", {"code": "new", "name": "New", "kind": "chain"}, format="json").status_code == 403
    assert client.patch("/api/v1/accounts/wm/", {"owner": "ka2"}, format="json").status_code == 403
    assert KeyAccount.objects.get(code="wm").owner == ka1


def test_an_analyst_creates_an_account_with_an_owner(analyst, ka1):
    payload = {"code": "sn", "name": "Suning", "kind": "chain", "owner": "ka1"}
    response = client_for(analyst).post("/api/v1/accounts/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["owner"] == "ka1"
    assert response.json()["tier"] is None  # no tier yet: null, not "" (SPEC §7)


def test_only_analysts_and_admins_delete_or_reassign_an_account(ka1, ka2, analyst):
    KeyAccountFactory(code="wm", owner=ka1)
    KeyAccountFactory(code="cf", owner=ka1)

    assert client_for(ka1).delete("/api/v1/accounts/wm/").status_code == 403
    assert client_for(ka2).delete("/api/v1/accounts/wm/").status_code == 404
    assert client_for(analyst).patch("/api/v1/accounts/cf/", {"owner": "ka2"}, format="json").status_code == 200
    assert client_for(analyst).delete("/api/v1/accounts/wm/").status_code == 204
    assert list(KeyAccount.objects.values_list("code", "owner__username")) == [("cf", "ka2")]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"code": "x", "name": "X", "kind": "shop"}, "kind"),
        ({"code": "x", "name": "X", "kind": "institution", "tier": "GKA"}, "tier"),
        ({"code": "x", "name": "X", "owner": "nobody"}, "owner"),
        ({"code": "x y", "name": "X"}, "code"),
    ],
)
def test_bad_account_payloads_are_400s(analyst, payload, field):
    response = client_for(analyst).post("/api/v1/accounts/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert KeyAccount.objects.count() == 0


def test_a_store_can_be_synced_by_an_analyst(analyst, region, rep):
    KeyAccountFactory(code="wm")
    payload = {"code": "wm-001", "name": "WM One", "account": "wm", "region": "north", "format": "large",
               "floor_area_m2": 5200, "checkouts": 18, "open_24h": True, "shelves": 12, "closed_weekdays": [6],
               "rep": "rep1", "latitude": 31.2, "longitude": 121.4, "active": True}
    response = client_for(analyst).post("/api/v1/stores/", payload, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {k: body[k] for k in payload} == {**payload, "floor_area_m2": 5200.0}
    assert client_for(rep).post("/api/v1/stores/", {**payload, "code": "x"}, format="json").status_code == 403


@pytest.mark.parametrize(
    "change, field",
    [({"closed_weekdays": [7]}, "closed_weekdays"), ({"closed_weekdays": [1, 1]}, "closed_weekdays"),
     ({"latitude": 91}, "latitude"), ({"floor_area_m2": -3}, "floor_area_m2"), ({"region": "atlantis"}, "region"),
     ({"format": "huge"}, "format"), ({"rep": "sup1"}, "rep")],
)
def test_bad_store_payloads_are_400s(analyst, region, supervisor, change, field):
    payload = {"code": "s1", "name": "S", "region": "north", **change}
    response = client_for(analyst).post("/api/v1/stores/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_market_shares_are_validated_and_written_by_analysts(analyst, rep, region):
    good = {"country": "CN", "region": "north", "period_start": "2026-01-01", "period_end": "2026-12-31",
            "share": 0.23, "source": "Nielsen"}
    assert client_for(rep).post("/api/v1/market-shares/", good, format="json").status_code == 403
    client = client_for(analyst)
    assert client.post("/api/v1/market-shares/", good, format="json").status_code == 201
    for change, field in [({"share": 1}, "share"), ({"share": 0}, "share"), ({"period_end": "2025-01-01"}, "period_end"),
                          ({"country": "ES"}, "region"), ({"share": "lots"}, "share")]:
        response = client.post("/api/v1/market-shares/", {**good, **change}, format="json")
        assert response.status_code == 400, change
        assert field in response.json(), change
    assert [m["share"] for m in client_for(rep).get("/api/v1/market-shares/").json()["results"]] == [0.23]
