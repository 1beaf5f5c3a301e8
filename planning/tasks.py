from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, max_retries=12)
def regenerate_plans_task(self):
    """Next month's targets and the visit-plan defaults; waits while the nightly run still computes scores."""
    try:
        return services.regenerate_plans()
    except services.ScoresBusy as busy:
        raise self.retry(exc=busy, countdown=600)


@shared_task
def fold_store_months_task():
    """Nightly: the store months' deltas folded into one row per store and month (kacrm.tallies)."""
    return services.fold_store_months()
