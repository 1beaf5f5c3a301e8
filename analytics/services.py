"""The nightly analytics run (SPEC §3, §4): load -> compute -> save, one snapshot per `as_of`.

`loading` reads the inputs, `store_rules` and `scoring` compute, `saving` writes the snapshot;
this module runs them (threads, the run lock, the `AnalyticsRun` record).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pandas as pd
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from . import loading, months, saving, scoring, signals, store_rules
from stores.models import Store

from .models import AnalyticsRun, AnalyticsSettings, RunPart, StoreScore
from .params import Params

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


def observe(*, as_of: date, params, partitions: int | None = None, region_ids=None):
    """Load the active stores (of `region_ids`, when given) and their visits, and apply the per-store rules.

    Returns (stores, observations, suspects, visits loaded). The database aggregates the visits
    on other connections while this one loads the stores. `store_rules.observe_grid` gives
    each store's row from that store's visits alone, so the stores are observed in ranges of
    OBSERVE_CHUNK on parallel threads (numpy releases the GIL in its loops), and a split run
    observes groups of regions on several workers (`observe_part`).
    """
    partitions = partitions or settings.ANALYTICS_PARTITIONS
    first_day = loading.first_loaded_day(as_of, params)
    with ThreadPoolExecutor(1) as background:
        fetching = loading.in_background(background, loading.fetch_visits, first_day, as_of, partitions, region_ids)
        stores = loading.load_stores(as_of, region_ids)
        prior = loading.load_prior_purchases(first_day, region_ids)
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


def _acquire(run: AnalyticsRun, *, locked: bool, parts: int = 1) -> None:
    """Mark `run` running, split into `parts` worker tasks.

    `locked`: this session holds RUN_LOCK, so a one-task run still marked running died unfinished.
    A split run's tasks hold no session across the run: it counts as dead after STALE_RUN, as on SQLite.
    """
    stale = Q(started_at__lt=timezone.now() - STALE_RUN)
    dead = AnalyticsRun.objects.filter(stale | Q(parts=1) if locked else stale, status=AnalyticsRun.Status.RUNNING)
    dead.update(status=AnalyticsRun.Status.FAILED, error=ABANDONED, finished_at=timezone.now())
    try:
        with transaction.atomic():
            updated = AnalyticsRun.objects.filter(pk=run.pk, status=AnalyticsRun.Status.QUEUED).update(
                status=AnalyticsRun.Status.RUNNING, started_at=timezone.now(), parts=parts
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
        run = _start(as_of=as_of, run_id=run_id, requested_by=requested_by, locked=locked)
        return _compute(run, params, lambda: observe(as_of=run.as_of, params=params))


def _start(*, as_of, run_id, requested_by=None, locked: bool, parts: int = 1) -> AnalyticsRun:
    """The run `run_id` (or a new one for `as_of`), marked running; RunInProgress when another computes."""
    if run_id is None:
        run = AnalyticsRun.objects.create(as_of=as_of or default_as_of(), requested_by=requested_by)
    else:
        run = AnalyticsRun.objects.get(pk=run_id)
    try:
        _acquire(run, locked=locked, parts=parts)
    except RunInProgress:
        if run_id is None:
            run.delete()  # nobody queued it: leave no row waiting for nothing
        raise
    return run


# --- a run split over workers (SPEC §9: 100,000 stores) ------------------------------------


def split_regions(parts: int) -> list[list[int]]:
    """The regions with active stores in at most `parts` groups of about equal store counts.

    Largest region first into the group with the fewest stores so far; a region is never split,
    so each group's stores are whole regions (one rep's stores in one part).
    """
    counts = Store.objects.active().values("region_id").annotate(n=Count("id")).order_by("-n", "region_id")
    groups, sizes = [[] for _ in range(max(parts, 1))], [0] * max(parts, 1)
    for row in counts:
        smallest = sizes.index(min(sizes))
        groups[smallest].append(row["region_id"])
        sizes[smallest] += row["n"]
    return [sorted(group) for group in groups if group]


def start_split(*, groups: list[list[int]], run_id: int | None = None, as_of: date | None = None) -> AnalyticsRun:
    """Mark the run running as a split run of one `observe_part` task per group (two at least).

    The parts read the run's parameters (stored here) so that every part and the scoring agree,
    and the visits this packs (`months.refresh`): they all see the same data.
    """
    params = AnalyticsSettings.current()
    with _run_lock() as locked:
        run = _start(as_of=as_of, run_id=run_id, locked=locked, parts=len(groups))
    run.params = dataclasses.asdict(params)
    run.save(update_fields=["params"])
    try:
        if connection.vendor == "postgresql":
            months.refresh(loading.first_loaded_day(run.as_of, params), run.as_of, settings.ANALYTICS_PARTITIONS)
    except Exception:
        fail_split(run.pk, traceback.format_exc(limit=20))
        raise
    return run


def observe_part(run_id: int, part: int, region_ids: list[int]) -> None:
    """The per-store half for one group of regions, staged as a `RunPart` (a rerun of the part replaces it)."""
    run = AnalyticsRun.objects.get(pk=run_id)
    if run.status != AnalyticsRun.Status.RUNNING:
        return  # failed or abandoned meanwhile: nothing will read it
    started = time.perf_counter()
    try:
        _, observed, suspects, visits = observe(as_of=run.as_of, params=Params.from_dict(run.params), region_ids=region_ids)
        RunPart.objects.update_or_create(run=run, part=part, defaults={
            "observed": _pickled(observed), "suspects": _pickled(suspects), "visits": visits,
            "seconds": time.perf_counter() - started,
        })
    except Exception:
        fail_split(run_id, traceback.format_exc(limit=20))
        raise


def score_parts(run_id: int) -> AnalyticsRun | None:
    """The cross-store half of a split run: read its parts, score, save the snapshot; None if it stopped."""
    run = AnalyticsRun.objects.get(pk=run_id)
    if run.status != AnalyticsRun.Status.RUNNING:
        return None
    params = Params.from_dict(run.params)
    parts = list(run.staged_parts.order_by("part"))
    waited = (timezone.now() - run.started_at).total_seconds()

    def gather():
        if len(parts) != run.parts:
            raise RuntimeError(f"{len(parts)} of the run's {run.parts} parts were staged.")
        observed = pd.concat([pd.read_pickle(io.BytesIO(p.observed)) for p in parts]).sort_index()
        suspects = pd.concat([pd.read_pickle(io.BytesIO(p.suspects)) for p in parts], ignore_index=True)
        suspects = suspects.sort_values("store_id", kind="stable", ignore_index=True)
        stores = loading.load_stores(run.as_of)
        return stores[stores["store_id"].isin(observed.index)], observed, suspects, sum(p.visits for p in parts)

    try:
        return _compute(run, params, gather, waited=waited)
    finally:
        run.staged_parts.all().delete()


def fail_split(run_id: int, error: str) -> None:
    """A part failed: the run is recorded failed with its error, and its staged parts go."""
    AnalyticsRun.objects.filter(pk=run_id, status=AnalyticsRun.Status.RUNNING).update(
        status=AnalyticsRun.Status.FAILED, error=error, finished_at=timezone.now()
    )
    RunPart.objects.filter(run_id=run_id).delete()


def _pickled(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_pickle(buffer)
    return buffer.getvalue()


# --- computing a run ------------------------------------------------------------------------


def _compute(run: AnalyticsRun, params, observe_step, *, waited: float = 0.0) -> AnalyticsRun:
    """Run `observe_step` (the per-store half: stores, observations, suspects, visits) and the rest.

    `waited`: seconds the run spent before this call (a split run's parts), counted in observe and total.
    """
    as_of = run.as_of
    run.params = dataclasses.asdict(params)
    timings, started = {}, time.perf_counter() - waited
    try:
        tick = time.perf_counter() - waited
        stores, observed, suspects, visits = observe_step()
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
    """Tell the apps above that `run` succeeded (`signals.run_succeeded`); returns their one-line summaries.

    Their time is added to the run's timings as `announce`.
    """
    started = time.perf_counter()
    summaries = [summary for _, summary in signals.run_succeeded.send(sender=AnalyticsRun, run=run) if summary]
    run.timings = {**run.timings, "announce": round(time.perf_counter() - started, 3)}
    AnalyticsRun.objects.filter(pk=run.pk).update(timings=run.timings)
    return summaries
