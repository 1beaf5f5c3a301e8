from celery import shared_task

from . import services


@shared_task
def fold_visit_counts_task():
    """Nightly: the visit tally's deltas folded into one row per store (kacrm.tallies)."""
    return services.fold_visit_counts()
