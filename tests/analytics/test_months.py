"""Visits packed a month at a time (analytics/months.py): every write to a month makes the next run pack it again."""
import datetime as dt

import pytest
from django.db import connection

from analytics import months, services
from analytics.models import VisitMonth, VisitMonthBuilt
from stores import services as visit_services
from stores.models import StoreVisit
from tests.analytics.test_services import AS_OF, build_world, snapshot
from tests.factories import AnalystFactory, SupervisorFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the packed months and their trigger are PostgreSQL's"),
]

OLD_DAY = AS_OF - dt.timedelta(days=100)  # 2026-03-22: a month long closed
OLD_MONTH = OLD_DAY.replace(day=1)


def built():
    return set(VisitMonthBuilt.objects.values_list("month", flat=True))


def fresh_snapshot():
    """The snapshot computed from nothing packed: what the run must give whatever the packed months hold."""
    VisitMonth.objects.all().delete()
    VisitMonthBuilt.objects.all().delete()
    services.recompute(as_of=AS_OF)
    return snapshot()


@pytest.fixture
def packed():
    stores = build_world(n_stores=6, days=364)
    services.recompute(as_of=AS_OF)
    assert OLD_MONTH in built() and len(built()) == 13  # W and XYZ's 12 months span 13 calendar months
    return stores


def test_the_packed_rows_hold_every_visit_of_their_month(packed):
    total = StoreVisit.objects.filter(date__gte=OLD_MONTH, date__lt=dt.date(2026, 4, 1)).count()
    blobs = VisitMonth.objects.filter(month=OLD_MONTH)
    assert blobs.count() == 6 and sum(len(b.blob) for b in blobs) // 8 == total


@pytest.mark.parametrize("write", ["update", "insert", "delete", "bulk upsert", "confirm", "queryset update"])
def test_any_write_to_a_month_forgets_it_and_the_next_run_sees_the_change(packed, write):
    visit = StoreVisit.objects.get(store=packed[0], date=OLD_DAY)
    if write == "update":
        visit.own_sales += 3
        visit.save()
    elif write == "insert":
        visit.delete()
        VisitMonthBuilt.objects.create(month=OLD_MONTH)  # as if packed without it
        StoreVisit.objects.create(store=packed[0], date=OLD_DAY, total_sales=visit.total_sales, own_sales=0)
    elif write == "delete":
        visit.delete()
    elif write == "bulk upsert":
        visit_services.upsert_visits(user=AnalystFactory(), visits=[
            {"store": packed[0], "date": OLD_DAY, "total_sales": visit.total_sales, "own_sales": visit.own_sales + 5},
        ])
    elif write == "confirm":
        StoreVisit.objects.filter(pk=visit.pk).update(suspect=True)
        VisitMonthBuilt.objects.get_or_create(month=OLD_MONTH)  # the suspect flag alone forgets nothing
        visit_services.confirm_suspect(visit=StoreVisit.objects.get(pk=visit.pk), user=SupervisorFactory())
    else:
        StoreVisit.objects.filter(store=packed[1], date__gte=OLD_MONTH, date__lt=OLD_DAY).update(own_sales=0)
    assert OLD_MONTH not in built()
    assert len(built()) == 12  # the other months stay packed
    services.recompute(as_of=AS_OF)
    assert OLD_MONTH in built()
    after = snapshot()
    assert after == fresh_snapshot()


def test_the_runs_own_suspect_flags_forget_no_month(packed):
    StoreVisit.objects.filter(store=packed[2], date=OLD_DAY).update(suspect=True)
    StoreVisit.objects.filter(store=packed[2], date=OLD_DAY).update(suspect=False)
    assert len(built()) == 13


def test_a_month_packed_again_replaces_its_rows():
    build_world(n_stores=3, days=60)
    month = AS_OF.replace(day=1)
    months.pack(month)
    StoreVisit.objects.filter(date__gte=month).update(own_sales=0)
    assert months.stale(month, AS_OF) == [month]
    months.pack(month)
    assert VisitMonth.objects.filter(month=month).count() == 3 and months.stale(month, AS_OF) == []
