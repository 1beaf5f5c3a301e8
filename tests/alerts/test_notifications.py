"""Opening an alert notifies the supervisors of the store's region: in the app and by email."""
import pytest
from django.core import mail
from django.test import override_settings

from alerts import evaluation
from alerts.models import Alert, Notification
from tests.alerts.conftest import day, put
from tests.factories import SupervisorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def opened(store, supervisor, region, south, django_capture_on_commit_callbacks):
    """sup1 and a second supervisor of the region, an inactive one and one without email; sup2 heads south."""
    region.supervisors.add(
        SupervisorFactory(username="deputy", first_name="Ana", last_name="Ruiz"),
        SupervisorFactory(username="gone", is_active=False),
        SupervisorFactory(username="nomail", email=""),
    )
    put(store, 0, 34, own=18)
    with override_settings(SITE_URL="https://crm.example.com/"), django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_stores(t=day(34))
    return Alert.objects.get(store=store)


def test_each_active_supervisor_of_the_region_gets_a_notification(opened):
    assert sorted(Notification.objects.values_list("user__username", "alert", "read_at")) == [
        ("deputy", opened.pk, None), ("nomail", opened.pk, None), ("sup1", opened.pk, None),
    ]


def test_each_active_supervisor_with_an_address_gets_one_email(opened, store):
    assert sorted(m.to[0] for m in mail.outbox) == ["deputy@example.com", "sup1@example.com"]
    message = next(m for m in mail.outbox if m.to == ["deputy@example.com"])
    assert message.subject == f"Alert: {store.name} (mine) below market share, FSI 72"
    assert message.from_email == "KA CRM <kacrm@localhost>"
    link = f"https://crm.example.com/alerts/{opened.pk}/"
    assert message.body.startswith("Hello Ana Ruiz,\n\nThe share of " + store.name + " (mine, ")
    for line in [
        "FSI (store share / market share x 100): 72 on April 4, 2025, 72 a week earlier",
        "Store share, last 28 days: 18.0% (28 valid days)",
        "Market share: 25.0%",
        link,
    ]:
        assert line in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert f'<a href="{link}"><strong>Open the alert</strong></a>' in html
    assert "<td align=\"right\"><strong>72</strong></td>" in html
    assert "<script" not in html and "<style" not in html


def test_nothing_is_sent_when_no_alert_opens(store, supervisor, django_capture_on_commit_callbacks):
    put(store, 0, 34, own=30)

    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_stores(t=day(34))

    assert (len(mail.outbox), Notification.objects.count()) == (0, 0)


def test_a_mail_server_failure_keeps_the_alert_and_its_notifications(store, supervisor, django_capture_on_commit_callbacks):
    put(store, 0, 34, own=18)

    with override_settings(EMAIL_BACKEND="tests.alerts.test_notifications.BrokenBackend"), \
            django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_stores(t=day(34))

    assert (Alert.objects.count(), Notification.objects.count(), len(mail.outbox)) == (1, 1, 0)


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("SMTP server down")


def test_alerts_opened_by_one_evaluation_reach_each_supervisor_as_one_digest(
    store, supervisor, region, south, django_capture_on_commit_callbacks
):
    from tests.factories import StoreFactory

    worse = StoreFactory(code="worse", name="Worse Store", region=region)
    put(store, 0, 34, own=18)  # FSI 72
    put(worse, 0, 34, own=10)  # FSI 40
    put(south["store"], 0, 34, own=10)
    with django_capture_on_commit_callbacks(execute=True):
        evaluation.evaluate_stores(t=day(34))

    assert [m.to for m in mail.outbox] == [["sup1@example.com"]]  # sup2's store already has an active alert
    [digest] = mail.outbox
    assert digest.subject == "2 new alerts: stores below market share"
    assert digest.body.index("Worse Store (worse") < digest.body.index(f"{store.name} (mine")
    for alert in Alert.objects.filter(store__region=region):
        assert f"http://127.0.0.1:8000/alerts/{alert.pk}/" in digest.body
        assert f'<a href="http://127.0.0.1:8000/alerts/{alert.pk}/">' in digest.alternatives[0][0]
