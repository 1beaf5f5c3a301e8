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


@pytest.fixture
def other_region_store():
    from tests.factories import RegionFactory

    south = RegionFactory(code="south", country="CN")
    return StoreFactory(code="far", region=south)
