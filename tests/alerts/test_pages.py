import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from alerts import readings
from alerts.models import Alert, FollowUp, Notification
from stores.models import StoreVisit
from tests.alerts.conftest import day, make_alert
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(my_store):
    return make_alert(my_store)


def signed_in(client, user):
    client.force_login(user)
    return client


def listed(response):
    return [a.store.code for a in response.context["page"].object_list]


def test_the_inbox_lists_the_active_alerts_of_own_regions_worst_first(client, supervisor, my_store, their_store, south):
    make_alert(my_store, fsi=80.0)
    make_alert(their_store, fsi=70.0)
    make_alert(StoreFactory(code="done", region=my_store.region), fsi=50.0, status="resolved")

    response = signed_in(client, supervisor).get(reverse("alert-inbox"))

    assert response.status_code == 200
    assert listed(response) == ["theirs", "mine"]
    assert [(value, count) for value, _label, count in response.context["tabs"]] == [
        ("", 2), ("open", 2), ("acknowledged", 0), ("resolved", 1), ("recovered", 0), ("all", 3),
    ]


def test_the_inbox_filters_by_status_region_and_store(client, analyst, my_store, their_store, south):
    make_alert(my_store, fsi=80.0, status="recovered")
    make_alert(their_store, fsi=70.0)
    client = signed_in(client, analyst)

    assert listed(client.get(reverse("alert-inbox"))) == ["far", "theirs"]
    assert listed(client.get(reverse("alert-inbox"), {"status": "recovered"})) == ["mine"]
    assert listed(client.get(reverse("alert-inbox"), {"status": "all", "region": "north"})) == ["theirs", "mine"]
    assert listed(client.get(reverse("alert-inbox"), {"q": "far"})) == ["far"]
    assert listed(client.get(reverse("alert-inbox"), {"sort": "-fsi"})) == ["theirs", "far"]


@pytest.mark.parametrize("name", ["alert-inbox", "notification-list"])
def test_reps_get_a_404_for_the_alert_pages(client, rep, alert, name):
    assert signed_in(client, rep).get(reverse(name)).status_code == 404


def test_reps_and_other_supervisors_get_a_404_for_the_alert_and_its_actions(client, rep, alert, south):
    for user in (rep, south["supervisor"]):
        client = signed_in(client, user)
        assert client.get(reverse("alert-detail", args=[alert.pk])).status_code == 404
        for name in ["alert-acknowledge", "alert-resolve", "alert-follow-up"]:
            assert client.post(reverse(name, args=[alert.pk]), {"date": day(35).isoformat()}).status_code == 404
    assert (Alert.objects.get(pk=alert.pk).status, FollowUp.objects.count()) == ("open", 0)
    assert listed(client.get(reverse("alert-inbox"))) == ["far"]


def test_the_alert_page_draws_the_trend_from_vendored_assets(client, supervisor, my_store, region):
    from tests.factories import MarketShareFactory

    MarketShareFactory(country="CN", region=region, share=0.25)
    today = timezone.localdate()
    StoreVisit.objects.bulk_create(
        StoreVisit(store=my_store, date=today - dt.timedelta(days=n), total_sales=100, own_sales=18) for n in range(40)
    )
    alert = make_alert(my_store, opened_on=today - dt.timedelta(days=5))

    response = signed_in(client, supervisor).get(reverse("alert-detail", args=[alert.pk]))

    page = response.content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.js" defer></script>' in page
    assert '<script src="/static/js/alerts.js" defer></script>' in page
    assert "<script>" not in page and "<style" not in page and "style=" not in page
    data = json.loads(re.search(r'<script id="trend-data" type="application/json">(.*?)</script>', page, re.S).group(1))
    assert len(data["days"]) == 90 and data["days"][-1] == today.isoformat()
    # 40 days of visits: the window of day -32 holds 8 of them, the first sufficient reading
    first = data["days"].index((today - dt.timedelta(days=32)).isoformat())
    assert data["cs"][first - 1] is None and data["cs"][first:] == [0.18] * (90 - first)
    assert data["ms"] == [0.25] * 90 and data["line"] == [0.225] * 90
    assert data["fsi"][-1] == 72.0 and data["validDays"][-1] == 28
    assert data["openedOn"] == alert.opened_on.isoformat()


def test_the_trend_falls_back_to_the_panel_without_share_rows(my_store, region):
    other = StoreFactory(region=region)
    today = timezone.localdate()
    for store, own in ((my_store, 18), (other, 30)):
        StoreVisit.objects.bulk_create(
            StoreVisit(store=store, date=today - dt.timedelta(days=n), total_sales=100, own_sales=own) for n in range(30)
        )
    alert = make_alert(my_store)

    trend = readings.alert_trend(alert=alert, end=today)

    assert trend["ms"].iloc[-1] == pytest.approx(0.24) and trend["source"].iloc[-1] == "panel"
    assert trend["fsi"].iloc[-1] == 75.0


def test_acknowledge_follow_up_and_resolve_from_the_page(client, supervisor, alert):
    client = signed_in(client, supervisor)

    client.post(reverse("alert-acknowledge", args=[alert.pk]))
    response = client.post(reverse("alert-follow-up", args=[alert.pk]), {
        "date": day(36).isoformat(), "display_ok": "False", "promotion_ok": "True", "staff_ok": "",
        "actions": "Rebuilt the display.", "notes": "",
    })
    assert response.status_code == 302
    client.post(reverse("alert-resolve", args=[alert.pk]))

    alert.refresh_from_db()
    assert (alert.status, alert.acknowledged_by, alert.resolved_by) == ("resolved", supervisor, supervisor)
    assert list(alert.follow_ups.values_list("date", "display_ok", "promotion_ok", "staff_ok", "actions")) == [
        (day(36), False, True, None, "Rebuilt the display.")
    ]


def test_the_page_refuses_to_resolve_without_a_follow_up(client, supervisor, alert):
    response = signed_in(client, supervisor).post(reverse("alert-resolve", args=[alert.pk]), follow=True)

    assert "Record a follow-up check at the store before resolving the alert." in response.content.decode()
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_a_follow_up_before_the_opening_is_shown_with_its_error(client, supervisor, alert):
    response = signed_in(client, supervisor).post(reverse("alert-follow-up", args=[alert.pk]), {"date": day(30).isoformat()})

    assert response.status_code == 400
    assert response.context["form"].errors == {"date": ["The check cannot be before the alert opened (2025-04-04)."]}
    assert FollowUp.objects.count() == 0


def test_a_follow_up_on_a_closed_alert_is_refused_with_a_form_wide_error(client, supervisor, my_store):
    closed = make_alert(my_store, status="resolved")

    response = signed_in(client, supervisor).post(reverse("alert-follow-up", args=[closed.pk]), {"date": day(36).isoformat()})

    assert response.status_code == 400
    assert response.context["form"].errors == {"__all__": ["This alert is resolved; it cannot change any more."]}
    assert FollowUp.objects.count() == 0


def test_the_header_counts_unread_notifications_until_the_alert_is_opened(client, supervisor, alert, my_store):
    Notification.objects.create(user=supervisor, alert=alert)
    Notification.objects.create(user=supervisor, alert=make_alert(StoreFactory(region=my_store.region)))
    client = signed_in(client, supervisor)

    assert '<span class="nav-count" title="Unread notifications">2</span>' in client.get(reverse("store-list")).content.decode()
    client.get(reverse("alert-detail", args=[alert.pk]))
    assert '<span class="nav-count" title="Unread notifications">1</span>' in client.get(reverse("store-list")).content.decode()
    client.post(reverse("notification-list"))
    assert "nav-count" not in client.get(reverse("store-list")).content.decode()
    assert Notification.objects.unread().count() == 0


def test_the_notification_list_shows_only_own_notifications(client, supervisor, alert, south):
    Notification.objects.create(user=supervisor, alert=alert)
    Notification.objects.create(user=south["supervisor"], alert=south["alert"])

    response = signed_in(client, supervisor).get(reverse("notification-list"))

    assert [n.alert.store.code for n in response.context["page"].object_list] == ["mine"]


def test_a_rep_sees_the_stores_fsi_after_logging_a_visit(client, rep, my_store, region):
    from tests.factories import MarketShareFactory

    MarketShareFactory(country="CN", region=region, share=0.25)
    today = timezone.localdate()
    StoreVisit.objects.bulk_create(
        StoreVisit(store=my_store, date=today - dt.timedelta(days=n), total_sales=100, own_sales=18) for n in range(1, 10)
    )

    response = signed_in(client, rep).post(reverse("store-list"), {
        "store": "mine", "date": today.isoformat(), "total_sales": 100, "own_sales": 28,
    }, follow=True)

    message = [str(m) for m in response.context["messages"]]
    assert message == [
        f"Visit saved for {my_store.name} on {today.isoformat()}: 28 of 100 units. Share over the 28 days to "
        f"{today.isoformat()}: 19.0% against a market share of 25.0%, FSI 76 (100 = parity)."  # (9 x 18 + 28) / 1000
    ]


def test_a_rep_is_told_when_there_are_too_few_days_for_an_fsi(client, rep, my_store):
    today = timezone.localdate()

    response = signed_in(client, rep).post(reverse("store-list"), {
        "store": "mine", "date": today.isoformat(), "total_sales": 100, "own_sales": 28,
    }, follow=True)

    assert [str(m) for m in response.context["messages"]][0].endswith("No FSI yet: 1 valid day in the last 28, 8 needed.")


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("who", ["supervisor", "analyst"])
def test_the_inbox_issues_the_same_queries_for_2_and_20_alerts(request, client, who, region, supervisor):
    client = signed_in(client, request.getfixturevalue(who))

    def grow(n):
        for _ in range(n):
            alert = make_alert(StoreFactory(region=region, rep=None))
            Notification.objects.create(user=supervisor, alert=alert)

    grow(2)
    small = count_queries(client, reverse("alert-inbox"))
    grow(18)
    assert count_queries(client, reverse("alert-inbox")) == small


def test_the_alert_page_issues_the_same_queries_with_1_and_5_follow_ups(client, supervisor, alert):
    client = signed_in(client, supervisor)
    FollowUp.objects.create(alert=alert, store=alert.store, date=day(35), recorded_by=supervisor)
    small = count_queries(client, reverse("alert-detail", args=[alert.pk]))
    for n in range(4):
        FollowUp.objects.create(alert=alert, store=alert.store, date=day(36 + n), recorded_by=supervisor)
    assert count_queries(client, reverse("alert-detail", args=[alert.pk])) == small
