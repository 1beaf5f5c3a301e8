import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.models import Alert, FollowUp
from tests.alerts.conftest import day, make_alert
from tests.conftest import client_for
from tests.factories import KAManagerFactory, KeyAccountFactory, StoreFactory

pytestmark = pytest.mark.django_db

CHECK = {"date": day(36).isoformat(), "display_ok": False, "promotion_ok": False, "staff_ok": True,
         "actions": "Competitor end cap removed; our display rebuilt.", "notes": "Store manager agreed."}


@pytest.fixture
def alert(my_store):
    return make_alert(my_store)


def codes(response):
    return [row["store"] for row in response.json()["results"]]


def test_the_alert_has_the_contract_fields(supervisor, alert):
    response = client_for(supervisor).get(f"/api/v1/alerts/{alert.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ["store", "status", "opened_on", "fsi_at_open", "fsi_latest", "store_share", "market_share"]} == {
        "store": "mine", "status": "open", "opened_on": day(34).isoformat(), "fsi_at_open": 72.0, "fsi_latest": 72.0,
        "store_share": pytest.approx(0.18), "market_share": 0.25,
    }
    assert (body["region"], body["market_share_source"], body["follow_ups"]) == ("north", "region", [])


def test_a_supervisor_lists_only_the_alerts_of_own_regions_worst_first(supervisor, my_store, their_store, south):
    make_alert(my_store, fsi=80.0)
    make_alert(their_store, fsi=70.0)

    response = client_for(supervisor).get("/api/v1/alerts/")

    assert codes(response) == ["theirs", "mine"]


def test_an_analyst_lists_every_alert(analyst, my_store, south):
    make_alert(my_store, fsi=80.0)

    assert codes(client_for(analyst).get("/api/v1/alerts/")) == ["far", "mine"]


@pytest.mark.parametrize("who", ["rep", "ka_manager"])
def test_reps_and_ka_managers_see_no_alert(request, who, alert, my_store):
    user = request.getfixturevalue("rep") if who == "rep" else KAManagerFactory()
    if who == "ka_manager":
        my_store.account = KeyAccountFactory(owner=user)  # the KA manager sees this store, not its alert
        my_store.save()
    client = client_for(user)

    assert client.get("/api/v1/alerts/").json()["results"] == []
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    for action in ["acknowledge", "resolve"]:
        assert client.post(f"/api/v1/alerts/{alert.pk}/{action}/").status_code == 404
    assert client.post(f"/api/v1/alerts/{alert.pk}/follow-up/", CHECK, format="json").status_code == 404
    assert (Alert.objects.get(pk=alert.pk).status, FollowUp.objects.count()) == ("open", 0)


def test_a_supervisor_of_another_region_cannot_see_or_act(alert, south):
    client = client_for(south["supervisor"])

    assert codes(client.get("/api/v1/alerts/")) == ["far"]
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    for action in ["acknowledge", "resolve"]:
        assert client.post(f"/api/v1/alerts/{alert.pk}/{action}/").status_code == 404
    assert client.post(f"/api/v1/alerts/{alert.pk}/follow-up/", CHECK, format="json").status_code == 404
    assert (Alert.objects.get(pk=alert.pk).status, FollowUp.objects.count()) == ("open", 0)


def test_anonymous_requests_get_401(alert):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/v1/alerts/").status_code == 401


def test_filters_by_status_region_and_store(analyst, my_store, their_store, south):
    make_alert(my_store, fsi=80.0, status="resolved")
    make_alert(their_store, fsi=70.0, status="acknowledged")
    client = client_for(analyst)

    assert codes(client.get("/api/v1/alerts/?status=acknowledged")) == ["theirs"]
    assert codes(client.get("/api/v1/alerts/?status=open&status=acknowledged")) == ["far", "theirs"]
    assert codes(client.get("/api/v1/alerts/?region=north")) == ["theirs", "mine"]
    assert codes(client.get("/api/v1/alerts/?store=far")) == ["far"]
    assert client.get("/api/v1/alerts/?status=closed").status_code == 400


def test_the_lifecycle_acknowledge_follow_up_resolve(supervisor, alert):
    client = client_for(supervisor)

    acknowledged = client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    checked = client.post(f"/api/v1/alerts/{alert.pk}/follow-up/", CHECK, format="json")
    resolved = client.post(f"/api/v1/alerts/{alert.pk}/resolve/")

    assert (acknowledged.status_code, acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == (200, "acknowledged", "sup1")
    assert checked.status_code == 201
    assert [{k: v for k, v in f.items() if k not in ("id", "created_at")} for f in checked.json()["follow_ups"]] == [
        {**CHECK, "recorded_by": "sup1"}
    ]
    assert (resolved.status_code, resolved.json()["status"], resolved.json()["resolved_by"]) == (200, "resolved", "sup1")
    assert resolved.json()["closed_on"] == timezone.localdate().isoformat()


def test_resolving_without_a_follow_up_is_a_400(supervisor, alert):
    response = client_for(supervisor).post(f"/api/v1/alerts/{alert.pk}/resolve/")

    assert response.status_code == 400
    assert list(response.json()) == ["follow_up"]
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_a_follow_up_acknowledges_an_open_alert(supervisor, alert):
    client_for(supervisor).post(f"/api/v1/alerts/{alert.pk}/follow-up/", {"date": day(34).isoformat()}, format="json")

    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", supervisor)


@pytest.mark.parametrize("date, error", [
    (day(33).isoformat(), "before the alert opened"),
    ((timezone.localdate() + dt.timedelta(days=1)).isoformat(), "future"),
    ("yesterday", "Date has wrong format"),
])
def test_a_follow_up_date_must_lie_between_the_opening_and_today(supervisor, alert, date, error):
    response = client_for(supervisor).post(f"/api/v1/alerts/{alert.pk}/follow-up/", {**CHECK, "date": date}, format="json")

    assert response.status_code == 400
    assert error in response.json()["date"][0]
    assert FollowUp.objects.count() == 0


def test_a_follow_up_needs_a_date(supervisor, alert):
    response = client_for(supervisor).post(f"/api/v1/alerts/{alert.pk}/follow-up/", {"actions": "x"}, format="json")

    assert (response.status_code, list(response.json())) == (400, ["date"])


@pytest.mark.parametrize("status", ["resolved", "recovered"])
def test_a_closed_alert_takes_no_action(supervisor, my_store, status):
    alert = make_alert(my_store, status=status)
    client = client_for(supervisor)

    for response in [
        client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/"),
        client.post(f"/api/v1/alerts/{alert.pk}/follow-up/", CHECK, format="json"),
        client.post(f"/api/v1/alerts/{alert.pk}/resolve/"),
    ]:
        assert (response.status_code, list(response.json())) == (400, ["status"])
    assert Alert.objects.get(pk=alert.pk).status == status


def test_acknowledging_twice_changes_nothing(supervisor, analyst, alert):
    client_for(supervisor).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    first = Alert.objects.values("acknowledged_at", "acknowledged_by").get()

    response = client_for(analyst).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 200
    assert Alert.objects.values("acknowledged_at", "acknowledged_by").get() == first


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["supervisor", "analyst"])
def test_the_list_issues_the_same_number_of_queries_at_two_sizes(request, who, region, supervisor):
    client = client_for(request.getfixturevalue(who))

    def grow(n):
        for _ in range(n):
            alert = make_alert(StoreFactory(region=region))
            FollowUp.objects.create(alert=alert, store=alert.store, date=day(35), recorded_by=supervisor)

    grow(2)
    small = count_queries(client, "/api/v1/alerts/")
    grow(18)
    assert count_queries(client, "/api/v1/alerts/") == small
