import datetime as dt

import pytest

from stores.models import StoreVisit
from tests.factories import MarketShareFactory, StoreFactory

# Visits end well before today, so every date below passes "not in the future" checks.
D = dt.date(2025, 3, 1)


def day(n: int) -> dt.date:
    """Day n of a test timeline (day 0 = D)."""
    return D + dt.timedelta(days=n)


def put(store, first: int, last: int, own: int, total: int = 100, **fields) -> None:
    """Daily visits of `store` from day `first` to day `last` inclusive (bulk: no signal, no evaluation)."""
    StoreVisit.objects.bulk_create(
        StoreVisit(store=store, date=day(n), rep=store.rep, total_sales=total, own_sales=own, **fields)
        for n in range(first, last + 1)
    )


@pytest.fixture
def share(region):
    """The region's market share: 25%, so FSI = 4 x own when total is 100 a day."""
    return MarketShareFactory(country="CN", region=region, share=0.25)


@pytest.fixture
def store(my_store, share):
    return my_store


def make_alert(store, *, status="open", fsi=72.0, opened_on=None, **fields):
    """An alert row as an evaluation would leave it (for the API and page tests)."""
    from alerts.models import Alert

    opened_on = opened_on or day(34)
    values = dict(
        store=store, status=status, opened_on=opened_on, fsi_at_open=fsi, fsi_week_before=fsi + 2, latest_on=opened_on,
        fsi_latest=fsi, store_share=0.25 * fsi / 100, market_share=0.25, market_share_source="region", valid_days=20,
    )
    if status in ("resolved", "recovered"):
        values["closed_on"] = opened_on
    values.update(fields)
    return Alert.objects.create(**values)


@pytest.fixture
def south():
    """Another region with its own supervisor, store and alert: data that must not leak."""
    from tests.factories import RegionFactory, SupervisorFactory

    region = RegionFactory(code="south", name="South", country="CN")
    sup2 = SupervisorFactory(username="sup2")
    region.supervisors.add(sup2)
    far = StoreFactory(code="far", name="Far Store", region=region)
    return {"region": region, "supervisor": sup2, "store": far, "alert": make_alert(far, fsi=60.0)}
