import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kacrm.settings")

app = Celery("kacrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # 02:00: the tallies' deltas of the day's writes folded into one row per key (kacrm.tallies).
    "nightly-fold-visit-counts": {"task": "stores.tasks.fold_visit_counts_task", "schedule": crontab(hour=2, minute=0)},
    "nightly-fold-store-months": {"task": "planning.tasks.fold_store_months_task", "schedule": crontab(hour=2, minute=5)},
    # 02:30, after the day's visits are in: scores yesterday (SPEC §8).
    "nightly-recompute": {"task": "analytics.tasks.recompute_task", "schedule": crontab(hour=2, minute=30)},
    # 04:30, after the nightly run's scores: next month's targets and the visit-plan defaults (edits are kept).
    "nightly-planning": {"task": "planning.tasks.regenerate_plans_task", "schedule": crontab(hour=4, minute=30)},
    # Alert evaluations whose task never reached a worker (broker down when the visit was saved).
    # A sweep not started within its 5 minutes is dropped: the next one does the same work.
    "alerts-sweep-pending": {
        "task": "alerts.tasks.evaluate_pending_task", "schedule": crontab(minute="*/5"), "options": {"expires": 290},
    },
}
