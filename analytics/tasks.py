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
        if self.request.retries >= self.max_retries:
            if run_id is not None:
                services.give_up(run_id, f"Gave up after waiting an hour for another run to finish. {busy}")
            raise
        raise self.retry(exc=busy, countdown=300)
    services.announce(run)  # the apps above react: the nightly part of SPEC §5, on the fresh suspects
