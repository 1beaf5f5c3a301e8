"""Benchmark: the nightly recompute against a bare GROUP BY over the same visits, on PostgreSQL.

Loads N stores x 364 days (about 70 % of days visited) with COPY into a scratch database, then
prints the recompute time (the median of --runs runs, each printed: a VM's page faults make
single runs vary by 20 %), the time of
    SELECT store_id, count(*), sum(total_sales), sum(own_sales) FROM stores_storevisit
    WHERE date > as_of - 364 GROUP BY store_id
their ratio, and the recompute's peak memory (it runs in its own process).

    .venv/bin/python bench/recompute.py --stores 20000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kacrm_bench .venv/bin/python bench/recompute.py --stores 2000 --reuse
"""
import argparse
import datetime as dt
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20000)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--visit-rate", type=float, default=0.7, help="share of days a store is visited")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 10, 31))
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kacrm_bench_recompute"))
    parser.add_argument("--reuse", action="store_true", help="keep the loaded data if the counts match")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="recompute runs; the median one is reported")
    return parser.parse_args()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def copy_rows(cursor, table: str, columns: list[str], lines: io.StringIO) -> None:
    lines.seek(0)
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk := lines.read(1 << 20):
            copy.write(chunk)


def load_world(args) -> int:
    """Regions, accounts, stores and visits written with COPY; returns the number of visits."""
    from django.db import connection

    from accounts.models import KeyAccount
    from org.models import Region
    from stores.models import MarketShare, Store, StoreVisit

    rng = np.random.default_rng(args.seed)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE analytics_storescore, analytics_accountscore, analytics_potentialmodelfit, analytics_analyticsrun, "
            "stores_storevisit, stores_store, stores_marketshare, accounts_keyaccount, planning_region CASCADE"
        )
    countries = ["CN", "ES", "MX"]
    regions = Region.objects.bulk_create(
        [Region(code=f"r{i:03d}", name=f"Region {i}", country=countries[i % 3]) for i in range(60)]
    )
    accounts = KeyAccount.objects.bulk_create(
        [KeyAccount(code=f"a{i:04d}", name=f"Chain {i}", kind="chain") for i in range(400)]
    )
    for country in countries:
        MarketShare.objects.create(country=country, period_start=dt.date(2000, 1, 1), period_end=dt.date(2100, 1, 1),
                                   share=0.2, source="bench")

    n = args.stores
    formats = rng.choice(["hypermarket", "large", "medium", "small"], n, p=[0.1, 0.2, 0.35, 0.35])
    area = np.round(rng.lognormal(7.2, 0.6, n), 1)
    checkouts = np.maximum(1, (area / 250 + rng.normal(0, 2, n)).round()).astype(int)
    shelves = np.maximum(1, (area / 400 + rng.normal(0, 1, n)).round()).astype(int)
    open24 = rng.random(n) < 0.15
    region_ids = rng.choice([r.pk for r in regions], n)
    account_ids = np.where(rng.random(n) < 0.8, rng.choice([a.pk for a in accounts], n), 0)
    store_lines = io.StringIO()
    for i in range(n):
        account = str(account_ids[i]) if account_ids[i] else "\\N"
        store_lines.write(
            f"s{i:06d}\tStore {i}\t{account}\t{region_ids[i]}\t\t{formats[i]}\t{area[i]}\t{checkouts[i]}\t"
            f"{'t' if open24[i] else 'f'}\t{shelves[i]}\t[]\tt\n"
        )
    with connection.cursor() as cursor:
        copy_rows(cursor.cursor, Store._meta.db_table,
                  ["code", "name", "account_id", "region_id", "address", "format", "floor_area_m2", "checkouts",
                   "open_24h", "shelves", "closed_weekdays", "active"], store_lines)
    store_pks = np.array(Store.objects.order_by("code").values_list("pk", flat=True))

    potential = area / 8 * rng.uniform(0.7, 1.3, n)
    share = rng.beta(2, 8, n)
    weekday = np.array([0.9, 0.9, 0.95, 1.0, 1.1, 1.3, 1.2])
    total = 0
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    days = [args.as_of - dt.timedelta(days=d) for d in range(args.days)]
    for start in range(0, n, 2000):
        stop = min(n, start + 2000)
        lines = io.StringIO()
        for day in days:
            visited = np.nonzero(rng.random(stop - start) < args.visit_rate)[0] + start
            sales = rng.poisson(potential[visited] * weekday[day.weekday()])
            own = rng.binomial(sales, share[visited])
            day_text = day.isoformat()
            lines.write("".join(
                f"{store_pks[i]}\t{day_text}\t{t}\t{o}\t\\N\t\\N\t\\N\t\tf\tf\t{now}\t{now}\n"
                for i, t, o in zip(visited, sales, own)
            ))
            total += len(visited)
        with connection.cursor() as cursor:
            copy_rows(cursor.cursor, StoreVisit._meta.db_table,
                      ["store_id", "date", "total_sales", "own_sales", "display_ok", "promotion_ok", "staff_ok",
                       "notes", "suspect", "suspect_confirmed", "created_at", "updated_at"], lines)
        print(f"  loaded stores {start}-{stop}: {total:,} visits", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        # Write the load's dirty pages out now, so that neither timing below competes with the
        # background writer flushing half a gigabyte: both measure a settled database.
        cursor.execute("CHECKPOINT")
    return total


def time_group_by(as_of: dt.date, repeats: int = 3) -> float:
    from django.db import connection

    best = float("inf")
    with connection.cursor() as cursor:
        for _ in range(repeats):
            started = time.perf_counter()
            cursor.execute(
                "SELECT store_id, count(*), sum(total_sales), sum(own_sales) FROM stores_storevisit "
                "WHERE date > %s GROUP BY store_id", [as_of - dt.timedelta(days=364)],
            )
            cursor.fetchall()
            best = min(best, time.perf_counter() - started)
    return best


def main():
    args = parse_args()
    ensure_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kacrm.settings")
    os.environ.setdefault("DJANGO_DEBUG", "1")  # a scratch database on this machine: the development settings
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from stores.models import Store, StoreVisit

    call_command("migrate", verbosity=0)
    if args.reuse and Store.objects.count() == args.stores:
        visits = StoreVisit.objects.count()
        print(f"reusing {args.stores:,} stores and {visits:,} visits")
    else:
        started = time.perf_counter()
        visits = load_world(args)
        print(f"loaded {args.stores:,} stores and {visits:,} visits in {time.perf_counter() - started:.1f}s")
    connection.close()

    group_by = time_group_by(args.as_of)
    env = {**os.environ, "DJANGO_LOG_LEVEL": "ERROR"}
    from analytics.models import AnalyticsRun

    runs, walls = [], []
    for _ in range(args.runs):  # the first scores the day; the others replace its snapshot
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "recompute", "--as-of", args.as_of.isoformat()],
            env=env, capture_output=True, text=True,
        )
        walls.append(time.perf_counter() - started)
        if result.returncode:
            print(result.stdout, result.stderr)
            raise SystemExit("recompute failed")
        print(result.stdout.strip())
        runs.append(AnalyticsRun.objects.latest("id").timings)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    run = sorted(runs, key=lambda t: t["total"])[len(runs) // 2]  # the median run
    print(f"stores                 {args.stores:>10,}")
    print(f"visits                 {visits:>10,}")
    totals = "  ".join(f"{t['total']:.2f}" for t in runs)
    print(f"recompute runs         {totals:>10} s")
    print(f"recompute (service)    {run['total']:>10.2f} s   median of {len(runs)}: observe {run['observe']:.2f}  "
          f"score {run['score']:.2f}  save {run['save']:.2f}")
    print(f"recompute (process)    {statistics.median(walls):>10.2f} s   including interpreter and Django start-up")
    print(f"bare GROUP BY          {group_by:>10.2f} s   best of 3")
    print(f"ratio                  {run['total'] / group_by:>10.2f}     (median service time / best GROUP BY)")
    print(f"peak memory            {peak_mb:>10.0f} MB  (recompute processes, max RSS)")


if __name__ == "__main__":
    main()
