import datetime as dt

import pytest
from django.utils import timezone

from analytics.models import AnalyticsRun
from kacrm.celery import app
from planning import services
from planning.models import Target, VisitPlan
from planning.tasks import regenerate_plans_task
from tests.factories import StoreFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db


def test_beat_regenerates_plans_after_the_nightly_recompute():
    schedule = app.conf.beat_schedule
    assert schedule["nightly-planning"]["task"] == "planning.tasks.regenerate_plans_task"
    nightly, planning = schedule["nightly-recompute"]["schedule"], schedule["nightly-planning"]["schedule"]
    assert (min(nightly.hour), min(nightly.minute)) < (min(planning.hour), min(planning.minute))


def test_the_task_generates_next_months_targets_and_plans_keeping_edits(rep, supervisor, region):
    store = StoreFactory(region=region, rep=rep)
    score(store, zone="attack", potential=12000, wallet_share=0.10)
    regenerate_plans_task.delay().get()
    month = Target.objects.get().month
    services.edit_target(target=Target.objects.get(), target_own=999, user=supervisor)
    services.edit_visit_plan(plan=VisitPlan.objects.get(), weekdays=[3], user=supervisor)

    result = regenerate_plans_task.delay().get()

    assert month == services.computations.next_month(timezone.localdate())
    assert result["targets"] == {"created": 0, "updated": 0, "deleted": 0, "kept": 1}
    assert result["visit_plans"] == {"created": 0, "updated": 0, "deleted": 0, "kept": 1}
    assert (Target.objects.get().target_own, VisitPlan.objects.get().weekdays) == (999, [3])


def test_the_service_waits_while_a_run_computes(region):
    AnalyticsRun.objects.create(as_of=dt.date(2026, 11, 1), status=AnalyticsRun.Status.RUNNING)
    with pytest.raises(services.ScoresBusy):
        services.regenerate_plans(today=dt.date(2026, 11, 2))


def test_regeneration_for_december_targets_january(region):
    score(StoreFactory(region=region), zone="defend", potential=12000, wallet_share=0.4)
    result = services.regenerate_plans(today=dt.date(2026, 12, 31))
    assert (result["month"], list(Target.objects.values_list("month", flat=True))) == (
        "2027-01-01", [dt.date(2027, 1, 1)])
