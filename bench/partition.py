"""Benchmark: should stores_storevisit be partitioned by month for years of history? (issue 10, point 4)

Builds two scratch PostgreSQL databases holding the same --years of visits of --stores stores (the
stores, reps and visits of bench/world.py, visits COPYed day by day, oldest first, in the order of
their time of day, as the API writes them):
  kacrm_part_single   the table as the migrations define it (`manage.py migrate`, then the visits
                      loaded without the indexes and constraints, which are recreated under the
                      same names from pg_indexes / pg_constraint, as world.py does);
  kacrm_part_monthly  the same columns, defaults, CHECKs, foreign keys and index names, but
                      PARTITION BY RANGE (date), one partition per month (plus a DEFAULT one for
                      the dates the validator allows outside them); the primary key becomes
                      (id, date), because a unique constraint of a partitioned table must contain
                      the partition key; (store_id, date) already does.
Then, on both by turns (single, monthly, then monthly, single, ...), the median of --runs warm
runs (one untimed run first) of what the product does with the table: the nightly window GROUP
BY, the analytics load (analytics/months.py packing a month: the current one, and all 13 after an
upgrade, rolled back), one store's visit list, a rep's day, the last visit of a page of stores, a
rep's visit list, an upsert batch of 1000 (the bulk API's own statement, new rows and changed
rows, rolled back), VACUUM after a day of corrections, the sizes, and at the end removing the
oldest year (DELETE + VACUUM against DETACH + DROP).

    nice -n 10 .venv/bin/python bench/partition.py [--stores 20000] [--years 3] [--runs 5] [--reuse] [--keep]

--reuse keeps databases already built with the same --stores/--years/--seed; without --keep both
are dropped at the end.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SINGLE, MONTHLY = "kacrm_part_single", "kacrm_part_monthly"
TABLE = "stores_storevisit"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=3, help="history: this many years back from yesterday, from a month start")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (after one untimed)")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--reuse", action="store_true", help="keep databases already built with the same parameters")
    parser.add_argument("--keep", action="store_true", help="do not drop the databases at the end")
    return parser.parse_args()


def connect(args, name, **kwargs):
    import psycopg

    return psycopg.connect(f"{args.server}/{name}", autocommit=True, **kwargs)


def months(first: dt.date, stop: dt.date):
    """Month starts from `first` (a month start) up to and including the month of `stop`."""
    day = first
    while day <= stop:
        yield day
        day = (day + dt.timedelta(days=32)).replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


# -- build --------------------------------------------------------------------------------------------

def wanted(args, first_day, last_day) -> dict:
    return {"bench": "partition", "stores": args.stores, "years": args.years, "seed": args.seed,
            "first_day": first_day.isoformat(), "last_day": last_day.isoformat()}


def built(args, meta: dict) -> bool:
    with connect(args, "postgres") as conn:
        for name in (SINGLE, MONTHLY):
            row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                               [name]).fetchone()
            data = json.loads(row[0]) if row and row[0] else {}
            if {k: data.get(k) for k in meta} != meta or not data.get("done"):
                return False
    return True


def drop_databases(args) -> None:
    with connect(args, "postgres") as conn:
        for name in (SINGLE, MONTHLY):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def partitioned_ddl(conn, first_day: dt.date, last_day: dt.date) -> tuple[list[str], list[str]]:
    """Replace the migrated table by a partitioned one with the same columns; returns the statements
    that add its keys and indexes after the load (under the migrations' names)."""
    constraints = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
        "AND contype <> 'c' ORDER BY contype DESC, conname", [TABLE]).fetchall()
    indexes = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass) ORDER BY 1", [TABLE, TABLE]).fetchall()
    triggers = [row[0] for row in conn.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal", [TABLE])]
    conn.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_migrated")
    # LIKE copies the columns, NOT NULLs, the identity (a new sequence) and the CHECK constraints.
    conn.execute(f"CREATE TABLE {TABLE} (LIKE {TABLE}_migrated INCLUDING DEFAULTS INCLUDING IDENTITY "
                 f"INCLUDING CONSTRAINTS) PARTITION BY RANGE (date)")
    conn.execute(f"DROP TABLE {TABLE}_migrated")
    conn.execute(f"ALTER SEQUENCE IF EXISTS {TABLE}_id_seq1 RENAME TO {TABLE}_id_seq")
    for month in months(first_day, next_month(next_month(last_day))):
        conn.execute(f"CREATE TABLE {TABLE}_{month:%Y%m} PARTITION OF {TABLE} "
                     f"FOR VALUES FROM ('{month}') TO ('{next_month(month)}')")
    conn.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
    for definition in triggers:  # analytics/0005: the statement triggers that forget packed months
        conn.execute(definition)
    keys, rest = [], []
    for name, kind, definition in constraints:
        if kind == "p":
            definition = "PRIMARY KEY (id, date)"
        (keys if kind in "pu" else rest).append(f'ALTER TABLE {TABLE} ADD CONSTRAINT "{name}" {definition}')
    return keys + [definition for _name, definition in indexes], rest


def build(args, first_day: dt.date, last_day: dt.date) -> dict:
    """Both databases, loaded; returns the load figures."""
    import django
    import world

    drop_databases(args)
    with connect(args, "postgres") as conn:
        conn.execute(f'CREATE DATABASE "{SINGLE}"')
    env = {**os.environ, "DATABASE_URL": f"{args.server}/{SINGLE}", "DJANGO_DEBUG": "1"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    os.environ.update(DATABASE_URL=env["DATABASE_URL"], DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="kacrm.settings")
    django.setup()
    from django.db import connections

    from stores.services import BULK_CHANGE_REASON

    days = (last_day - first_day).days + 1
    started = time.perf_counter()
    d = world.draw(argparse.Namespace(stores=args.stores, seed=args.seed), days)
    world.build_small(argparse.Namespace(stores=args.stores), d, first_day, last_day)
    plan = world.plan_of(d)
    connections.close_all()
    figures = {"small": time.perf_counter() - started}
    with connect(args, "postgres") as conn:
        conn.execute(f'CREATE DATABASE "{MONTHLY}" TEMPLATE "{SINGLE}"')
    single, monthly = connect(args, SINGLE), connect(args, MONTHLY)
    with single.cursor() as cursor:
        schema = world.schema_of(cursor)
        world.drop_indexes(cursor, schema)
    monthly_keys, monthly_rest = partitioned_ddl(monthly, first_day, last_day)

    figures["copy"] = {SINGLE: 0.0, MONTHLY: 0.0}
    next_id, rows = 1, 0
    for start in range(0, days, 7):
        text = []
        for index in range(start, min(days, start + 7)):
            visits, _history, m = world.day_rows(plan, args.seed, index, first_day + dt.timedelta(days=index), next_id,
                                                 BULK_CHANGE_REASON)
            text += visits
            next_id += m
        text = "".join(text)
        for name, conn in ((SINGLE, single), (MONTHLY, monthly)):
            began = time.perf_counter()
            with conn.cursor() as cursor:
                world._copy(cursor, TABLE, world.VISIT_COLUMNS, text)
            figures["copy"][name] += time.perf_counter() - began
        rows = next_id - 1
        if start % 91 == 0:
            print(f"  {first_day + dt.timedelta(days=start)}: {rows:,} visits ({time.perf_counter() - started:.0f}s)",
                  flush=True)
    figures["rows"] = rows
    began = time.perf_counter()
    with single.cursor() as cursor:
        world.restore_indexes(cursor, schema)
    figures["indexes"] = {SINGLE: time.perf_counter() - began}
    began = time.perf_counter()
    monthly.execute("SET maintenance_work_mem = '512MB'")
    for statement in monthly_keys + monthly_rest:
        monthly.execute(statement)
    figures["indexes"][MONTHLY] = time.perf_counter() - began
    for conn in (single, monthly):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), %s)", [next_id])
        began = time.perf_counter()
        conn.execute(f"VACUUM (ANALYZE) {TABLE}")
        conn.execute("VACUUM ANALYZE stores_store")
        figures.setdefault("first_vacuum", {})[conn.info.dbname] = time.perf_counter() - began
        conn.execute("CHECKPOINT")
    for conn in (single, monthly):
        meta = json.dumps({**wanted(args, first_day, last_day), "done": True, "figures": figures})
        conn.execute(f"COMMENT ON DATABASE \"{conn.info.dbname}\" IS '{meta}'")
        conn.close()
    return figures


# -- measure ------------------------------------------------------------------------------------------

def timed(runs: int, function, *args) -> float:
    """The median of `runs` timed calls in ms, after one untimed (warm) call."""
    function(*args)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        function(*args)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def scan_nodes(conn, sql: str, params) -> str:
    """The plan's scan nodes, counted: what the query reads."""
    plan = conn.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()[0][0]["Plan"]
    seen = {}

    def walk(node):
        if "Scan" in node["Node Type"]:
            key = f"{node['Node Type']}" + (f" {node['Index Name']}" if node.get("Index Name") else "")
            seen[key] = seen.get(key, 0) + 1
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    found = {}
    for key, n in list(seen.items()):
        short = re.sub(f"{TABLE}_(\\d{{6}}|default)", f"{TABLE}_<month>", key)
        found[short] = found.get(short, 0) + n
    return ", ".join(f"{n}x {k}" if n > 1 else k for k, n in sorted(found.items()))


WINDOW_SQL = (f"SELECT store_id, count(*), sum(total_sales), sum(own_sales) FROM {TABLE} "
              f"WHERE date > %(d)s::date - 364 AND date <= %(d)s GROUP BY store_id")


def pack_months(args, name: str, month_list: list, parts: int = 2) -> None:
    """analytics/months.pack for each month, `parts` months at a time on their own connections, each
    rolled back: the SHARE lock, the month's packed string_agg into analytics_visitmonth."""
    from concurrent.futures import ThreadPoolExecutor

    from analytics.grid import PACKED_ROW

    def pack(month):
        params = {"first": month, "next": next_month(month)}
        with connect(args, name) as conn, conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('work_mem', '256MB', true), set_config('jit', 'off', true)")
            conn.execute(f"LOCK TABLE {TABLE} IN SHARE MODE")
            conn.execute("DELETE FROM analytics_visitmonth WHERE month = %(first)s", params)
            conn.execute(
                f"INSERT INTO analytics_visitmonth (store_id, month, blob, max_total) "
                f"SELECT store_id, %(first)s, string_agg({PACKED_ROW}, ''::bytea), max(total_sales) FROM {TABLE} "
                f"WHERE date >= %(first)s AND date < %(next)s GROUP BY store_id", params)

    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(pack, month_list))


def measurements(args, name: str, conn, first_day: dt.date, last_day: dt.date, plans: dict) -> list:
    """(name, call, divisor) of every repeated measurement on this database; a call may return its own ms."""
    import random

    from stores.services import BULK_CHANGE_REASON, _upsert_unnest_audited_sql

    rng = random.Random(args.seed)
    steps = []
    conn.execute("SET jit = off")  # as the product's connections see it on this machine: short queries
    d = last_day
    stores = [row[0] for row in conn.execute("SELECT id FROM stores_store ORDER BY id")]
    reps = [row[0] for row in conn.execute("SELECT DISTINCT rep_id FROM stores_store WHERE rep_id IS NOT NULL")]

    def run(sql, params):
        return conn.execute(sql, params).fetchall()

    steps.append(("window GROUP BY (nightly)", lambda: run(WINDOW_SQL, {"d": d}), 1))
    plans["window GROUP BY (nightly)"] = scan_nodes(conn, WINDOW_SQL, {"d": d})

    # The nightly run packs the stale months (analytics/months.py): on a normal night the current
    # one; after an upgrade all 13 months of the rules' range (loading.first_loaded_day), two at a time.
    first = min(d - dt.timedelta(days=363), dt.date(d.year - 1, d.month, 1))
    all_months = list(months(first.replace(day=1), d))
    key = "pack the current month (a normal night)"
    steps.append((key, lambda: pack_months(args, name, [d.replace(day=1)], 1), 1))
    plans[key] = scan_nodes(conn, f"SELECT store_id, max(total_sales) FROM {TABLE} WHERE date >= %s AND date < %s "
                            "GROUP BY store_id", [d.replace(day=1), next_month(d)])
    key = f"pack all {len(all_months)} months, two at a time (first run)"
    steps.append((key, lambda: pack_months(args, name, all_months, 2), 1))

    one_store = f"SELECT * FROM {TABLE} WHERE store_id = %s ORDER BY date DESC LIMIT 50"
    sample = rng.sample(stores, 20)
    steps.append(("one store's visits (50 newest)", lambda: [run(one_store, [s]) for s in sample], len(sample)))
    plans["one store's visits (50 newest)"] = scan_nodes(conn, one_store, [sample[0]])

    rep_day = f"SELECT * FROM {TABLE} WHERE date = %s AND store_id IN (SELECT id FROM stores_store WHERE rep_id = %s)"
    rep_sample = rng.sample(reps, 20)
    steps.append(("a rep's stores' visits of one day", lambda: [run(rep_day, [d, r]) for r in rep_sample], 20))
    plans["a rep's stores' visits of one day"] = scan_nodes(conn, rep_day, [d, rep_sample[0]])

    last_visit = f"SELECT store_id, max(date) FROM {TABLE} WHERE store_id = ANY(%s) GROUP BY store_id"
    pages = [rng.sample(stores, 50) for _ in range(10)]
    steps.append(("last visit of a page of 50 stores", lambda: [run(last_visit, [p]) for p in pages], 10))
    plans["last visit of a page of 50 stores"] = scan_nodes(conn, last_visit, [pages[0]])

    rep_list = (f"SELECT * FROM {TABLE} WHERE store_id IN (SELECT id FROM stores_store WHERE rep_id = %s) "
                f"ORDER BY date DESC, store_id LIMIT 50")
    steps.append(("a rep's visit list (50 newest)", lambda: [run(rep_list, [r]) for r in rep_sample], 20))
    plans["a rep's visit list (50 newest)"] = scan_nodes(conn, rep_list, [rep_sample[0]])

    # The bulk API's statement (stores.services._upsert_unnest), on 1000 stores, rolled back.
    sql = _upsert_unnest_audited_sql()
    admin = conn.execute("SELECT id FROM planning_user WHERE username = 'admin'").fetchone()[0]

    def upsert(day, batch_stores, bump):
        now = dt.datetime.now(dt.timezone.utc)
        n = len(batch_stores)
        columns = [batch_stores, [day] * n, [None] * n, [500 + bump] * n, [100] * n, [True] * n, [None] * n,
                   [False] * n, [""] * n]
        with conn.transaction(force_rollback=True):
            rows = conn.execute(sql, [now, now, *columns, now, BULK_CHANGE_REASON, admin]).fetchall()
        assert len(rows) >= 0.99 * n, (len(rows), n)  # a changed row equal by chance is left alone

    def upsert_io(day, batch_stores, bump):
        """What one more batch reads and writes: shared buffers hit / read, WAL full-page images and bytes."""
        n = len(batch_stores)
        columns = [batch_stores, [day] * n, [None] * n, [500 + bump] * n, [100] * n, [True] * n, [None] * n,
                   [False] * n, [""] * n]
        now = dt.datetime.now(dt.timezone.utc)
        with conn.transaction(force_rollback=True):
            top = conn.execute("EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + sql,
                               [now, now, *columns, now, BULK_CHANGE_REASON, admin]).fetchone()[0][0]["Plan"]
        return (f"buffers hit {top['Shared Hit Blocks']:,} read {top['Shared Read Blocks']:,}, "
                f"WAL {top['WAL Bytes'] / 2**20:.1f} MiB, {top['WAL FPI']:,} full-page images")

    visited = [row[0] for row in conn.execute(f"SELECT store_id FROM {TABLE} WHERE date = %s ORDER BY store_id", [d])]
    batches = iter(range(1000))
    tomorrow = d + dt.timedelta(days=1)
    key = "upsert 1000 new visits (tomorrow)"
    steps.append((key, lambda: upsert(tomorrow, rng.sample(stores, min(1000, len(stores))), next(batches)), 1))
    plans[key] = lambda: upsert_io(tomorrow, rng.sample(stores, min(1000, len(stores))), next(batches))
    key = "upsert 1000 changed visits (last day)"
    steps.append((key, lambda: upsert(d, rng.sample(visited, min(1000, len(visited))), next(batches)), 1))
    plans[key] = lambda: upsert_io(d, rng.sample(visited, min(1000, len(visited))), next(batches))

    # A day of corrections (every visit of the last day changed once), then VACUUM as autovacuum would run it.
    def correct_and_vacuum(vacuumed=TABLE):
        conn.execute(f"UPDATE {TABLE} SET updated_at = now() WHERE date = %s", [d])
        began = time.perf_counter()
        conn.execute(f"VACUUM {vacuumed}")
        return (time.perf_counter() - began) * 1000

    steps.append(("VACUUM after a day's corrections, whole table", correct_and_vacuum, 1))
    # Autovacuum takes each partition on its own: only the month that changed; the one table whole.
    unit = f"{TABLE}_{d:%Y%m}" if name == MONTHLY else TABLE
    steps.append(("VACUUM after a day's corrections, autovacuum's unit", lambda: correct_and_vacuum(unit), 1))
    plans["VACUUM after a day's corrections, autovacuum's unit"] = unit
    return steps


def drop_oldest_year(name: str, conn, first_day: dt.date, out: dict, plans: dict) -> None:
    """The sizes, then the oldest year removed: DELETE + VACUUM on one table, DETACH + DROP of its twelve partitions."""
    leaves = (f"SELECT relid FROM pg_partition_tree('{TABLE}') WHERE isleaf UNION SELECT '{TABLE}'::regclass "
              f"WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree('{TABLE}') WHERE NOT isleaf)")
    heap, index = conn.execute(f"SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)) FROM ({leaves}) l").fetchone()
    out["size, table MiB"], out["size, indexes MiB"] = heap / 2**20, index / 2**20

    cutoff = dt.date(first_day.year + 1, first_day.month, 1)
    old = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE date < %s", [cutoff]).fetchone()[0]
    began = time.perf_counter()
    if name == SINGLE:
        conn.execute(f"DELETE FROM {TABLE} WHERE date < %s", [cutoff])
        out["drop oldest year: DELETE / DETACH ms"] = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        conn.execute(f"VACUUM {TABLE}")
        out["drop oldest year: VACUUM / DROP ms"] = (time.perf_counter() - began) * 1000
    else:
        old_months = list(months(first_day, cutoff - dt.timedelta(days=1)))
        for month in old_months:
            conn.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {TABLE}_{month:%Y%m}")
        out["drop oldest year: DELETE / DETACH ms"] = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        for month in old_months:
            conn.execute(f"DROP TABLE {TABLE}_{month:%Y%m}")
        out["drop oldest year: VACUUM / DROP ms"] = (time.perf_counter() - began) * 1000
    plans["drop oldest year: DELETE / DETACH ms"] = f"{old:,} visits before {cutoff}"
    conn.execute(f'COMMENT ON DATABASE "{name}" IS NULL')  # changed: --reuse must rebuild it
    heap, index = conn.execute(f"SELECT sum(pg_table_size(relid)), sum(pg_indexes_size(relid)) FROM ({leaves}) l").fetchone()
    out["size after, table + indexes MiB"] = (heap + index) / 2**20


def interleaved(args, steps: dict) -> dict:
    """name -> {database: median ms}: each measurement on both databases by turns, one untimed call each first."""
    result = {}
    for index, (key, _call, _per) in enumerate(steps[SINGLE]):
        times = {SINGLE: [], MONTHLY: []}
        for name in (SINGLE, MONTHLY):
            steps[name][index][1]()
        for run in range(args.runs):
            for name in (SINGLE, MONTHLY) if run % 2 == 0 else (MONTHLY, SINGLE):
                _key, call, per = steps[name][index]
                began = time.perf_counter()
                own = call()
                ms = own if isinstance(own, float) else (time.perf_counter() - began) * 1000
                times[name].append(ms / per)
        result[key] = {name: statistics.median(t) for name, t in times.items()}
        print(f"  {key}: single {result[key][SINGLE]:,.1f} ms, monthly {result[key][MONTHLY]:,.1f} ms", flush=True)
    return result


def main():
    args = parse_args()
    last_day = dt.date.today() - dt.timedelta(days=1)
    first_day = next_month(dt.date(last_day.year - args.years, last_day.month, 1))
    meta = wanted(args, first_day, last_day)
    print(f"{args.stores:,} stores, visits {first_day} .. {last_day} ({(last_day - first_day).days + 1} days)", flush=True)
    if args.reuse and built(args, meta):
        with connect(args, SINGLE) as conn:
            row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                               "WHERE datname = current_database()").fetchone()
        figures = json.loads(row[0])["figures"]
        import django
        os.environ.update(DATABASE_URL=f"{args.server}/{SINGLE}", DJANGO_DEBUG="1", DJANGO_SETTINGS_MODULE="kacrm.settings")
        django.setup()
        print("reusing the built databases", flush=True)
    else:
        figures = build(args, first_day, last_day)
    print(f"\n{figures['rows']:,} visits. COPY (seconds): single {figures['copy'][SINGLE]:.0f}, "
          f"monthly {figures['copy'][MONTHLY]:.0f}; keys and indexes: single {figures['indexes'][SINGLE]:.0f}, "
          f"monthly {figures['indexes'][MONTHLY]:.0f}; first VACUUM ANALYZE: single "
          f"{figures['first_vacuum'][SINGLE]:.0f}, monthly {figures['first_vacuum'][MONTHLY]:.0f}", flush=True)
    conns, plans, steps = {}, {}, {}
    for name in (SINGLE, MONTHLY):
        conns[name] = connect(args, name)
        conns[name].execute("SET jit = off")  # as the product's connections on this machine: short queries
        plans[name] = {}
        steps[name] = measurements(args, name, conns[name], first_day, last_day, plans[name])
    print("measuring, the two databases by turns ...", flush=True)
    ms = interleaved(args, steps)
    for name in (SINGLE, MONTHLY):  # the I/O of one more upsert batch, taken after the timed ones
        plans[name] = {key: note() if callable(note) else note for key, note in plans[name].items()}
    one_shot = {}
    for name in (SINGLE, MONTHLY):
        one_shot[name] = {}
        drop_oldest_year(name, conns[name], first_day, one_shot[name], plans[name])
    after = {name: [("window GROUP BY after the drop", lambda c=conns[name]: c.execute(WINDOW_SQL, {"d": last_day})
                     .fetchall(), 1)] for name in conns}
    ms.update(interleaved(args, after))
    for name in (SINGLE, MONTHLY):
        conns[name].close()
    for key in one_shot[SINGLE]:
        ms[key] = {name: one_shot[name][key] for name in (SINGLE, MONTHLY)}
    print(f"\nmedian of {args.runs} warm runs, the two databases by turns, ms (sizes MiB)\n")
    print("| measurement | single table | by month | what it reads (single / by month) |\n|---|---|---|---|")
    for key, value in ms.items():
        p1, p2 = plans[SINGLE].get(key, ""), plans[MONTHLY].get(key, "")
        notes = f" {p1} / {p2} " if p1 or p2 else " "
        print(f"| {key} | {value[SINGLE]:,.1f} | {value[MONTHLY]:,.1f} |{notes}|")
    if not args.keep:
        drop_databases(args)
        print("\ndatabases dropped (--keep keeps them; the drop-the-oldest-year step changed them anyway)")


if __name__ == "__main__":
    main()
