import traceback

from celery import chord, shared_task
from django.conf import settings

from . import services


@shared_task(bind=True, acks_late=True, max_retries=12)
def recompute_task(self, run_id=None, as_of=None):
    """Nightly (yesterday) or on request (a queued run); waits while another run holds the lock.

    With ANALYTICS_SPLIT > 1 and a real broker, the run is a chord: `observe_part_task` per group
    of regions on any worker, then `score_run_task` once.
    """
    try:
        groups = services.split_regions(settings.ANALYTICS_SPLIT) if _split() else []
        if len(groups) > 1:
            run = services.start_split(groups=groups, run_id=run_id, as_of=as_of)
            try:
                chord(observe_part_task.si(run.pk, p, group) for p, group in enumerate(groups))(score_run_task.si(run.pk))
            except Exception:  # the broker went away between two messages: never leave the run marked running
                services.fail_split(run.pk, traceback.format_exc(limit=20))
                raise
            return
        run = services.recompute(run_id=run_id, as_of=as_of)
    except services.RunNotQueued:
        return  # a redelivery of a run that started already (and finished, or was marked abandoned)
    except services.RunInProgress as busy:
        if self.request.retries >= self.max_retries:
            if run_id is not None:
                services.give_up(run_id, f"Gave up after waiting an hour for another run to finish. {busy}")
            raise
        raise self.retry(exc=busy, countdown=300)
    services.announce(run)  # the apps above react: the nightly part of SPEC §5, on the fresh suspects


def _split() -> bool:
    """Split only with real workers: in-process (eager) tasks have nobody to share the work with."""
    return settings.ANALYTICS_SPLIT > 1 and not recompute_task.app.conf.task_always_eager


@shared_task(acks_late=True)
def observe_part_task(run_id, part, region_ids):
    """A split run's per-store half for one group of regions (`services.observe_part`)."""
    services.observe_part(run_id, part, region_ids)


@shared_task(acks_late=True)
def score_run_task(run_id):
    """A split run's cross-store half, once every part is staged; then the apps above react."""
    run = services.score_parts(run_id)
    if run is not None:
        services.announce(run)
