"""Load -> compute -> save: the nightly analytics run (SPEC §3, §4) as one snapshot per `as_of`."""

from __future__ import annotations

import dataclasses
import math
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import FloatField, Max, OuterRef, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import KeyAccount
from stores.models import MarketShare, Store, StoreVisit
from stores.rules import MARKET_SHARE_COLUMNS

from . import computations
from .models import AccountScore, AnalyticsRun, AnalyticsSettings, PotentialModelFit, StoreScore

STALE_RUN = timedelta(hours=6)  # a run "running" longer than this died with its worker
OBSERVE_CHUNK = 2000  # stores per grid: arrays of a few MB stay in the CPU's cache and the heap
SAVE_BATCH = 2000  # rows per INSERT: 2000 x 24 columns stays under every driver's parameter limit


class RunInProgress(Exception):
    """Another analytics run holds the lock."""


def default_as_of() -> date:
    """The nightly run scores yesterday: today's visits are still being logged."""
    return timezone.localdate() - timedelta(days=1)


# --- loading ------------------------------------------------------------------------------


def _first_loaded_day(as_of: date, params: computations.Params) -> date:
    """The earliest day any rule looks at: the window W, or the 12 months of XYZ if earlier."""
    window_start = as_of - timedelta(days=params.window_days - 1)
    month = as_of.replace(day=1)
    xyz_start = date(month.year - 1, month.month, 1)
    return min(window_start, xyz_start)


# Visits travel from PostgreSQL as one bytea per store: string_agg of int8send(packed row). A
# COPY of one message per row costs ~1 µs a row in psycopg; 20,000 blobs cost nothing.
# Packed bits: day offset from first_day (14) | confirmed (1) | total_sales (24) | own_sales (24).
_PACKED_LIMIT = 1 << 24  # MAX_DAILY_UNITS (10 million) fits; larger figures take the row path
_PACKED_ROW = (
    "int8send(((date - %(first)s::date)::int8 << 49) | (CASE WHEN suspect_confirmed THEN 1 ELSE 0 END::int8 << 48)"
    " | (total_sales::int8 << 24) | own_sales::int8)"
)


_EPOCH = date(1970, 1, 1).toordinal()  # day numbers count from 1970-01-01, as numpy's datetime64[D]


@dataclasses.dataclass
class PackedVisits:
    """Visits as packed blobs (several per store at most), unpacked into a grid per range of stores.

    Unpacking a range at a time keeps every array a few MB: on a VM, touching fresh memory
    costs more than the arithmetic on it, and small arrays are reused from the heap.
    """

    store_ids: np.ndarray  # the grid rows
    first: int
    days: int
    blobs: list  # packed bytes, ordered by row
    blob_rows: np.ndarray  # the row of each blob
    starts: np.ndarray  # (n + 1,) the first blob of each row

    @classmethod
    def from_rows(cls, store_ids, first: int, days: int, rows: list) -> PackedVisits:
        """From (store_id, blob, ...) rows; other stores' blobs are dropped."""
        store_ids = np.asarray(store_ids, dtype=np.int64)
        blob_rows = pd.Index(store_ids).get_indexer(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
        order = np.argsort(blob_rows, kind="stable")
        order = order[blob_rows[order] >= 0]
        blob_rows = blob_rows[order]
        starts = np.searchsorted(blob_rows, np.arange(len(store_ids) + 1))
        return cls(store_ids, first, days, [rows[i][1] for i in order], blob_rows, starts)

    @property
    def visits(self) -> int:
        return sum(len(b) for b in self.blobs) // 8

    def rows(self, start: int, stop: int) -> computations.VisitGrid:
        """The grid of the stores start..stop-1."""
        grid = computations.VisitGrid.empty(self.store_ids[start:stop], self.first, self.days)
        blobs = self.blobs[self.starts[start] : self.starts[stop]]
        lengths = np.fromiter((len(b) // 8 for b in blobs), np.int64, len(blobs))
        packed = np.frombuffer(b"".join(blobs), dtype=">i8").astype(np.int64)
        grid.put(
            np.repeat(self.blob_rows[self.starts[start] : self.starts[stop]] - start, lengths),
            packed >> 49, (packed >> 24) & 0xFFFFFF, packed & 0xFFFFFF, ((packed >> 48) & 1).astype(bool),
        )
        return grid


def fetch_visits(first_day: date, as_of: date, partitions: int | None = None) -> tuple[str, list]:
    """Every visit in [first_day, as_of] as the database gives it: ("packed", (store_id, blob,
    max total) rows) on PostgreSQL when the figures fit the packing, else ("rows", plain rows)."""
    table = StoreVisit._meta.db_table
    where = "date >= %(first)s AND date <= %(as_of)s"
    params = {"first": first_day, "as_of": as_of}
    if connection.vendor == "postgresql":
        blobs = _packed_rows(table, where, params, partitions or settings.ANALYTICS_PARTITIONS)
        if not blobs or max(b[2] for b in blobs) < _PACKED_LIMIT:
            return "packed", blobs
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT store_id, date, total_sales, own_sales, suspect_confirmed FROM {table} WHERE {where}", params
        )
        return "rows", cursor.fetchall()


def load_visits(store_ids, first_day: date, as_of: date, partitions: int | None = None, fetched=None):
    """The visits of `store_ids` in [first_day, as_of]: an object whose `rows(start, stop)` gives
    the grid of those stores (rows in `store_ids` order) and whose `visits` counts them.

    `fetched` is what `fetch_visits` gave, when the caller started it earlier; other stores'
    visits (inactive ones) are dropped on the way into the grid.
    """
    store_ids = np.asarray(store_ids, dtype=np.int64)
    first, days = first_day.toordinal() - _EPOCH, (as_of - first_day).days + 1
    kind, rows = fetched or fetch_visits(first_day, as_of, partitions)
    if kind == "packed":
        return PackedVisits.from_rows(store_ids, first, days, rows)
    columns = list(zip(*rows)) if rows else [[]] * 5
    grid = computations.VisitGrid.empty(store_ids, first, days)
    day = pd.to_datetime(pd.Series(columns[1], dtype=object)).to_numpy().astype("datetime64[D]").astype(np.int64)
    grid.put(
        pd.Index(store_ids).get_indexer(np.asarray(columns[0], dtype=np.int64)), day - first,
        *(np.asarray(c, dtype=t) for c, t in zip(columns[2:], (np.int64, np.int64, bool))),
    )
    return grid


def _packed_rows(table: str, where: str, params: dict, partitions: int) -> list:
    """(store_id, packed bytes, max total) rows, aggregating disjoint page ranges of the table at once.

    PostgreSQL 15 cannot aggregate string_agg in parallel itself, so each thread scans its own
    range of pages (a TID range scan) on its own connection; a store's rows may come back in
    several blobs, which the grid does not mind. Inside a transaction (tests, a caller's atomic
    block) other connections could not see its writes, so the ranges run in turn on this one.
    The rows travel in binary: bytea as text would be hex, twice the size, to encode and decode.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s) / current_setting('block_size')::int", [table])
        pages = cursor.fetchone()[0]
    step = pages // partitions + 1
    ranges = [(i * step, (i + 1) * step) for i in range(partitions)]
    sql = (
        f"SELECT store_id, string_agg({_PACKED_ROW}, ''::bytea), max(total_sales) FROM {table} "
        f"WHERE {where} AND ctid >= %(from_page)s::tid AND ctid < %(to_page)s::tid GROUP BY store_id"
    )

    def aggregate(page_range):
        with transaction.atomic():
            connection.ensure_connection()
            with psycopg.Cursor(connection.connection) as cursor:  # Django's binds client-side: text results only
                # A hash aggregate of 20,000 growing strings needs room; JIT costs more than it saves here.
                cursor.execute("SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)")
                low, high = page_range
                cursor.execute(sql, {**params, "from_page": f"({low},0)", "to_page": f"({high},0)"}, binary=True)
                return cursor.fetchall()

    with ThreadPoolExecutor(partitions) as pool:
        parts = [_start(pool, aggregate, page_range) for page_range in ranges]
        return [row for part in parts for row in part.result()]


def load_prior_purchases(first_day: date) -> pd.Series:
    """store_id -> last purchase day before `first_day` (outside W a day is valid when it sold)."""
    rows = list(
        StoreVisit.objects.filter(date__lt=first_day, own_sales__gt=0, total_sales__gt=0)
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


def load_stores(as_of: date) -> pd.DataFrame:
    active = Store.objects.active()
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


# --- the per-store half, in partitions ------------------------------------------------------


def _in_own_connection(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    finally:
        connections.close_all()  # this thread's connections only


def observe(*, as_of: date, params, partitions: int | None = None):
    """Load the active stores and their visits, and apply the per-store rules.

    Returns (stores, observations, suspects, visits loaded). The database aggregates the visits
    on other connections while this one loads the stores. `computations.observe_grid` gives
    each store's row from that store's visits alone, so the stores are observed in ranges of
    OBSERVE_CHUNK on parallel threads (numpy releases the GIL in its loops), and a deployment at
    100,000 stores can run it per region on several workers.
    """
    partitions = partitions or settings.ANALYTICS_PARTITIONS
    first_day = _first_loaded_day(as_of, params)
    with ThreadPoolExecutor(1) as background:
        fetching = _start(background, fetch_visits, first_day, as_of, partitions)
        stores = load_stores(as_of)
        prior = load_prior_purchases(first_day)
        by_id = stores.sort_values("store_id").set_index("store_id")
        visits = load_visits(by_id.index, first_day, as_of, fetched=fetching.result())
    bounds = [*range(0, max(len(by_id), 1), OBSERVE_CHUNK), len(by_id)]  # one chunk at least, maybe empty

    def observe_rows(start, stop):
        return computations.observe_grid(visits.rows(start, stop), prior, by_id.iloc[start:stop], params, as_of)

    with ThreadPoolExecutor(partitions) as pool:
        results = list(pool.map(observe_rows, bounds[:-1], bounds[1:]))
    observed = pd.concat([r[0] for r in results])
    suspects = pd.concat([r[1] for r in results], ignore_index=True)
    return stores, observed, suspects, visits.visits


def _start(pool: ThreadPoolExecutor, function, *args) -> Future:
    """Run `function` on the pool with its own connection, or at once on this one inside a
    transaction, whose writes other connections cannot see."""
    if connection.in_atomic_block:
        done = Future()
        done.set_result(function(*args))
        return done
    return pool.submit(_in_own_connection, function, *args)


# --- saving -------------------------------------------------------------------------------


def _clean(value):
    """A DataFrame cell as a database value: NaN/NA -> None, numpy scalars -> Python."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def _records(frame: pd.DataFrame, fields: list[str]):
    for row in frame[fields].itertuples(index=False, name=None):
        yield {field: _clean(value) for field, value in zip(fields, row)}


STORE_FIELDS = [
    "obs_days", "observed", "p_obs", "p_model", "extrapolated", "potential", "potential_source", "own_annual",
    "wallet_share", "market_share", "market_share_source", "key_potential", "zone", "abc", "xyz", "trad_ka",
    "missed_attack", "false_ka", "recency", "customer_status",
]
ACCOUNT_FIELDS = [
    "potential", "own_annual", "wallet_share", "active_stores", "known_stores", "coverage", "market_share",
    "market_share_source", "key_potential", "zone", "abc", "trad_ka", "missed_attack", "false_ka", "lifeblood", "tier",
]
TEXT_FIELDS = {"market_share_source", "tier"}


def _rows(model, frame, key, fields, as_of):
    for record in _records(frame, [key, *fields]):
        for field in TEXT_FIELDS & record.keys():
            record[field] = record[field] or ""
        record[key.removesuffix("_id") + "_id"] = record.pop(key)
        yield model(as_of=as_of, **record)


def _insert(model, frame: pd.DataFrame, key: str, fields: list[str], as_of: date) -> None:
    """Insert one result row per frame row: COPY on PostgreSQL (20,000 rows in ~0.2 s), else bulk_create."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create(_rows(model, frame, key, fields, as_of), batch_size=SAVE_BATCH)
        return
    columns = [key, "as_of", *(model._meta.get_field(f).column for f in fields)]
    cells = [frame[key].astype(int).astype(str).tolist(), [as_of.isoformat()] * len(frame)]
    cells += [_copy_cells(frame[field], model._meta.get_field(field).get_internal_type()) for field in fields]
    text = "".join("\t".join(row) + "\n" for row in zip(*cells))
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(text)


def _copy_cells(values: pd.Series, kind: str) -> list[str]:
    """A column as COPY text cells (twice as fast as pandas' to_csv); missing numbers are \\N.

    Floats print as repr, which round-trips, so the stored values are exactly the computed ones.
    """
    if kind == "BooleanField":
        return np.where(values.to_numpy(dtype=bool), "t", "f").tolist()
    if kind in {"CharField", "TextField"}:
        return values.fillna("").tolist()
    numbers = values.to_numpy(dtype=float, na_value=np.nan).tolist()
    show = repr if kind == "FloatField" else (lambda x: str(int(x)))
    return ["\\N" if x != x else show(x) for x in numbers]


def save_snapshot(*, as_of, store_scores, account_scores, fit, suspects, is_latest: bool) -> None:
    """Replace the `as_of` snapshot in one transaction: readers see the old rows or the new, never half."""
    with transaction.atomic():
        StoreScore.objects.filter(as_of=as_of).delete()
        AccountScore.objects.filter(as_of=as_of).delete()
        PotentialModelFit.objects.filter(as_of=as_of).delete()
        _insert(StoreScore, store_scores, "store_id", STORE_FIELDS, as_of)
        _insert(AccountScore, account_scores, "account_id", ACCOUNT_FIELDS, as_of)
        PotentialModelFit.objects.create(
            as_of=as_of, n=fit.n, m=fit.m, r2=_clean(fit.r2), r2_adj=_clean(fit.r2_adj), rmse=_clean(fit.rmse),
            press_r2=_clean(fit.press_r2), usable=fit.usable, reason=fit.reason,
            coefficients={k: _clean(v) for k, v in fit.coefficients.items()}, ranges=fit.ranges,
        )
        if is_latest:
            _flag_suspects(suspects)
            _set_tiers(account_scores)


def _flag_suspects(suspects: pd.DataFrame) -> None:
    """The visits' `suspect` flag mirrors the latest run."""
    StoreVisit.objects.filter(suspect=True).update(suspect=False)
    if suspects.empty:
        return
    table = StoreVisit._meta.db_table
    pairs = list(zip(suspects["store_id"].astype(int), suspects["date"].dt.date))
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), 500):
            chunk = pairs[start : start + 500]
            where = " OR ".join(["(store_id = %s AND date = %s)"] * len(chunk))
            cursor.execute(f"UPDATE {table} SET suspect = TRUE WHERE {where}", [v for pair in chunk for v in pair])


def _set_tiers(account_scores: pd.DataFrame) -> None:
    """Computed tiers land on the accounts whose tier nobody set by hand: one UPDATE per tier.

    (bulk_update's CASE of one branch per account took 0.13 s for 400 accounts.)"""
    tiers = account_scores[["account_id", "tier"]].astype({"tier": object}).fillna({"tier": ""})
    for tier, ids in tiers.groupby("tier")["account_id"]:
        KeyAccount.objects.filter(tier_override=False, pk__in=ids.astype(int).tolist()).exclude(tier=tier).update(
            tier=tier
        )


# --- the run ------------------------------------------------------------------------------


def queue_run(*, as_of: date | None = None, requested_by=None) -> AnalyticsRun:
    """Record a requested run and hand it to a worker after the transaction commits."""
    from .tasks import recompute_task

    run = AnalyticsRun.objects.create(as_of=as_of or default_as_of(), requested_by=requested_by)
    transaction.on_commit(lambda: recompute_task.delay(run_id=run.pk))
    return run


def _acquire(run: AnalyticsRun) -> None:
    AnalyticsRun.objects.filter(
        status=AnalyticsRun.Status.RUNNING, started_at__lt=timezone.now() - STALE_RUN
    ).update(status=AnalyticsRun.Status.FAILED, error="Abandoned: the worker stopped before finishing.", finished_at=timezone.now())
    try:
        with transaction.atomic():
            updated = AnalyticsRun.objects.filter(pk=run.pk, status=AnalyticsRun.Status.QUEUED).update(
                status=AnalyticsRun.Status.RUNNING, started_at=timezone.now()
            )
    except IntegrityError:
        raise RunInProgress(f"Another analytics run is in progress; run {run.pk} for {run.as_of} waits.")
    if not updated:
        raise RunInProgress(f"Run {run.pk} is not queued any more.")
    run.refresh_from_db()


def recompute(*, as_of: date | None = None, run_id: int | None = None, requested_by=None) -> AnalyticsRun:
    """Score every active store and account for `as_of` (default yesterday) and save the snapshot."""
    params = AnalyticsSettings.current()
    if run_id is None:
        run = AnalyticsRun.objects.create(as_of=as_of or default_as_of(), requested_by=requested_by)
    else:
        run = AnalyticsRun.objects.get(pk=run_id)
    _acquire(run)
    as_of = run.as_of
    run.params = dataclasses.asdict(params)
    timings, started = {}, time.perf_counter()
    try:
        tick = time.perf_counter()
        stores, observed, suspects, visits = observe(as_of=as_of, params=params)
        timings["observe"] = time.perf_counter() - tick

        tick = time.perf_counter()
        market_shares = load_market_shares()
        accounts = load_accounts(as_of)
        store_scores, fit = computations.score_observations(observed, market_shares, params, as_of)
        account_scores = computations.score_accounts(store_scores, stores, accounts, market_shares, params, as_of)
        timings["score"] = time.perf_counter() - tick

        tick = time.perf_counter()
        latest = StoreScore.objects.aggregate(last=Max("as_of"))["last"]
        save_snapshot(
            as_of=as_of, store_scores=store_scores, account_scores=account_scores, fit=fit, suspects=suspects,
            is_latest=latest is None or as_of >= latest,
        )
        timings["save"] = time.perf_counter() - tick
    except Exception:
        run.status = AnalyticsRun.Status.FAILED
        run.error = traceback.format_exc(limit=20)
        raise
    else:
        run.status = AnalyticsRun.Status.SUCCEEDED
        zones = store_scores["zone"].value_counts()
        run.counts = {
            "stores": len(store_scores),
            "visits": visits,
            "observed": int(store_scores["observed"].sum()),
            "potential_known": int(store_scores["potential"].notna().sum()),
            "suspects": len(suspects),
            "accounts": len(account_scores),
            "model_usable": bool(fit.usable),
            **{f"zone_{zone}": int(n) for zone, n in zones.items()},
        }
    finally:
        timings["total"] = time.perf_counter() - started
        run.timings = {k: round(v, 3) for k, v in timings.items()}
        run.finished_at = timezone.now()
        run.save()
    return run
