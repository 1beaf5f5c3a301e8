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
    next_month = services.computations.next_month(timezone.localdate())
    services.edit_target(target=Target.objects.get(month=next_month), target_own=999, user=supervisor)
    services.edit_visit_plan(plan=VisitPlan.objects.get(), weekdays=[3], user=supervisor)

    result = regenerate_plans_task.delay().get()

    assert result["targets"] == {"created": 0, "updated": 0, "deleted": 0, "kept": 1}
    assert result["visit_plans"] == {"created": 0, "updated": 0, "deleted": 0, "kept": 1}
    assert (Target.objects.get(month=next_month).target_own, VisitPlan.objects.get().weekdays) == (999, [3])


def test_the_service_waits_while_a_run_computes(region):
    AnalyticsRun.objects.create(as_of=dt.date(2026, 11, 1), status=AnalyticsRun.Status.RUNNING)
    with pytest.raises(services.ScoresBusy):
        services.regenerate_plans(today=dt.date(2026, 11, 2))


def test_regeneration_for_december_targets_january(region):
    score(StoreFactory(region=region), zone="defend", potential=12000, wallet_share=0.4)
    result = services.regenerate_plans(today=dt.date(2026, 12, 31))
    assert (result["month"], list(Target.objects.values_list("month", flat=True))) == (
        "2027-01-01", [dt.date(2026, 12, 1), dt.date(2027, 1, 1)])


def test_the_command_regenerates_a_given_month(region):
    from io import StringIO

    from django.core.management import call_command

    score(StoreFactory(region=region), zone="attack", potential=12000, wallet_share=0.1)
    out = StringIO()
    call_command("regenerate_plans", "--month", "2027-03", stdout=out)
    assert list(Target.objects.values_list("month", flat=True)) == [dt.date(2027, 3, 1)]
    assert out.getvalue().startswith("Planning 2027-03: targets {'created': 1")


def test_the_running_month_gets_targets_only_when_it_has_none(region):
    store = StoreFactory(region=region)
    score(store, zone="defend", potential=12000, wallet_share=0.4)
    services.regenerate_plans(today=dt.date(2026, 11, 20))
    score(store, zone="defend", potential=24000, wallet_share=0.4, as_of=dt.date(2026, 11, 21))

    services.regenerate_plans(today=dt.date(2026, 11, 21))

    assert list(Target.objects.values_list("month", "target_own")) == [
        (dt.date(2026, 11, 1), pytest.approx(400)), (dt.date(2026, 12, 1), pytest.approx(800))]
