"""A Celery worker SIGKILLed in the middle of an alert evaluation: nothing is lost, nothing is done twice."""
import threading

import pytest
from celery.signals import task_postrun
from django.conf import settings
from django.core import mail
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, Notification, PendingEvaluation
from alerts.tasks import evaluate_pending_task
from kacrm.celery import app
from stores.models import Store
from tests.alerts.conftest import day, put
from tests.conftest import client_for
from tests.factories import MarketShareFactory, RegionFactory, RepFactory, StoreFactory, SupervisorFactory
from tests.faults.conftest import (
    backend_gone, blocked_by, broker, needs_postgresql, needs_redis, session, sigkill, spawn, wait_for, worker,
)

pytestmark = [pytest.mark.redis, needs_postgresql, needs_redis, pytest.mark.django_db(transaction=True)]

LOW, HEALTHY = ["low0", "low1", "low2"], ["ok0", "ok1"]


@pytest.fixture
def world():
    region = RegionFactory(code="north", country="CN")
    region.supervisors.add(SupervisorFactory(username="sup1"))
    rep = RepFactory(username="rep1", region=region)
    for code in LOW + HEALTHY:
        StoreFactory(code=code, region=region, rep=rep)
    MarketShareFactory(country="CN", region=region, share=0.25)
    return rep


def visits(codes, own, days=20):
    """Daily visits: with 100 sold a day and a 25% market share, FSI = 4 x own (18 -> 72 opens, 30 -> 120 does not)."""
    return [{"store": code, "date": day(n).isoformat(), "total_sales": 100, "own_sales": own}
            for code in codes for n in range(days)]


def messages() -> tuple[int, int]:
    """(waiting in the queue, delivered to a worker and not acknowledged) on the broker."""
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        return channel.queue_declare(app.conf.task_default_queue).message_count, channel.client.hlen(channel.unacked_key)


@pytest.fixture
def finished():
    """Ids of the evaluate_pending tasks this process's workers finished."""
    done = []

    def record(sender=None, task_id=None, **kwargs):
        if sender.name == evaluate_pending_task.name:
            done.append(task_id)

    task_postrun.connect(record, weak=False)
    yield done
    task_postrun.disconnect(record)


def test_a_worker_killed_while_evaluating_loses_no_evaluation_and_the_sweep_opens_each_alert_once(world, tmp_path, finished):
    client = client_for(world)
    with broker(settings.REDIS_URL):
        app.control.purge()  # nothing left over from another test run
        log = tmp_path / "worker.log"
        doomed = spawn("-m", "celery", "-A", "kacrm", "worker", "--pool=solo", "--without-mingle", "--without-gossip",
                       "-l", "info", log=log, settings_module="kacrm.settings", REDIS_URL=settings.REDIS_URL)
        try:
            with session() as other:
                # The evaluation's first write is the INSERT of the alerts it opens: hold it there.
                other.execute("LOCK TABLE alerts_alert IN SHARE MODE")
                response = client.post("/api/v1/visits/bulk/", visits(LOW, 18) + visits(HEALTHY, 30), format="json")
                assert response.status_code == 200, response.content
                waiting = wait_for(lambda: blocked_by(other), timeout=120)
                assert waiting, log.read_text()
                [(pid, query)] = waiting
                assert query.startswith('INSERT INTO "alerts_alert"'), query
                sigkill(doomed)
        finally:
            sigkill(doomed)
        assert wait_for(lambda: backend_gone(pid), timeout=10)

        assert (Alert.objects.count(), Notification.objects.count(), len(mail.outbox)) == (0, 0, 0)
        assert PendingEvaluation.objects.count() == 5  # the killed evaluation rolled back with its clean-up
        assert messages() == (0, 1)  # its task: unacknowledged, held by Redis until the visibility timeout

        with worker(settings.REDIS_URL):
            evaluate_pending_task.delay()  # the sweep beat sends every 5 minutes
            assert wait_for(lambda: len(finished) == 1, timeout=30)
            assert (Alert.objects.count(), PendingEvaluation.objects.count()) == (3, 0)
            # An hour later (the visibility timeout) Redis hands the killed worker's task out again.
            with app.connection_for_write(transport_options={"visibility_timeout": 0}) as conn:
                conn.default_channel.qos.restore_visible(num=100)
            assert wait_for(lambda: len(finished) == 2, timeout=30)  # and finds nothing left to do
        assert messages() == (0, 0)

    alerts = list(Alert.objects.order_by("store__code").values_list("store__code", "status", "opened_on"))
    assert alerts == [(code, "open", day(19)) for code in LOW]
    assert PendingEvaluation.objects.count() == 0
    assert Notification.objects.count() == 3
    [digest] = mail.outbox
    assert digest.to == ["sup1@example.com"]
    assert all(f"/alerts/{pk}/" in digest.body for pk in Alert.objects.values_list("pk", flat=True))


def test_two_workers_evaluating_the_same_stores_at_once_open_each_alert_once(world):
    """The killed worker's task redelivered while the sweep runs: both evaluate, the database keeps one of each alert."""
    from alerts.evaluation import evaluate_pending

    for code, own in [(code, 18) for code in LOW] + [(code, 30) for code in HEALTHY]:
        put(Store.objects.get(code=code), 0, 19, own)  # the visits, and what they leave when their task is lost:
    PendingEvaluation.objects.bulk_create(PendingEvaluation(store=store, requested_at=timezone.now())
                                          for store in Store.objects.all())
    outcomes = []

    def evaluate():
        try:
            outcomes.append(evaluate_pending())
        finally:
            connection.close()

    with session() as other:
        other.execute("LOCK TABLE alerts_alert IN SHARE MODE")
        both = [threading.Thread(target=evaluate) for _ in range(2)]
        for thread in both:
            thread.start()
        assert wait_for(lambda: len(blocked_by(other)) == 2, timeout=30)  # both decided to open the same 3 alerts
    for thread in both:
        thread.join(timeout=30)

    assert sorted(len(outcome.opened) for outcome in outcomes) == [0, 3]
    assert sorted(Alert.objects.values_list("store__code", flat=True)) == LOW
    assert Notification.objects.count() == 3
    assert [len(message.to) for message in mail.outbox] == [1]
