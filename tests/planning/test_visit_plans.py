import datetime as dt

import pytest

from planning import services
from planning.models import VisitPlan
from tests.factories import StoreFactory, StoreVisitFactory
from tests.planning.helpers import score

pytestmark = pytest.mark.django_db
MON = dt.date(2026, 11, 16)  # a Monday
SUN = MON - dt.timedelta(days=1)


def test_plans_default_from_the_latest_zone_and_skip_unassigned_stores(rep, region):
    attack = StoreFactory(region=region, rep=rep, closed_weekdays=[3])
    defend = StoreFactory(region=region, rep=rep)
    unscored = StoreFactory(region=region, rep=rep)
    StoreFactory(region=region, rep=None)
    score(attack, zone="attack")
    score(defend, zone="defend")

    assert services.generate_visit_plans() == {"created": 3, "updated": 0, "deleted": 0, "kept": 0}

    plans = {p.store_id: (p.rep_id, p.zone, p.weekdays) for p in VisitPlan.objects.all()}
    assert plans == {
        attack.pk: (rep.pk, "attack", [0, 1, 2, 4]),
        defend.pk: (rep.pk, "defend", [0, 2, 4]),
        unscored.pk: (rep.pk, "unclassified", [unscored.pk % 5]),
    }


def test_edited_weekdays_survive_regeneration_while_the_rep_follows_the_store(rep, other_rep, supervisor, region):
    store = StoreFactory(region=region, rep=rep)
    score(store, zone="attack")
    services.generate_visit_plans()
    services.edit_visit_plan(plan=VisitPlan.objects.get(), weekdays=[4, 1], user=supervisor)
    store.rep = other_rep
    store.save()

    assert services.generate_visit_plans()["kept"] == 1

    plan = VisitPlan.objects.get()
    assert (plan.weekdays, plan.rep, plan.edited_by) == ([1, 4], other_rep, supervisor)


def test_regenerating_changes_nothing_the_second_time(rep, region):
    score(StoreFactory(region=region, rep=rep), zone="defend")
    services.generate_visit_plans()
    assert services.generate_visit_plans() == {"created": 0, "updated": 0, "deleted": 0, "kept": 0}


def test_compliance_across_a_week_boundary_with_a_closed_day_and_a_missed_visit(rep, region):
    defend = StoreFactory(region=region, rep=rep, closed_weekdays=[2])  # Mon, Fri planned; Wed closed
    score(defend, zone="defend")
    services.generate_visit_plans()
    VisitPlan.objects.update(weekdays=[0, 2, 4])
    StoreVisitFactory(store=defend, date=SUN - dt.timedelta(days=6))  # Monday of the week before
    StoreVisitFactory(store=defend, date=SUN)  # Sunday: still the week before
    StoreVisitFactory(store=defend, date=MON)  # Monday: this week

    result = services.weekly_compliance(
        plans=VisitPlan.objects.all(), weeks=[MON - dt.timedelta(days=7), MON], today=MON + dt.timedelta(days=6),
    )

    assert result == {(rep.pk, MON - dt.timedelta(days=7)): (2, 2), (rep.pk, MON): (2, 1)}


def test_plans_of_reassigned_or_inactive_stores_do_not_count(rep, other_rep, region):
    moved = StoreFactory(region=region, rep=rep)
    closed = StoreFactory(region=region, rep=rep)
    services.generate_visit_plans()
    moved.rep = other_rep
    moved.save()
    closed.active = False
    closed.save()
    assert services.weekly_compliance(plans=VisitPlan.objects.all(), weeks=[MON], today=MON) == {}


def test_todays_stores_are_those_planned_for_the_weekday_and_open(rep, region):
    monday = StoreFactory(region=region, rep=rep)
    tuesday = StoreFactory(region=region, rep=rep)
    closed_monday = StoreFactory(region=region, rep=rep, closed_weekdays=[0])
    services.generate_visit_plans()
    VisitPlan.objects.filter(store=monday).update(weekdays=[0])
    VisitPlan.objects.filter(store=tuesday).update(weekdays=[1])
    VisitPlan.objects.filter(store=closed_monday).update(weekdays=[0])
    assert services.todays_store_ids(rep=rep, today=MON) == [monday.pk]
