"""What starts an evaluation (SPEC §5): every save of visits, in the writer's transaction, and each analytics run."""
import time

from django.db.models.signals import post_save
from django.dispatch import receiver

from analytics.signals import run_succeeded
from stores.models import StoreVisit
from stores.signals import visits_saved

from . import evaluation, publish


@receiver(post_save, sender=StoreVisit, dispatch_uid="alerts-visit-saved")
def visit_saved(sender, instance, raw=False, **kwargs):
    # Single saves: the API, the pages, the admin. `raw` is a fixture load: nothing to evaluate.
    # (No post_delete receiver: it would stop Django's fast cascade delete of a store's visits; the
    # nightly run re-evaluates a store whose visit was deleted.)
    if not raw:
        publish.request_evaluation(store_ids=[instance.store_id])


@receiver(visits_saved, dispatch_uid="alerts-visits-saved")
def visits_written(sender, store_ids, **kwargs):
    # Writes that bypass save(): the bulk upsert, suspect confirmations.
    publish.request_evaluation(store_ids=store_ids)


@receiver(run_succeeded, dispatch_uid="alerts-run-succeeded")
def run_scored(sender, run, **kwargs):
    # The nightly part of §5, on the run's fresh suspects; the summary ends the recompute command's line.
    tick = time.perf_counter()
    outcome = evaluation.evaluate_nightly(as_of=run.as_of)
    if outcome is None:
        return "alerts=skipped (a later day is scored)"
    return (
        f"alerts_evaluated={outcome.evaluated} alerts_opened={len(outcome.opened)} "
        f"alerts_recovered={len(outcome.recovered)} alerts={time.perf_counter() - tick:.2f}s"
    )
