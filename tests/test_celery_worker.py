"""A real Celery worker against the real Redis broker (CI sets REDIS_URL)."""
import time

import pytest
from django.conf import settings

from analytics import services
from analytics.models import AnalyticsRun, StoreScore
from tests.analytics.test_services import AS_OF, build_world

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real Redis broker)"),
]


@pytest.fixture
def worker():
    from celery.contrib.testing.worker import start_worker

    from kacrm.celery import app

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
            yield app
    finally:
        app.conf.task_always_eager = True


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_queued_run_is_computed_by_a_real_worker(worker):
    build_world(n_stores=4, days=40)
    run = services.queue_run(as_of=AS_OF)  # autocommit: the task is published right away
    assert wait_for(lambda: AnalyticsRun.objects.get(pk=run.pk).status in {"succeeded", "failed"})
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert StoreScore.objects.filter(as_of=AS_OF).count() == 4
