"""Visits logged through the API reach the alert through Celery: with a real worker, and with the broker down."""
import contextlib
import time

import pytest
from django.conf import settings
from django.core import mail

from alerts.models import Alert, PendingEvaluation
from alerts.tasks import evaluate_pending_task
from kacrm.celery import app
from stores.models import StoreVisit
from tests.alerts.conftest import day
from tests.conftest import client_for
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory

CLOSED_PORT = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connections are refused at once
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real Redis broker)")


@pytest.fixture
def world():
    region = RegionFactory(code="north", country="CN")
    supervisor = SupervisorFactory(username="sup1")
    region.supervisors.add(supervisor)
    rep = RepFactory(username="rep1", region=region)
    store = StoreFactory(code="mine", name="Carrefour Gubei", region=region, rep=rep)
    MarketShareFactory(country="CN", region=region, share=0.25)
    return {"rep": rep, "store": store}


def history(first, last):
    return [{"store": "mine", "date": day(n).isoformat(), "total_sales": 100, "own_sales": 18} for n in range(first, last + 1)]


@contextlib.contextmanager
def broker(url):
    """Publish to `url` through fresh connection pools (the app caches them), then restore the original."""
    original, eager = app.conf.broker_url, app.conf.task_always_eager

    def switch(to):
        app.conf.broker_url = to
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.task_always_eager = False
    switch(url)
    try:
        yield app
    finally:
        switch(original)
        app.conf.task_always_eager = eager


@contextlib.contextmanager
def worker():
    from celery.contrib.testing.worker import start_worker

    with broker(settings.REDIS_URL), start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_visits_are_stored_and_evaluated_once_it_is_back(world):
    client = client_for(world["rep"])
    timings = []
    with broker(CLOSED_PORT):
        for request in [
            lambda: client.post("/api/v1/visits/bulk/", history(0, 32), format="json"),
            lambda: client.post("/api/v1/visits/", history(33, 33)[0], format="json"),
            lambda: client.post("/api/v1/visits/", history(34, 34)[0], format="json"),
        ]:
            started = time.monotonic()
            response = request()
            timings.append(time.monotonic() - started)
            assert response.status_code in (200, 201), response.content

    assert StoreVisit.objects.filter(store=world["store"]).count() == 35
    assert max(timings) < 2.0, timings
    assert (Alert.objects.count(), PendingEvaluation.objects.values("store").distinct().count()) == (0, 1)  # stores pending

    evaluate_pending_task.delay()  # the beat sweep, once the broker is back (in-process here)
    evaluate_pending_task.delay()

    assert list(Alert.objects.values_list("store__code", "status", "opened_on")) == [("mine", "open", day(34))]
    assert PendingEvaluation.objects.count() == 0
    assert [m.to for m in mail.outbox] == [["sup1@example.com"]]


@pytest.mark.redis
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_visits_logged_through_the_api_open_the_alert_and_send_the_email_through_a_real_worker(world):
    client = client_for(world["rep"])

    with worker():
        assert client.post("/api/v1/visits/bulk/", history(0, 33), format="json").status_code == 200
        assert client.post("/api/v1/visits/", history(34, 34)[0], format="json").status_code == 201
        assert wait_for(lambda: not PendingEvaluation.objects.exists() and len(mail.outbox) == 1)

    alert = Alert.objects.get()
    assert (alert.store.code, alert.status, alert.fsi_latest) == ("mine", "open", 72.0)
    [message] = mail.outbox
    assert message.to == ["sup1@example.com"]
    assert message.subject == "Alert: Carrefour Gubei (mine) below market share, FSI 72"
    assert f"{settings.SITE_URL}/alerts/{alert.pk}/" in message.body


@pytest.mark.redis
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_after_an_outage_the_sweep_on_a_real_worker_opens_the_alert_exactly_once(world):
    client = client_for(world["rep"])
    with broker(CLOSED_PORT):
        assert client.post("/api/v1/visits/bulk/", history(0, 34), format="json").status_code == 200
    assert (Alert.objects.count(), PendingEvaluation.objects.values("store").distinct().count()) == (0, 1)  # stores pending

    with worker():
        evaluate_pending_task.delay()  # what beat sends every 5 minutes
        evaluate_pending_task.delay()
        assert wait_for(lambda: not PendingEvaluation.objects.exists() and len(mail.outbox) == 1)
        time.sleep(0.5)  # let the second sweep finish: it must find nothing to do

    assert list(Alert.objects.values_list("store__code", "status")) == [("mine", "open")]
    assert len(mail.outbox) == 1
