"""planning_storemonth is kept by database triggers: whoever writes the visits, it equals their aggregate."""
import datetime as dt

import pytest
from django.db import connection
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth

from planning.models import StoreMonth
from planning.services import account_actuals, fold_store_months, store_months as summed
from stores import services as store_services
from stores.models import StoreVisit
from tests.factories import AnalystFactory, KeyAccountFactory, StoreFactory, StoreVisitFactory

pytestmark = pytest.mark.django_db


def store_months():
    """The tally read as every reader reads it (summed per store and month), then folded: the same again."""
    before = {(row["store_id"], row["month"]): (row["days"], row["own"]) for row in summed(StoreMonth.objects.all())}
    fold_store_months()
    after = {(row.store_id, row.month): (row.valid_days, row.own_sales)
             for row in StoreMonth.objects.all() if row.valid_days}
    assert after == before
    return before


def aggregated_visits():
    rows = (
        StoreVisit.objects.valid().annotate(month=TruncMonth("date")).order_by()
        .values_list("store_id", "month").annotate(n=Count("pk"), own=Sum("own_sales"))
    )
    return {(store_id, month if isinstance(month, dt.date) and not isinstance(month, dt.datetime) else month.date()):
            (n, own) for store_id, month, n, own in rows}


@pytest.fixture
def stores(region):
    return [StoreFactory(region=region), StoreFactory(region=region)]


def test_inserted_visits_count_per_store_and_month_and_invalid_days_do_not(stores):
    StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 2), total_sales=100, own_sales=20)
    StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 9), total_sales=90, own_sales=30)
    StoreVisitFactory(store=stores[0], date=dt.date(2026, 4, 1), total_sales=80, own_sales=10)
    StoreVisitFactory(store=stores[1], date=dt.date(2026, 3, 2), total_sales=0, own_sales=0)
    StoreVisitFactory(store=stores[1], date=dt.date(2026, 3, 3), total_sales=5000, own_sales=7, suspect=True)

    assert store_months() == {
        (stores[0].pk, dt.date(2026, 3, 1)): (2, 50),
        (stores[0].pk, dt.date(2026, 4, 1)): (1, 10),
    }


def test_corrections_suspect_flags_confirmations_and_deletes_keep_the_months_exact(stores, analyst):
    a = StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 2), total_sales=100, own_sales=20)
    b = StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 9), total_sales=90, own_sales=30)
    c = StoreVisitFactory(store=stores[1], date=dt.date(2026, 5, 31), total_sales=60, own_sales=6)

    store_services.correct_visit(visit=a, own_sales=25)
    StoreVisit.objects.filter(pk=b.pk).update(suspect=True)  # as the analytics run flags suspects
    assert store_months() == aggregated_visits() == {
        (stores[0].pk, dt.date(2026, 3, 1)): (1, 25), (stores[1].pk, dt.date(2026, 5, 1)): (1, 6),
    }
    store_services.confirm_suspect(visit=StoreVisit.objects.get(pk=b.pk), user=analyst)
    StoreVisit.objects.filter(pk=c.pk).update(date=dt.date(2026, 6, 1))
    assert store_months() == aggregated_visits() == {
        (stores[0].pk, dt.date(2026, 3, 1)): (2, 55), (stores[1].pk, dt.date(2026, 6, 1)): (1, 6),
    }
    StoreVisit.objects.filter(pk=a.pk).delete()
    stores[1].delete()
    assert store_months() == aggregated_visits() == {(stores[0].pk, dt.date(2026, 3, 1)): (1, 30)}


def test_the_bulk_upsert_inserts_and_updates_through_the_same_triggers(stores):
    user = AnalystFactory(username="bulk")
    batch = [
        {"store": stores[0], "date": dt.date(2026, 7, day), "total_sales": 50 + day, "own_sales": day} for day in (1, 2, 3)
    ]
    assert store_services.upsert_visits(user=user, visits=batch) == (3, 0)
    batch[1] = {**batch[1], "own_sales": 40}
    assert store_services.upsert_visits(user=user, visits=batch) == (0, 1)
    assert store_services.upsert_visits(user=user, visits=batch) == (0, 0)

    assert store_months() == aggregated_visits() == {(stores[0].pk, dt.date(2026, 7, 1)): (3, 1 + 40 + 3)}


def test_account_actuals_sum_each_stores_mean_per_valid_day_times_the_days_of_the_month(region):
    account = KeyAccountFactory()
    one, two = StoreFactory(region=region, account=account), StoreFactory(region=region, account=account)
    other = StoreFactory(region=region)
    StoreVisitFactory(store=one, date=dt.date(2026, 2, 2), total_sales=100, own_sales=10)
    StoreVisitFactory(store=one, date=dt.date(2026, 2, 3), total_sales=100, own_sales=20)
    StoreVisitFactory(store=two, date=dt.date(2026, 2, 4), total_sales=100, own_sales=3)
    StoreVisitFactory(store=two, date=dt.date(2026, 2, 5), total_sales=0, own_sales=0)  # no sales: not a valid day
    StoreVisitFactory(store=other, date=dt.date(2026, 2, 4), total_sales=100, own_sales=99)
    StoreVisitFactory(store=one, date=dt.date(2025, 12, 31), total_sales=100, own_sales=50)  # another year

    assert account_actuals(account=account, year=2026) == {2: pytest.approx((15 + 3) * 28)}


def test_on_postgresql_writers_only_add_rows_and_the_fold_leaves_one_per_store_and_month(stores):
    first = StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 2), total_sales=100, own_sales=20)
    StoreVisitFactory(store=stores[0], date=dt.date(2026, 3, 3), total_sales=100, own_sales=5)
    store_services.correct_visit(visit=first, own_sales=25)
    rows = StoreMonth.objects.count()
    if connection.vendor == "postgresql":
        assert rows == 3  # two inserts and a correction's delta: nothing waits on another writer's row
        assert fold_store_months() == 2
    else:
        assert rows == 1  # SQLite's row triggers upsert
        assert fold_store_months() == 0
    assert list(StoreMonth.objects.values_list("store_id", "month", "valid_days", "own_sales")) == [
        (stores[0].pk, dt.date(2026, 3, 1), 2, 30)]
    StoreVisit.objects.filter(store=stores[0]).delete()
    fold_store_months()
    assert not StoreMonth.objects.exclude(valid_days=0, own_sales=0).exists()
    if connection.vendor == "postgresql":
        assert not StoreMonth.objects.exists()  # a month whose deltas sum to nothing is folded away
