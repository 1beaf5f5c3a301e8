"""The nightly analytics run (SPEC §3, §4): load -> compute -> save, one snapshot per `as_of`.

`loading` reads the inputs, `store_rules` and `scoring` compute, `saving` writes the snapshot;
this module runs them (threads, the run lock, the `AnalyticsRun` record).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pandas as pd
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from . import loading, saving, scoring, signals, store_rules
from .models import AnalyticsRun, AnalyticsSettings, StoreScore

STALE_RUN = timedelta(hours=6)  # SQLite: a run "running" longer than this died with its worker
RUN_LOCK = 0x6B6163726D  # PostgreSQL: the advisory lock a computing run holds (any constant unique to this database)
ABANDONED = "Abandoned: the worker stopped before finishing."
OBSERVE_CHUNK = 2000  # stores per grid: arrays of a few MB stay in the CPU's cache and the heap


class RunInProgress(Exception):
    """Another analytics run holds the lock."""


class RunNotQueued(RunInProgress):
    """The run started or finished already (a redelivered task): nothing to wait for."""


def default_as_of() -> date:
    """The nightly run scores yesterday: today's visits are still being logged."""
    return timezone.localdate() - timedelta(days=1)


# --- the per-store half, in partitions ------------------------------------------------------


def observe(*, as_of: date, params, partitions: int | None = None):
    """Load the active stores and their visits, and apply the per-store rules.

    Returns (stores, observations, suspects, visits loaded). The database aggregates the visits
    on other connections while this one loads the stores. `store_rules.observe_grid` gives
    each store's row from that store's visits alone, so the stores are observed in ranges of
    OBSERVE_CHUNK on parallel threads (numpy releases the GIL in its loops), and a deployment at
    100,000 stores can run it per region on several workers.
    """
    partitions = partitions or settings.ANALYTICS_PARTITIONS
    first_day = loading.first_loaded_day(as_of, params)
    with ThreadPoolExecutor(1) as background:
        fetching = loading.in_background(background, loading.fetch_visits, first_day, as_of, partitions)
        stores = loading.load_stores(as_of)
        prior = loading.load_prior_purchases(first_day)
        by_id = stores.sort_values("store_id").set_index("store_id")
        visits = loading.load_visits(by_id.index, first_day, as_of, fetched=fetching.result())
    bounds = [*range(0, max(len(by_id), 1), OBSERVE_CHUNK), len(by_id)]  # one chunk at least, maybe empty

    def observe_rows(start, stop):
        return store_rules.observe_grid(visits.rows(start, stop), prior, by_id.iloc[start:stop], params, as_of)

    with ThreadPoolExecutor(partitions) as pool:
        results = list(pool.map(observe_rows, bounds[:-1], bounds[1:]))
    observed = pd.concat([r[0] for r in results])
    suspects = pd.concat([r[1] for r in results], ignore_index=True)
    return stores, observed, suspects, visits.visits


# --- the run ------------------------------------------------------------------------------


class QueueUnavailable(Exception):
    """The task queue (the Celery broker) refused `run`, which is recorded as failed, never left queued."""

    def __init__(self, run: AnalyticsRun):
        super().__init__(run.error)
        self.run = run


def queue_run(*, as_of: date | None = None, requested_by=None) -> AnalyticsRun:
    """Record a requested run and hand it to a worker once the transaction commits.

    Outside a transaction (an API request) that is at once: with the broker down, the run is marked failed
    and QueueUnavailable raised here; inside one, it is raised by the commit.
    """
    run = AnalyticsRun.objects.create(as_of=as_of or default_as_of(), requested_by=requested_by)
    transaction.on_commit(functools.partial(_publish_run, run))
    return run


def _publish_run(run: AnalyticsRun) -> None:
    from kombu.exceptions import OperationalError

    from .tasks import recompute_task

    try:
        # No retries, and no subscription to a result (the run row is the result): an unreachable broker fails
        # here in milliseconds instead of holding the request for Celery's reconnection loops.
        recompute_task.apply_async(kwargs={"run_id": run.pk}, retry=False, ignore_result=True)
    except OperationalError as error:  # kombu's wrapper of the connection errors of every transport
        AnalyticsRun.objects.filter(pk=run.pk, status=AnalyticsRun.Status.QUEUED).update(
            status=AnalyticsRun.Status.FAILED, finished_at=timezone.now(),
            error=f"Not queued: the task queue is unreachable ({error}).",
        )
        run.refresh_from_db()
        raise QueueUnavailable(run) from error


def give_up(run_id: int, reason: str) -> None:
    """A queued run whose task stops waiting for the lock is recorded failed with `reason`, never left queued."""
    AnalyticsRun.objects.filter(pk=run_id, status=AnalyticsRun.Status.QUEUED).update(
        status=AnalyticsRun.Status.FAILED, error=reason, finished_at=timezone.now()
    )


@contextlib.contextmanager
def _run_lock():
    """PostgreSQL: hold RUN_LOCK, a session advisory lock, while the run computes; yields True.

    The server drops it with the session, so a run whose process is killed (SIGKILL, out of memory,
    a lost machine) frees it at once, and a run marked running while nobody holds it is dead.
    Raises RunInProgress when another session holds it. SQLite has no such lock: yields False.
    """
    if connection.vendor != "postgresql":
        yield False
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [RUN_LOCK])
        if not cursor.fetchone()[0]:
            raise RunInProgress("Another analytics run is in progress.")
    try:
        yield True
    finally:
        with contextlib.suppress(DatabaseError), connection.cursor() as cursor:  # a lost session released it already
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK])


def _acquire(run: AnalyticsRun, *, locked: bool) -> None:
    """Mark `run` running. `locked`: this session holds RUN_LOCK, so a run still marked running died unfinished."""
    dead = AnalyticsRun.objects.filter(status=AnalyticsRun.Status.RUNNING)
    if not locked:
        dead = dead.filter(started_at__lt=timezone.now() - STALE_RUN)
    dead.update(status=AnalyticsRun.Status.FAILED, error=ABANDONED, finished_at=timezone.now())
    try:
        with transaction.atomic():
            updated = AnalyticsRun.objects.filter(pk=run.pk, status=AnalyticsRun.Status.QUEUED).update(
                status=AnalyticsRun.Status.RUNNING, started_at=timezone.now()
            )
    except IntegrityError:
        raise RunInProgress(f"Another analytics run is in progress; run {run.pk} for {run.as_of} waits.")
    if not updated:
        raise RunNotQueued(f"Run {run.pk} is not queued any more.")
    run.refresh_from_db()


def recompute(*, as_of: date | None = None, run_id: int | None = None, requested_by=None) -> AnalyticsRun:
    """Score every active store and account for `as_of` (default yesterday) and save the snapshot."""
    params = AnalyticsSettings.current()
    with _run_lock() as locked:
        if run_id is None:
            run = AnalyticsRun.objects.create(as_of=as_of or default_as_of(), requested_by=requested_by)
        else:
            run = AnalyticsRun.objects.get(pk=run_id)
        try:
            _acquire(run, locked=locked)
        except RunInProgress:
            if run_id is None:
                run.delete()  # nobody queued it: leave no row waiting for nothing
            raise
        return _compute(run, params)


def _compute(run: AnalyticsRun, params) -> AnalyticsRun:
    as_of = run.as_of
    run.params = dataclasses.asdict(params)
    timings, started = {}, time.perf_counter()
    try:
        tick = time.perf_counter()
        stores, observed, suspects, visits = observe(as_of=as_of, params=params)
        timings["observe"] = time.perf_counter() - tick

        tick = time.perf_counter()
        market_shares = loading.load_market_shares()
        accounts = loading.load_accounts(as_of)
        store_scores, fit = scoring.score_observations(observed, market_shares, params, as_of)
        account_scores = scoring.score_accounts(store_scores, stores, accounts, market_shares, params, as_of)
        timings["score"] = time.perf_counter() - tick

        tick = time.perf_counter()
        latest = StoreScore.objects.aggregate(last=Max("as_of"))["last"]
        saving.save_snapshot(
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


def announce(run: AnalyticsRun) -> list[str]:
    """Tell the apps above that `run` succeeded (`signals.run_succeeded`); returns their one-line summaries."""
    return [summary for _, summary in signals.run_succeeded.send(sender=AnalyticsRun, run=run) if summary]
