"""Load -> compute -> save: the nightly analytics run (SPEC §3, §4) as one snapshot per `as_of`."""
import dataclasses
import math
import time
import traceback
from datetime import date, timedelta

import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from accounts.models import KeyAccount
from stores.models import MarketShare, Store, StoreVisit

from . import computations
from .models import AccountScore, AnalyticsRun, AnalyticsSettings, PotentialModelFit, StoreScore

STALE_RUN = timedelta(hours=6)  # a run "running" longer than this died with its worker
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


# PostgreSQL binary COPY of (int4, int4, int4, int4, bool) NOT NULL rows: every tuple has the same
# 39-byte layout (field count, then length + value per field), so numpy reads it without a loop.
_COPY_HEADER = 19  # signature (11) + flags (4) + header extension length (4)
_COPY_TUPLE = np.dtype([
    ("fields", ">i2"), ("l0", ">i4"), ("store_id", ">i4"), ("l1", ">i4"), ("day", ">i4"),
    ("l2", ">i4"), ("total_sales", ">i4"), ("l3", ">i4"), ("own_sales", ">i4"), ("l4", ">i4"), ("confirmed", "u1"),
])


def _visit_frame(store_id, day, total, own, confirmed) -> pd.DataFrame:
    return pd.DataFrame({
        "store_id": np.asarray(store_id, dtype=np.int64),
        "date": pd.to_datetime(np.asarray(day, dtype=np.int64), unit="D"),
        "total_sales": np.asarray(total, dtype=np.int64),
        "own_sales": np.asarray(own, dtype=np.int64),
        "confirmed": np.asarray(confirmed, dtype=bool),
    })


def load_visits(first_day: date, as_of: date) -> pd.DataFrame:
    """Visits in [first_day, as_of]: store_id, date, total_sales, own_sales, confirmed.

    Inactive stores' rows are dropped by the computation, so the query is a plain range scan.
    """
    table = StoreVisit._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = (
                f"COPY (SELECT store_id::int4, (date - DATE '1970-01-01')::int4, total_sales, own_sales, "
                f"suspect_confirmed FROM {table} WHERE date >= '{first_day.isoformat()}' "
                f"AND date <= '{as_of.isoformat()}') TO STDOUT (FORMAT binary)"
            )
            with cursor.cursor.copy(sql) as copy:
                data = b"".join(bytes(chunk) for chunk in copy)
            rows = (len(data) - _COPY_HEADER - 2) // _COPY_TUPLE.itemsize
            tuples = np.frombuffer(data, dtype=_COPY_TUPLE, count=max(rows, 0), offset=_COPY_HEADER)
            return _visit_frame(
                tuples["store_id"], tuples["day"], tuples["total_sales"], tuples["own_sales"], tuples["confirmed"]
            )
        cursor.execute(
            f"SELECT store_id, CAST(julianday(date) - 2440587.5 AS INTEGER), total_sales, own_sales, "
            f"suspect_confirmed FROM {table} WHERE date >= %s AND date <= %s",
            [first_day, as_of],
        )
        rows = cursor.fetchall()
    columns = list(zip(*rows)) if rows else [[]] * 5
    return _visit_frame(*columns)


def load_prior_purchases(first_day: date) -> pd.Series:
    """store_id -> last purchase day before `first_day` (outside W a day is valid when it sold)."""
    rows = (
        StoreVisit.objects.filter(date__lt=first_day, store__active=True, own_sales__gt=0, total_sales__gt=0)
        .values("store_id")
        .annotate(last=Max("date"))
        .values_list("store_id", "last")
    )
    series = pd.Series(dict(rows), dtype="datetime64[ns]" if not rows else None, name="last_purchase")
    return pd.to_datetime(series) if len(series) else pd.Series(dtype="datetime64[ns]")


def _previous_zone(model, key: str, as_of: date):
    return Subquery(
        model.objects.filter(**{key: OuterRef("pk")}, as_of__lt=as_of).order_by("-as_of").values("zone")[:1]
    )


def load_stores(as_of: date) -> pd.DataFrame:
    rows = (
        Store.objects.active()
        .annotate(previous_zone=_previous_zone(StoreScore, "store", as_of))
        .values(
            "id", "region_id", "region__country", "account_id", "format", "floor_area_m2", "checkouts",
            "shelves", "open_24h", "closed_weekdays", "previous_zone",
        )
    )
    frame = pd.DataFrame.from_records(
        list(rows),
        columns=["id", "region_id", "region__country", "account_id", "format", "floor_area_m2", "checkouts",
                 "shelves", "open_24h", "closed_weekdays", "previous_zone"],
    )
    frame = frame.rename(columns={"id": "store_id", "region__country": "country"})
    frame["format"] = frame["format"].replace("", None)
    frame["account_id"] = frame["account_id"].astype("Int64")
    for column in ["floor_area_m2", "checkouts", "shelves"]:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def load_market_shares() -> pd.DataFrame:
    rows = list(MarketShare.objects.values("country", "region_id", "period_start", "period_end", "share"))
    return pd.DataFrame.from_records(rows, columns=["country", "region_id", "period_start", "period_end", "share"])


def load_accounts(as_of: date) -> pd.DataFrame:
    rows = KeyAccount.objects.annotate(previous_zone=_previous_zone(AccountScore, "account", as_of)).values(
        "id", "kind", "previous_zone"
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["id", "kind", "previous_zone"])
    return frame.rename(columns={"id": "account_id"})


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


def save_snapshot(*, as_of, store_scores, account_scores, fit, suspects, is_latest: bool) -> None:
    """Replace the `as_of` snapshot in one transaction: readers see the old rows or the new, never half."""
    with transaction.atomic():
        StoreScore.objects.filter(as_of=as_of).delete()
        AccountScore.objects.filter(as_of=as_of).delete()
        PotentialModelFit.objects.filter(as_of=as_of).delete()
        StoreScore.objects.bulk_create(_rows(StoreScore, store_scores, "store_id", STORE_FIELDS, as_of), batch_size=SAVE_BATCH)
        AccountScore.objects.bulk_create(
            _rows(AccountScore, account_scores, "account_id", ACCOUNT_FIELDS, as_of), batch_size=SAVE_BATCH
        )
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
    """Computed tiers land on the accounts whose tier nobody set by hand."""
    tiers = {int(r["account_id"]): (r["tier"] if isinstance(r["tier"], str) else "") for r in _records(account_scores, ["account_id", "tier"])}
    accounts = list(KeyAccount.objects.filter(tier_override=False, pk__in=tiers).only("id", "tier"))
    changed = [a for a in accounts if a.tier != tiers[a.pk]]
    for account in changed:
        account.tier = tiers[account.pk]
    KeyAccount.objects.bulk_update(changed, ["tier"], batch_size=SAVE_BATCH)


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
        first_day = _first_loaded_day(as_of, params)
        visits = load_visits(first_day, as_of)
        prior = load_prior_purchases(first_day)
        stores = load_stores(as_of)
        market_shares = load_market_shares()
        accounts = load_accounts(as_of)
        timings["load"] = time.perf_counter() - tick

        tick = time.perf_counter()
        store_scores, fit, suspects = computations.score_stores(visits, prior, stores, market_shares, params, as_of)
        account_scores = computations.score_accounts(store_scores, stores, accounts, market_shares, params, as_of)
        timings["compute"] = time.perf_counter() - tick

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
            "visits": len(visits),
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
