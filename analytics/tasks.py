from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, max_retries=12)
def recompute_task(self, run_id=None, as_of=None):
    """Nightly (yesterday) or on request (a queued run); waits while another run holds the lock."""
    try:
        run = services.recompute(run_id=run_id, as_of=as_of)
    except services.RunNotQueued:
        return  # a redelivery of a run that started already (and finished, or was marked abandoned)
    except services.RunInProgress as busy:
        raise self.retry(exc=busy, countdown=300)
    services.announce(run)  # the apps above react: the nightly part of SPEC §5, on the fresh suspects
