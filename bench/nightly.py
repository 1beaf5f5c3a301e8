"""Benchmark: the nightly analytics run as it really runs, against the bare GROUP BY (issue 10).

On a copy of a bench/scale.py world (CREATE DATABASE ... TEMPLATE, so the world stays as built and
every run of this bench meets the same data: the previous day's run done, the next day not), it
times, in one warm process (Django, pandas and the rules imported, the first GROUP BY run):

- **previous day**: `services.recompute(as_of=D-1)` and `services.announce(run)` (the §5 evaluation
  and alert hand-off), D the world's last visit day, without D's visits: the world's own last run
  again, which packs every month of visits (`analytics/months.py`) if the world predates them;
- **new day**: D's visits written back (one INSERT, which makes their month stale), then the same
  for D: the night after, as the nightly job meets its data;
- **rerun**: the same again for D, which replaces D's snapshot;
- the bare `SELECT store_id, count(*), sum(total_sales), sum(own_sales) FROM stores_storevisit
  WHERE date > D-364 AND date <= D GROUP BY store_id`, median of 3, before and after the runs;

and prints their ratios and the process's peak memory (max RSS). Tasks the evaluation hands on
(notifications, e-mails) are queued on Redis (db 9, purged), not run: a worker runs them.

With `--celery-workers N` the run goes through Celery as the nightly beat sends it: a real worker
(`celery worker -c N`) and `ANALYTICS_SPLIT` parts (default 2 x N): `recompute_task` starts the
chord of `observe_part_task` per group of regions and `score_run_task` scores, saves and evaluates
the alerts; the time is from queuing the run to its `announce` timing being written; peak memory
is the largest sum of the worker processes' RSS, sampled every 0.1 s.

    .venv/bin/python bench/nightly.py --database-url postgres://postgres@127.0.0.1:5432/kacrm_scale20k
    .venv/bin/python bench/nightly.py --database-url postgres://postgres@127.0.0.1:5432/kacrm_scale --celery-workers 2
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GROUP_BY = (
    "SELECT store_id, count(*), sum(total_sales), sum(own_sales) FROM stores_storevisit "
    "WHERE date > %s AND date <= %s GROUP BY store_id"
)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/kacrm_scale20k",
                        help="the world (bench/scale.py --build-only); it is copied, never written")
    parser.add_argument("--keep", action="store_true", help="keep the copy (named <world>_nightly) afterwards")
    parser.add_argument("--celery-workers", type=int, default=0, help="run through Celery with this many worker processes")
    parser.add_argument("--parts", type=int, default=0, help="ANALYTICS_SPLIT for --celery-workers (default 2 x workers)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--json", help="write the figures to this file")
    return parser.parse_args()


def copy_world(url: str) -> str:
    """CREATE DATABASE <world>_nightly TEMPLATE <world>, with the world's build record; returns its URL."""
    import psycopg
    import psycopg.sql

    base, name = url.rsplit("/", 1)
    copy = f"{name}_nightly"
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        for attempt in range(60):  # the template may not have other sessions while it is copied
            try:
                conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}" STRATEGY FILE_COPY')
                break
            except psycopg.errors.ObjectInUse:
                time.sleep(2)
        else:
            raise SystemExit(f"{name} stayed in use by other sessions: cannot copy it")
        # The world's build record (bench/world.py keeps it as the database's comment) is not copied by TEMPLATE.
        comment = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                               [name]).fetchone()[0]
        if comment:
            conn.execute(psycopg.sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                psycopg.sql.Identifier(copy), psycopg.sql.Literal(comment)))
    # The copy's files are new to the page cache: read them once (pg_prewarm 'read': the OS cache, not
    # shared_buffers), so that the runs and the bare GROUP BY meet the table as a server that runs every night
    # holds it, not as a disk (a cold copy made one GROUP BY 29 s against 3 s warm).
    with psycopg.connect(f"{base}/{copy}", autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        conn.execute("SELECT sum(pg_prewarm(c.oid::regclass, 'read')) FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')")
        print(f"copy read into the page cache in {time.perf_counter() - started:.1f} s", flush=True)
    return f"{base}/{copy}"


def drop(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(url: str, redis_url: str) -> dict:
    return {
        "DATABASE_URL": url, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "bench-nightly-only-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0", "EMAIL_URL": "dummymail://",
        "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "kacrm.settings", "DJANGO_LOG_LEVEL": "ERROR",
    }


def time_group_by(day: dt.date, repeats: int = 3) -> float:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for _ in range(repeats):
            started = time.perf_counter()
            cursor.execute(GROUP_BY, [day - dt.timedelta(days=364), day])
            cursor.fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def last_visit_day() -> dt.date:
    from django.db.models import Max

    from stores.models import StoreVisit

    return StoreVisit.objects.aggregate(day=Max("date"))["day"]


def the_cases(day: dt.date):
    """(case, as_of, what happens before it) of the three runs.

    D's visits are taken out for the previous day's run and put back after it (one INSERT, as the
    bulk API writes a day: its statement trigger forgets D's month), so the new day meets what a
    real night meets: the months packed by the night before, the current one stale.
    """
    from django.db import connection

    def take_out():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_day AS SELECT * FROM stores_storevisit WHERE date = %s", [day])
            cursor.execute("DELETE FROM stores_storevisit WHERE date = %s", [day])

    def put_back():
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO stores_storevisit SELECT * FROM bench_day")
            cursor.execute("DROP TABLE bench_day")

    return [("previous day", day - dt.timedelta(days=1), take_out), ("new day", day, put_back), ("rerun", day, None)]


def in_process(day: dt.date) -> list[dict]:
    """The previous day again, the new day, its rerun: each recompute + announce in this (warm) process."""
    from analytics import services

    cases = []
    for case, as_of, before in the_cases(day):
        if before:
            before()
        started = time.perf_counter()
        run = services.recompute(as_of=as_of)
        computed = time.perf_counter()
        summaries = services.announce(run)
        finished = time.perf_counter()
        assert run.status == "succeeded", run.error
        cases.append({"case": case, "wall": finished - started, **run.timings, "announce": finished - computed,
                      "counts": run.counts, "summaries": summaries})
    return cases


def rss_of(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            pass
    return total


def worker_pids(parent: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()
    return [parent, *map(int, children)]


def through_celery(args, day: dt.date, env: dict) -> tuple[list[dict], float]:
    """The run as the nightly beat sends it, on a real worker with --celery-workers processes."""
    from analytics import services
    from kacrm.celery import app

    app.control.purge()
    log = open(Path("/tmp", f"nightly-worker-{os.getpid()}.log"), "w")
    worker = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "kacrm", "worker", "-c", str(args.celery_workers), "--pool", "prefork",
         "-l", "warning", "-Q", "celery"],
        cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT), "ANALYTICS_SPLIT": str(args.parts or 2 * args.celery_workers)},
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise SystemExit(f"the worker did not start: see {log.name}")
        cases, peak = [], 0
        for case, as_of, before in the_cases(day):
            if before:
                before()
            started = time.perf_counter()
            run = services.queue_run(as_of=as_of)
            while True:
                run.refresh_from_db()
                peak = max(peak, rss_of(worker_pids(worker.pid)))
                if run.status == "failed" or "announce" in (run.timings or {}):
                    break
                time.sleep(0.1)
            assert run.status == "succeeded", run.error
            cases.append({"case": case, "wall": time.perf_counter() - started, **run.timings, "counts": run.counts})
        return cases, peak / 2**20
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        app.control.purge()


def main():
    args = parse_args()
    url = copy_world(args.database_url)
    env = environment(url, args.redis_url)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from kacrm.celery import app

    try:
        call_command("migrate", verbosity=0)  # the world may predate this code's migrations
        app.control.purge()
        day = last_visit_day()
        before = time_group_by(day)
        if args.celery_workers:
            cases, peak_mb = through_celery(args, day, env)
        else:
            cases = in_process(day)
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        after = time_group_by(day)
        app.control.purge()
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop(url)
    group_by = statistics.median([before, after])
    counts = cases[0]["counts"]
    mode = f"Celery, {args.celery_workers} worker processes" if args.celery_workers else "one warm process"
    print(f"world {args.database_url.rsplit('/', 1)[1]}: {counts['stores']:,} stores, {counts['visits']:,} visits "
          f"in the window, as_of {day} ({mode})")
    print(f"bare GROUP BY: {before:.2f} s before, {after:.2f} s after the runs")
    print(f"{'case':<12} {'wall s':>7} {'ratio':>6} {'observe':>8} {'score':>6} {'save':>6} {'announce':>9}")
    for c in cases:
        print(f"{c['case']:<12} {c['wall']:>7.2f} {c['wall'] / group_by:>6.2f} {c.get('observe', 0):>8.2f} "
              f"{c.get('score', 0):>6.2f} {c.get('save', 0):>6.2f} {c.get('announce', 0):>9.2f}")
    print(f"peak memory {peak_mb:,.0f} MB ({'sum of the worker processes' if args.celery_workers else 'max RSS'})")
    for c in cases:
        if c.get("summaries"):
            print(f"  {c['case']}: {' '.join(c['summaries'])}")
    if args.json:
        Path(args.json).write_text(json.dumps({"group_by": group_by, "cases": cases, "peak_mb": peak_mb}, default=str))


if __name__ == "__main__":
    main()
