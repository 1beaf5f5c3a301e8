"""Load: the inputs of the analytics rules (`store_rules`, `scoring`) from the database.

Visits come as a `grid.VisitGrid` (or `grid.PackedVisits`, unpacked a range of stores at a
time), stores, accounts and market shares as the frames the rules' module docstrings describe.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, connections
from django.db.models import FloatField, Max, OuterRef, Subquery
from django.db.models.functions import Cast

from accounts.models import KeyAccount
from stores.models import MarketShare, Store, StoreVisit
from stores.rules import MARKET_SHARE_COLUMNS

from . import months
from .grid import EPOCH, PACKED_LIMIT, PackedVisits, VisitGrid
from .models import AccountScore, StoreScore
from .params import Params


def first_loaded_day(as_of: date, params: Params) -> date:
    """The earliest day any rule looks at: the window W, or the 12 months of XYZ if earlier."""
    window_start = as_of - timedelta(days=params.window_days - 1)
    month = as_of.replace(day=1)
    xyz_start = date(month.year - 1, month.month, 1)
    return min(window_start, xyz_start)


def fetch_visits(first_day: date, as_of: date, partitions: int | None = None, region_ids=None) -> tuple[str, list]:
    """Every visit in [first_day, as_of] (of the stores of `region_ids`, when given) as the database
    gives it: ("packed", `months.read` rows) on PostgreSQL when the figures fit the packing, else
    ("rows", plain rows). Without `region_ids` the stale months are packed first; a split run's
    parts read what the run's start packed (`services.start_split`).
    """
    if connection.vendor == "postgresql":
        if region_ids is None:
            months.refresh(first_day, as_of, partitions or settings.ANALYTICS_PARTITIONS)
        blobs = months.read(first_day, as_of, region_ids)
        if not blobs or max(b[2] for b in blobs) < PACKED_LIMIT:
            return "packed", blobs
    where = "date >= %(first)s AND date <= %(as_of)s"
    params = {"first": first_day, "as_of": as_of}
    if region_ids is not None:  # a split run's part: never empty
        regions = {f"region{i}": region for i, region in enumerate(region_ids)}
        params.update(regions)
        where += (
            f" AND store_id IN (SELECT id FROM {Store._meta.db_table} WHERE region_id IN "
            f"({', '.join(f'%({name})s' for name in regions)}))"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT store_id, date, total_sales, own_sales, suspect_confirmed FROM {StoreVisit._meta.db_table} "
            f"WHERE {where}", params,
        )
        return "rows", cursor.fetchall()


def load_visits(store_ids, first_day: date, as_of: date, partitions: int | None = None, fetched=None):
    """The visits of `store_ids` in [first_day, as_of]: an object whose `rows(start, stop)` gives
    the grid of those stores (rows in `store_ids` order) and whose `visits` counts them.

    `fetched` is what `fetch_visits` gave, when the caller started it earlier; other stores'
    visits (inactive ones) are dropped on the way into the grid.
    """
    store_ids = np.asarray(store_ids, dtype=np.int64)
    first, days = first_day.toordinal() - EPOCH, (as_of - first_day).days + 1
    kind, rows = fetched or fetch_visits(first_day, as_of, partitions)
    if kind == "packed":
        return PackedVisits.from_rows(store_ids, first, days, rows)
    columns = list(zip(*rows)) if rows else [[]] * 5
    grid = VisitGrid.empty(store_ids, first, days)
    day = pd.to_datetime(pd.Series(columns[1], dtype=object)).to_numpy().astype("datetime64[D]").astype(np.int64)
    grid.put(
        pd.Index(store_ids).get_indexer(np.asarray(columns[0], dtype=np.int64)), day - first,
        *(np.asarray(c, dtype=t) for c, t in zip(columns[2:], (np.int64, np.int64, bool))),
    )
    return grid


def load_prior_purchases(first_day: date, region_ids=None) -> pd.Series:
    """store_id -> last purchase day before `first_day` (outside W a day is valid when it sold)."""
    visits = StoreVisit.objects.all() if region_ids is None else StoreVisit.objects.filter(store__region_id__in=region_ids)
    rows = list(
        visits.filter(date__lt=first_day, own_sales__gt=0, total_sales__gt=0)
        .values("store_id")
        .annotate(last=Max("date"))
        .values_list("store_id", "last")
    )
    if not rows:
        return pd.Series(dtype="datetime64[ns]")
    return pd.to_datetime(pd.Series(dict(rows)))


def _previous_zone(model, key: str, as_of: date):
    """The zone in the latest earlier run (SPEC §3.7 hysteresis); None when absent from that run."""
    previous = model.objects.filter(as_of__lt=as_of).aggregate(day=Max("as_of"))["day"]
    return Subquery(model.objects.filter(**{key: OuterRef("pk")}, as_of=previous).values("zone")[:1])


STORE_COLUMNS = [
    "id", "region_id", "region__country", "account_id", "format", "floor_area_m2", "checkouts", "shelves", "open_24h",
    "previous_zone",
]


def load_stores(as_of: date, region_ids=None) -> pd.DataFrame:
    """The active stores (of `region_ids`, when given), as `store_rules` reads them."""
    active = Store.objects.active()
    if region_ids is not None:
        active = active.filter(region_id__in=region_ids)
    rows = active.annotate(
        previous_zone=_previous_zone(StoreScore, "store", as_of), floor_area_m2_float=Cast("floor_area_m2", FloatField())
    ).values_list(*(c if c != "floor_area_m2" else "floor_area_m2_float" for c in STORE_COLUMNS))
    frame = pd.DataFrame.from_records(list(rows), columns=STORE_COLUMNS)
    frame = frame.rename(columns={"id": "store_id", "region__country": "country"})
    # Few stores close on a weekday: decoding only theirs saves a JSON parse per store.
    closed = dict(active.exclude(closed_weekdays=[]).values_list("id", "closed_weekdays"))
    frame["closed_weekdays"] = [closed.get(pk, []) for pk in frame["store_id"].tolist()]
    frame["format"] = frame["format"].replace("", None)
    frame["account_id"] = frame["account_id"].astype("Int64")
    for column in ["floor_area_m2", "checkouts", "shelves"]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def load_market_shares() -> pd.DataFrame:
    rows = list(MarketShare.objects.values_list(*MARKET_SHARE_COLUMNS))
    return pd.DataFrame.from_records(rows, columns=MARKET_SHARE_COLUMNS)


def load_accounts(as_of: date) -> pd.DataFrame:
    rows = KeyAccount.objects.annotate(previous_zone=_previous_zone(AccountScore, "account", as_of)).values(
        "id", "kind", "previous_zone"
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["id", "kind", "previous_zone"])
    return frame.rename(columns={"id": "account_id"})


def _in_own_connection(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's connections only


def in_background(pool: ThreadPoolExecutor, function, *args) -> Future:
    """Run `function` on the pool with its own connection, or at once on this one inside a
    transaction, whose writes other connections cannot see."""
    if connection.in_atomic_block:
        done = Future()
        done.set_result(function(*args))
        return done
    return pool.submit(_in_own_connection, function, *args)
