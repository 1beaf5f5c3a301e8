"""Every save of visits asks for an evaluation of its stores (SPEC §5), in the writer's transaction."""
from django.db.models.signals import post_save
from django.dispatch import receiver

from stores.models import StoreVisit
from stores.signals import visits_saved

from . import publish


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
