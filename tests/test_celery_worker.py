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


def test_a_split_run_goes_through_the_chord_on_a_real_worker_and_equals_one_task(worker, settings):
    """ANALYTICS_SPLIT: observe_part_task per group of regions, then score_run_task, over Redis."""
    from analytics.models import RunPart
    from tests.analytics.test_split_run import flags, world_in_five_regions
    from tests.analytics.test_services import snapshot

    world_in_five_regions()
    services.recompute(as_of=AS_OF)  # one task, in this process: the reference
    expected, expected_flags = snapshot(), flags()
    settings.ANALYTICS_SPLIT = 3
    run = services.queue_run(as_of=AS_OF)
    assert wait_for(lambda: "announce" in AnalyticsRun.objects.get(pk=run.pk).timings
                    or AnalyticsRun.objects.get(pk=run.pk).status == "failed")
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.parts == 3
    assert snapshot() == expected and flags() == expected_flags
    assert not RunPart.objects.exists()
