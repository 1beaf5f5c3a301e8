from celery import shared_task

from . import evaluation


@shared_task(acks_late=True, ignore_result=True)
def evaluate_pending_task(store_ids=None):
    """After visits are saved (their stores), or the periodic sweep (every pending store); idempotent."""
    evaluation.evaluate_pending(store_ids=store_ids)
