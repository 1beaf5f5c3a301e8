"""A world of N stores x 364 days in the shape the product itself writes (bench/scale.py builds it).

What "the same shape" means here, and why (issue 10): a table COPYed store by store with no rep
and no audit trail (what an earlier bench did) is friendlier than the daily logging produces. This
module writes
  - visits day by day, oldest first, every store's visits of one day interleaved in the order of
    their time of day, `rep_id` the store's rep, created_at / updated_at on the visit day;
  - one `+` audit row per visit in stores_historicalstorevisit with the visit's fields, the rep as
    history_user and the change reason of the bulk API (stores.services.BULK_CHANGE_REASON), and a
    `~` row for the few percent of visits corrected later that day (the visit holds the corrected
    figures, the `+` row the first ones);
  - every index and constraint of the migrations: the two big tables are loaded without their
    indexes and foreign keys, which are then recreated from the definitions read before, and the
    result is compared with pg_indexes / pg_constraint as they were (a mismatch stops the build).
Regions, accounts, stores and users are small and COPYed or bulk-created; the scores, alerts,
targets and visit plans come from the product's own code (`recompute` with its alert evaluation,
`planning.services`). The load is resumable: progress is kept in the database's COMMENT (a JSON
document), each week of visits commits with it, and the visits of a day come from a generator
seeded by (seed, day) so a resumed build writes the same rows.

Logins follow seed_demo's conventions, password "demo": admin (superuser), analyst, analyst2,
ka1..kaK, sup1..supS (sup_i heads region i), rep1..repR.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import time
from dataclasses import dataclass

import numpy as np

SHAPE_VERSION = 1
PASSWORD = "demo"
COUNTRIES = {"CN": (24, 31.2, 121.5, 0.23), "ES": (18, 40.4, -3.7, 0.21), "MX": (18, 19.4, -99.1, 0.25)}
FORMATS = np.array(["hypermarket", "large", "medium", "small"])
FORMAT_P = [0.08, 0.17, 0.35, 0.40]
AREA = {"hypermarket": (6000, 14000, 0.45), "large": (2500, 6000, 0.20), "medium": (800, 2500, 0.08), "small": (120, 800, 0.06)}
WEEKDAY_FACTOR = np.array([0.90, 0.90, 0.95, 1.00, 1.10, 1.30, 1.20])
MONTH_FACTOR = np.array([0.95, 0.92, 0.95, 1.00, 1.00, 0.96, 0.88, 0.88, 1.00, 1.04, 1.08, 1.28])
STORES_PER_REP = 30
CORRECTION_RATE = 0.03
NOTES = ("Display moved to the aisle end.", "Store manager asks for a tasting day.", "Price labels missing on two shelves.",
         "New category buyer since this week.", "Stock-out on the best seller.", "Shelf reset next month.")
COMPETITORS = ("Kaiyo", "Nordex", "Brava", "Lumio", "Tessar")
VISIT_CHUNK_DAYS = 7
BIG_TABLES = ("stores_storevisit", "stores_historicalstorevisit")


@dataclass
class Meta:
    """The build's progress, kept in COMMENT ON DATABASE."""

    data: dict

    @classmethod
    def read(cls, cursor) -> Meta:
        cursor.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()")
        text = cursor.fetchone()[0]
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        return cls(data if data.get("bench") == "scale" else {})

    def write(self, cursor) -> None:
        cursor.execute("SELECT current_database()")
        name = cursor.fetchone()[0]
        text = json.dumps(self.data).replace("'", "''")
        cursor.execute(f"COMMENT ON DATABASE \"{name}\" IS '{text}'")


def _copy(cursor, table: str, columns: list[str], text: str) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        view = memoryview(text.encode())
        for start in range(0, len(view), 1 << 22):
            copy.write(view[start:start + (1 << 22)])


def _null(value) -> str:
    return "\\N" if value is None else str(value)


# -- schema: the big tables' indexes and constraints ------------------------------------------------

def schema_of(cursor) -> dict:
    """The indexes (pg_indexes) and non-CHECK constraints of the big tables, as definitions."""
    cursor.execute("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) ORDER BY 1, 2",
                   [list(BIG_TABLES)])
    indexes = [list(row) for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2", [list(BIG_TABLES)])
    constraints = [list(row) for row in cursor.fetchall()]
    return {"indexes": indexes, "constraints": constraints}


def drop_indexes(cursor, schema: dict) -> None:
    backing = {name for _t, name, kind, _d in schema["constraints"] if kind in "pu"}
    for table, name, kind, _definition in schema["constraints"]:
        if kind in "puf":
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
    for _table, name, _definition in schema["indexes"]:
        if name not in backing:
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


def restore_indexes(cursor, schema: dict) -> None:
    """Recreate what drop_indexes dropped, under the same names, then check the schema is exactly as before."""
    cursor.execute("SET maintenance_work_mem = '512MB'")
    present = schema_of(cursor)
    have_constraints = {c[1] for c in present["constraints"]}
    have_indexes = {i[1] for i in present["indexes"]}
    backing = {name for _t, name, kind, _d in schema["constraints"] if kind in "pu"}
    for table, name, kind, definition in schema["constraints"]:
        if kind in "pu" and name not in have_constraints:
            started = time.perf_counter()
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            print(f"    {name}: {time.perf_counter() - started:.1f}s", flush=True)
    for _table, name, definition in schema["indexes"]:
        if name not in backing and name not in have_indexes:
            started = time.perf_counter()
            cursor.execute(definition)
            print(f"    {name}: {time.perf_counter() - started:.1f}s", flush=True)
    for table, name, kind, definition in schema["constraints"]:
        if kind == "f" and name not in have_constraints:
            started = time.perf_counter()
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
            print(f"    {name}: {time.perf_counter() - started:.1f}s", flush=True)
    after = schema_of(cursor)
    if after != schema:
        raise SystemExit(f"schema differs after the load:\nbefore {schema}\nafter  {after}")


# -- the small tables ---------------------------------------------------------------------------------

@dataclass
class Plan:
    """Per-store arrays of the simulation (index = store number in code order)."""

    store_ids: np.ndarray
    rep_ids: np.ndarray  # 0: none
    writer_ids: np.ndarray  # history_user: the rep, else the admin (a bulk load)
    potential: np.ndarray
    share: np.ndarray
    visit_p: np.ndarray
    closed: np.ndarray  # (stores, 7) bool
    visits_until: np.ndarray  # last day index with visits
    lost_from: np.ndarray  # day index from which own sales are 0 (big: never)
    promo_start: np.ndarray
    promo_end: np.ndarray


def _regions(rng):
    rows = []
    for country, (count, lat, lon, _share) in COUNTRIES.items():
        for i in range(1, count + 1):
            rows.append((f"{country.lower()}-{i:02d}", f"{country} region {i}", country,
                         lat + rng.normal(0, 3), lon + rng.normal(0, 3)))
    return rows


def draw(args, days: int) -> dict:
    """Every random attribute of the regions and stores, from the seed alone (a resumed build draws the same)."""
    rng = np.random.default_rng(args.seed)
    n = args.stores
    d = {"regions": _regions(rng)}
    weights = rng.lognormal(0, 0.5, len(d["regions"]))
    d["store_region"] = np.sort(rng.choice(len(d["regions"]), n, p=weights / weights.sum()))
    d["n_accounts"] = max(8, n // 250)
    d["kinds"] = rng.choice(["chain", "institution", "independent"], d["n_accounts"], p=[0.8, 0.15, 0.05])
    fmt = d["fmt"] = rng.choice(4, n, p=FORMAT_P)
    low = np.array([AREA[f][0] for f in FORMATS])[fmt]
    high = np.array([AREA[f][1] for f in FORMATS])[fmt]
    p24 = np.array([AREA[f][2] for f in FORMATS])[fmt]
    area = d["area"] = np.round(rng.uniform(low, high), -1)
    checkouts = d["checkouts"] = np.maximum(1, np.rint(area / 280 * rng.lognormal(0, 0.25, n))).astype(int)
    shelves = d["shelves"] = np.maximum(1, np.rint(2 + area / 400 * rng.lognormal(0, 0.3, n))).astype(int)
    open24 = d["open24"] = rng.random(n) < p24
    d["missing"] = (np.arange(n) % 29 == 7) | (rng.random(n) < 0.03)  # a missing regression driver
    d["potential"] = (4 + 0.012 * area + 2.5 * checkouts + 1.8 * shelves + 10 * open24) * rng.lognormal(0, 0.12, n)
    # Most stores sell us above the market share; attack stores (big, mostly competitors) and the
    # current promotions below it: a few percent of the stores have an alert, as in the field.
    share = np.clip(rng.normal(0.32, 0.06, n), 0.01, 0.8)
    attack = (fmt <= 1) & (rng.random(n) < 0.10)
    share[attack] *= rng.uniform(0.25, 0.5, attack.sum())
    d["share"] = share
    countries = list(COUNTRIES)
    d["region_country"] = np.array([countries.index(r[2]) for r in d["regions"]])[d["store_region"]]
    d["has_account"] = rng.random(n) < 0.75
    d["account_pick"] = rng.random(n)
    closed = d["closed"] = np.zeros((n, 7), dtype=bool)
    closed[:, 6] = (fmt >= 2) & (rng.random(n) < np.where(d["region_country"] == 1, 0.5, 0.08))
    rare = rng.random(n) < 0.05  # visited about once a month
    d["visit_p"] = np.where(rare, rng.uniform(0.02, 0.04, n), rng.uniform(0.6, 0.95, n))
    no_rep = d["no_rep"] = rng.random(n) < 0.01  # the rep left two months ago
    inactive = d["inactive"] = ~no_rep & (rng.random(n) < 0.01)  # closed down six weeks ago
    until = d["visits_until"] = np.full(n, days - 1)
    until[no_rep] = days - 61
    until[inactive] = days - 43
    d["lost_from"] = np.where(rng.random(n) < 0.02, days - rng.integers(100, 250, n), 1 << 30)
    # Competitor promotions: some weeks over the year, and running now for a few percent of stores
    # (their share falls under the market share: the alerts of SPEC §5).
    promo_len = rng.integers(21, 43, n)
    start = np.where(rng.random(n) < 0.2, rng.integers(0, days - 42, n), 1 << 30)
    now = rng.random(n) < 0.03
    start[now] = days - rng.integers(14, 35, now.sum())
    d["promo_start"], d["promo_end"] = start, np.where(now, days + 1, start + promo_len)
    d["lat"] = rng.normal(0, 0.3, n)
    d["lon"] = rng.normal(0, 0.3, n)
    return d


def plan_of(d: dict) -> Plan:
    """The visit simulation's plan of the saved stores (ids from the database, in code order = load order)."""
    from org.models import User
    from stores.models import Store

    rows = list(Store.objects.order_by("id").values_list("id", "rep_id"))
    store_ids = np.array([pk for pk, _rep in rows], dtype=np.int64)
    rep_ids = np.array([rep or 0 for _pk, rep in rows], dtype=np.int64)
    admin = User.objects.get(username="admin").pk
    return Plan(store_ids=store_ids, rep_ids=rep_ids, writer_ids=np.where(rep_ids > 0, rep_ids, admin),
                potential=d["potential"], share=d["share"], visit_p=d["visit_p"], closed=d["closed"],
                visits_until=d["visits_until"], lost_from=d["lost_from"], promo_start=d["promo_start"],
                promo_end=d["promo_end"])


def build_small(args, d: dict, first_day: dt.date, last_day: dt.date) -> None:
    """Regions, market shares, users, teams, accounts and stores."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from accounts.models import KeyAccount
    from org.models import Region, Role, Team, User
    from stores.models import MarketShare, Store

    n = args.stores
    password = make_password(PASSWORD)
    region_rows = d["regions"]
    Region.objects.bulk_create([Region(code=c, name=name, country=k) for c, name, k, _la, _lo in region_rows])
    regions = {r.code: r for r in Region.objects.all()}
    region_codes = [r[0] for r in region_rows]
    shares = []
    for year in range(first_day.year, last_day.year + 1):
        for country, (_c, _la, _lo, share) in COUNTRIES.items():
            shares.append(MarketShare(country=country, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                                      share=round(share + 0.01 * (year - last_day.year), 3), source=f"Bench panel {year}"))
    for k, code in enumerate(region_codes[::6]):  # some regions have a panel figure of their own
        shares.append(MarketShare(country=regions[code].country, region=regions[code],
                                  period_start=dt.date(last_day.year, 1, 1), period_end=dt.date(last_day.year, 12, 31),
                                  share=round(0.18 + 0.01 * (k % 12), 3), source=f"Bench panel {last_day.year}, {code}"))
    MarketShare.objects.bulk_create(shares)

    store_region = d["store_region"]
    per_region = np.bincount(store_region, minlength=len(region_codes))
    n_accounts = d["n_accounts"]
    n_ka = max(2, math.ceil(n_accounts / 10))
    users = [User(username="admin", first_name="Bench", last_name="Admin", role=Role.ANALYST, is_staff=True,
                  is_superuser=True, email="admin@bench.example", password=password)]
    users += [User(username=name, first_name="Ana", last_name=name, role=Role.ANALYST, password=password,
                   email=f"{name}@bench.example") for name in ("analyst", "analyst2")]
    users += [User(username=f"ka{i}", first_name="KA", last_name=str(i), role=Role.KA_MANAGER, password=password,
                   email=f"ka{i}@bench.example") for i in range(1, n_ka + 1)]
    users += [User(username=f"sup{i}", first_name="Sup", last_name=str(i), role=Role.SUPERVISOR, password=password,
                   region=regions[code], email=f"sup{i}@bench.example") for i, code in enumerate(region_codes, 1)]
    teams = []
    for code in region_codes:
        teams += [Team(name=f"{code} hunters", kind=Team.Kind.HUNTERS, region=regions[code]),
                  Team(name=f"{code} farmers", kind=Team.Kind.FARMERS, region=regions[code])]
    Team.objects.bulk_create(teams)
    team_ids = {t.name: t.pk for t in Team.objects.all()}
    reps_of_region, rep_users, number = [], [], 0
    for r, code in enumerate(region_codes):
        names = []
        for k in range(max(1, math.ceil(per_region[r] / STORES_PER_REP))):
            number += 1
            names.append(f"rep{number}")
            rep_users.append(User(username=f"rep{number}", first_name="Rep", last_name=str(number), role=Role.SALES_MANAGER,
                                  password=password, region=regions[code], email=f"rep{number}@bench.example",
                                  team_id=team_ids[f"{code} {'hunters' if k % 2 == 0 else 'farmers'}"]))
        reps_of_region.append(names)
    User.objects.bulk_create(users + rep_users, batch_size=2000)
    user_ids = dict(User.objects.values_list("username", "id"))
    through = Region.supervisors.through
    through.objects.bulk_create([through(region_id=regions[code].pk, user_id=user_ids[f"sup{i}"])
                                 for i, code in enumerate(region_codes, 1)])

    # Accounts: chains and institutions at home in one country; a few big chains, many small ones.
    kinds = d["kinds"]
    countries = list(COUNTRIES)
    KeyAccount.objects.bulk_create([
        KeyAccount(code=f"ka-{i:04d}", name=f"{'Chain' if kinds[i] == 'chain' else kinds[i].title()} {i}", kind=kinds[i],
                   owner_id=user_ids[f"ka{i % n_ka + 1}"], headquarters=f"{countries[i % 3]} HQ {i}",
                   description=f"Bench account {i} ({countries[i % 3]}).", website=f"https://ka-{i:04d}.example")
        for i in range(n_accounts)
    ])
    account_ids = np.array(KeyAccount.objects.order_by("code").values_list("id", flat=True))
    account_country = np.arange(n_accounts) % 3
    zipf = 1.0 / np.arange(1, n_accounts + 1) ** 0.9
    store_account = np.zeros(n, dtype=np.int64)
    for c in range(3):
        mine = np.nonzero(account_country == c)[0]
        pick = np.nonzero(d["has_account"] & (d["region_country"] == c))[0]
        cdf = np.cumsum(zipf[mine]) / zipf[mine].sum()
        store_account[pick] = account_ids[mine[np.minimum(len(mine) - 1, np.searchsorted(cdf, d["account_pick"][pick]))]]

    counters = np.zeros(len(region_codes), dtype=int)
    lines = io.StringIO()
    fmt, closed, inactive, missing = d["fmt"], d["closed"], d["inactive"], d["missing"]
    for i in range(n):
        r = store_region[i]
        counters[r] += 1
        k = counters[r]
        reps = reps_of_region[r]
        rep = None if d["no_rep"][i] else user_ids[reps[(k - 1) * len(reps) // max(1, per_region[r])]]
        attrs = [d["area"][i], d["checkouts"][i], d["shelves"][i], "t" if d["open24"][i] else "f"]
        if missing[i]:
            attrs[i % 4] = None
        account = store_account[i]
        lines.write("\t".join([
            f"{region_codes[r]}-{k:05d}", f"{'Chain' if account else 'Independent'} store {region_codes[r]} {k}",
            _null(account or None), str(regions[region_codes[r]].pk), f"Street {k % 97} no. {10 + 7 * k % 480}",
            f"{region_rows[r][3] + d['lat'][i]:.5f}", f"{region_rows[r][4] + d['lon'][i]:.5f}",
            FORMATS[fmt[i]], _null(attrs[0]), _null(attrs[1]), _null(attrs[3]), _null(attrs[2]),
            "[6]" if closed[i, 6] else "[]", _null(rep), "f" if inactive[i] else "t",
        ]) + "\n")
    with connection.cursor() as cursor:
        _copy(cursor.cursor, Store._meta.db_table,
              ["code", "name", "account_id", "region_id", "address", "latitude", "longitude", "format", "floor_area_m2",
               "checkouts", "open_24h", "shelves", "closed_weekdays", "rep_id", "active"], lines.getvalue())


# -- visits -------------------------------------------------------------------------------------------

TIMES = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]
CHECK = np.array(["f", "t", "\\N"])
VISIT_COLUMNS = ["id", "store_id", "date", "rep_id", "total_sales", "own_sales", "display_ok", "promotion_ok", "staff_ok",
                 "notes", "suspect", "suspect_confirmed", "created_at", "updated_at"]
HISTORY_COLUMNS = VISIT_COLUMNS + ["history_date", "history_change_reason", "history_type", "history_user_id"]


def day_rows(plan: Plan, seed: int, index: int, day: dt.date, first_id: int, reason: str) -> tuple[list[str], list[str], int]:
    """The visit lines and audit lines of one day, in the order they were written; returns (visits, history, count)."""
    rng = np.random.default_rng([seed, index])
    n = len(plan.store_ids)
    weekday = day.weekday()
    p = plan.visit_p * (0.8 if weekday >= 5 else 1.0)
    visited = (rng.random(n) < p) & ~plan.closed[:, weekday] & (index <= plan.visits_until)
    s = np.nonzero(visited)[0]
    m = len(s)
    noise = np.exp(np.clip(rng.normal(0, 0.2, m), -0.4, 0.4))
    total = np.rint(plan.potential[s] * WEEKDAY_FACTOR[weekday] * MONTH_FACTOR[day.month - 1] * noise).astype(np.int64)
    share = plan.share[s] * rng.lognormal(0, 0.08, m)
    share = np.where((plan.promo_start[s] <= index) & (index < plan.promo_end[s]), share * rng.uniform(0.45, 0.65, m), share)
    share = np.where(plan.lost_from[s] <= index, 0.0, share)
    own = rng.binomial(total, np.clip(share, 0, 0.95))
    typo = rng.random(m) < 0.0002  # an extra zero: the suspect screen of SPEC §3.2
    total = np.where(typo, total * 10, total)
    checks = np.where(rng.random((3, m)) < 0.1, 2, (rng.random((3, m)) < 0.85).astype(int))
    notes = np.where(rng.random(m) < 0.05, 1 + rng.integers(len(NOTES), size=m), 0)
    seconds = rng.integers(8 * 3600, 19 * 3600, m)
    corrected = rng.random(m) < CORRECTION_RATE
    fixed_at = np.minimum(86399, seconds + rng.integers(600, 4 * 3600, m))
    new_total = np.maximum(own, np.rint(total * rng.uniform(0.85, 1.15, m))).astype(np.int64)
    order = np.argsort(seconds, kind="stable")
    day_text = day.isoformat()
    note_text = ("",) + NOTES
    visits, history, fixes = [], [], []
    for rank, j in enumerate(order):
        i = s[j]
        vid = first_id + rank
        rep = plan.rep_ids[i]
        rep_text = str(rep) if rep else "\\N"
        created = f"{day_text} {TIMES[seconds[j]]}+00"
        head = (f"{vid}\t{plan.store_ids[i]}\t{day_text}\t{rep_text}\t")
        tail = f"\t{CHECK[checks[0, j]]}\t{CHECK[checks[1, j]]}\t{CHECK[checks[2, j]]}\t{note_text[notes[j]]}\tf\tf\t{created}\t"
        first = f"{head}{total[j]}\t{own[j]}{tail}{created}"
        writer = plan.writer_ids[i]
        history.append(f"{first}\t{created}\t{reason}\t+\t{writer}\n")
        if corrected[j]:
            fixed = f"{day_text} {TIMES[fixed_at[j]]}+00"
            line = f"{head}{new_total[j]}\t{own[j]}{tail}{fixed}"
            visits.append(line + "\n")
            fixes.append((fixed_at[j], f"{line}\t{fixed}\t{reason}\t~\t{writer}\n"))
        else:
            visits.append(first + "\n")
    # The corrections come later in the day than most first writes: their audit rows go in time order.
    for _at, line in sorted(fixes):
        history.append(line)
    return visits, history, m


def load_visits(plan: Plan, meta: Meta, first_day: dt.date, days: int, seed: int) -> None:
    from django.db import connection, transaction

    from stores.services import BULK_CHANGE_REASON

    progress = meta.data.setdefault("visits", {"days_done": 0, "next_id": 1, "rows": 0, "history": 0})
    started = time.perf_counter()
    while progress["days_done"] < days:
        chunk_start = progress["days_done"]
        chunk = range(chunk_start, min(days, chunk_start + VISIT_CHUNK_DAYS))
        visit_text, history_text = [], []
        next_id = progress["next_id"]
        for index in chunk:
            v, h, m = day_rows(plan, seed, index, first_day + dt.timedelta(days=index), next_id, BULK_CHANGE_REASON)
            visit_text += v
            history_text += h
            next_id += m
            progress["history"] += len(h)
        with transaction.atomic(), connection.cursor() as cursor:
            _copy(cursor.cursor, "stores_storevisit", VISIT_COLUMNS, "".join(visit_text))
            _copy(cursor.cursor, "stores_historicalstorevisit", HISTORY_COLUMNS, "".join(history_text))
            progress["rows"] += next_id - progress["next_id"]
            progress["next_id"] = next_id
            progress["days_done"] = chunk.stop
            meta.write(cursor)
        elapsed = time.perf_counter() - started
        print(f"  days {chunk.stop}/{days}: {progress['rows']:,} visits, {progress['history']:,} audit rows "
              f"({elapsed:.0f}s)", flush=True)


# -- what the product computes, and the rows people add ------------------------------------------------

def build_derived(args, last_day: dt.date, today: dt.date) -> None:
    """Scores and alerts (recompute), targets and visit plans (planning), alert handling, dossiers, account plans."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from accounts.models import Competitor, CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent
    from alerts.models import Alert, FollowUp, Notification
    from planning import services as planning_services
    from planning.models import AccountPlan, BusinessReview, ForecastMonth, PlanAction, PlanObjective

    from stores import services as store_services

    rng = np.random.default_rng([args.seed, 99])
    started = time.perf_counter()
    # The tallies as the nightly beat leaves them (kacrm.tallies): the COPY of each week added its deltas.
    # A night folds one day of deltas into tables whose space VACUUM reuses; a year's deltas folded at once would
    # leave them 30 times larger than any night does, hence VACUUM FULL.
    folded = store_services.fold_visit_counts() + planning_services.fold_store_months()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM FULL stores_storevisitcount, planning_storemonth")
    print(f"  tallies folded ({folded:,} rows): {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    call_command("recompute", "--as-of", (last_day - dt.timedelta(days=1)).isoformat())
    print(f"  recompute: {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    planning_services.generate_visit_plans()
    for month in (today.replace(day=1), (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)):
        planning_services.generate_targets(month=month)
    print(f"  targets and visit plans: {time.perf_counter() - started:.1f}s", flush=True)

    # Alert handling: supervisors acknowledged a third of the open alerts (with a follow-up check), resolved a sixth.
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT region_id, user_id FROM planning_region_supervisors")
        sup_of_region = dict(cursor.fetchall())
    alerts = list(Alert.objects.filter(status=Alert.Status.OPEN).values_list("id", "store_id", "store__region_id", "opened_on"))
    draw = rng.random(len(alerts))
    follow_ups, acknowledged, resolved = [], [], []
    for (pk, store_id, region_id, opened), x in zip(alerts, draw):
        sup = sup_of_region.get(region_id)
        if x < 0.5:
            acknowledged.append((pk, sup))
            follow_ups.append(FollowUp(alert_id=pk, store_id=store_id, date=min(last_day, opened + dt.timedelta(days=1)),
                                       display_ok=bool(x < 0.3), promotion_ok=False, staff_ok=True, recorded_by_id=sup,
                                       actions="Asked for a second facing.", notes="Competitor promotion at the entrance."))
        if x < 0.17:
            resolved.append((pk, sup))
    for pk, sup in acknowledged:
        Alert.objects.filter(pk=pk).update(status=Alert.Status.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by_id=sup)
    for pk, sup in resolved:
        Alert.objects.filter(pk=pk).update(status=Alert.Status.RESOLVED, resolved_at=now, resolved_by_id=sup, closed_on=last_day)
    FollowUp.objects.bulk_create(follow_ups)
    unread = list(Notification.objects.values_list("id", flat=True))
    Notification.objects.filter(pk__in=[pk for pk, x in zip(unread, rng.random(len(unread))) if x < 0.5]).update(read_at=now)
    print(f"  alerts: {len(alerts)} opened, {len(acknowledged)} acknowledged, {len(resolved)} resolved", flush=True)

    # Dossiers: a few decision-makers, a year of events, the competitors met; plans for a quarter of the accounts.
    accounts = list(KeyAccount.objects.order_by("code").values_list("id", "owner_id"))
    Competitor.objects.bulk_create([Competitor(name=name) for name in COMPETITORS])
    competitors = list(Competitor.objects.values_list("id", flat=True))
    people, events, presences = [], [], []
    for account_id, _owner in accounts:
        for k in range(int(rng.integers(3, 9))):
            people.append(DecisionMaker(account_id=account_id, name=f"Person {account_id}-{k}", title="Category buyer",
                                        buying_role=["decision_maker", "purchaser", "beneficiary", "gatekeeper"][k % 4],
                                        influence=int(rng.integers(1, 6)), attitude="neutral",
                                        last_contacted=last_day - dt.timedelta(days=int(rng.integers(0, 120)))))
        for k in range(int(rng.integers(6, 20))):
            kind = ["meeting", "call", "visit", "tender", "delivery"][k % 5]
            events.append(RelationshipEvent(
                account_id=account_id, date=last_day - dt.timedelta(days=int(rng.integers(0, 364))), kind=kind,
                summary=f"{kind.title()} about the range.", outcome="won" if kind == "tender" and k % 2 else ("lost" if kind == "tender" else ""),
                reason="Price." if kind == "tender" else "", recorded_by_id=_owner))
        for c in rng.choice(competitors, 2, replace=False):
            presences.append(CompetitorPresence(account_id=account_id, competitor_id=int(c), estimated_share=round(float(rng.uniform(0.05, 0.4)), 2),
                                                strengths="Price.", weaknesses="Service.", updated_on=last_day))
    bulk_create_with_history(people, DecisionMaker, batch_size=2000)
    bulk_create_with_history(events, RelationshipEvent, batch_size=2000)
    bulk_create_with_history(presences, CompetitorPresence, batch_size=2000)
    year = today.year
    chosen = [a for a, x in zip(accounts, rng.random(len(accounts))) if x < 0.25] or accounts[:1]
    AccountPlan.objects.bulk_create([AccountPlan(account_id=a, year=year, updated_by_id=o, summary="Grow the share in the attack stores.")
                                     for a, o in chosen])
    plans = list(AccountPlan.objects.filter(year=year).values_list("id", "account__owner_id"))
    PlanObjective.objects.bulk_create([PlanObjective(plan_id=p, title=f"Objective {k}", metric="wallet_share", target=22,
                                                     due=dt.date(year, 12, 31)) for p, _o in plans for k in range(3)])
    PlanAction.objects.bulk_create([PlanAction(plan_id=p, title=f"Action {k}", owner_id=o, due=today + dt.timedelta(days=10 * k),
                                               status=["open", "in_progress", "done"][k]) for p, o in plans for k in range(3)])
    BusinessReview.objects.bulk_create([BusinessReview(plan_id=p, quarter=q, date=dt.date(year, 3 * q - 1, 15),
                                                       held=dt.date(year, 3 * q - 1, 15) < today) for p, _o in plans for q in range(1, 5)])
    ForecastMonth.objects.bulk_create([ForecastMonth(plan_id=p, month=m, own_units=10_000.0) for p, _o in plans for m in range(1, 13)])
    print(f"  dossiers: {len(people)} people, {len(events)} events, {len(presences)} competitors, {len(plans)} account plans",
          flush=True)


def counts(cursor) -> dict:
    tables = ["planning_region", "accounts_keyaccount", "stores_store", "planning_user", "stores_storevisit",
              "stores_historicalstorevisit", "analytics_storescore", "alerts_alert", "alerts_notification", "planning_target",
              "planning_visitplan", "accounts_decisionmaker", "accounts_relationshipevent", "planning_accountplan"]
    result = {}
    for table in tables:
        cursor.execute(f"SELECT count(*) FROM {table}")
        result[table] = cursor.fetchone()[0]
    return result


def build(args, today: dt.date) -> dict:
    """Build (or resume) the world in the current database; returns its metadata."""
    from django.db import connection

    last_day = today - dt.timedelta(days=1)
    first_day = last_day - dt.timedelta(days=args.days - 1)
    with connection.cursor() as cursor:
        meta = Meta.read(cursor)
    wanted = {"bench": "scale", "version": SHAPE_VERSION, "stores": args.stores, "days": args.days, "seed": args.seed}
    resumable = meta.data and all(meta.data.get(k) == v for k, v in wanted.items()) and meta.data.get("phase") != "done"
    started = time.perf_counter()
    d = draw(args, args.days)
    if resumable:
        first_day = dt.date.fromisoformat(meta.data["first_day"])
        last_day = dt.date.fromisoformat(meta.data["last_day"])
        print(f"resuming the build: phase {meta.data['phase']}, "
              f"{meta.data.get('visits', {}).get('days_done', 0)} days of visits loaded", flush=True)
    if not resumable or meta.data["phase"] == "small":
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE stores_store, planning_region, accounts_keyaccount, planning_team, planning_user, "
                "stores_marketshare, analytics_analyticsrun, accounts_competitor CASCADE")
            if not resumable:
                meta = Meta({**wanted, "phase": "small", "first_day": first_day.isoformat(), "last_day": last_day.isoformat()})
                meta.data["schema"] = schema_of(cursor)
                meta.write(cursor)
        build_small(args, d, first_day, last_day)
        print(f"  regions, users, accounts, {args.stores:,} stores: {time.perf_counter() - started:.1f}s", flush=True)
        with connection.cursor() as cursor:
            drop_indexes(cursor, meta.data["schema"])
            meta.data["phase"] = "visits"
            meta.write(cursor)
    if meta.data["phase"] == "visits":
        load_visits(plan_of(d), meta, first_day, args.days, args.seed)
        with connection.cursor() as cursor:
            print("  indexes and constraints:", flush=True)
            restore_indexes(cursor, meta.data["schema"])
            cursor.execute("SELECT setval(pg_get_serial_sequence('stores_storevisit', 'id'), %s)",
                           [meta.data["visits"]["next_id"]])
            cursor.execute("VACUUM ANALYZE")
            meta.data["phase"] = "derived"
            meta.write(cursor)
    print(f"  visits and audit rows done: {time.perf_counter() - started:.1f}s", flush=True)
    build_derived(args, last_day, today)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
        meta.data["phase"] = "done"
        meta.data["counts"] = counts(cursor)
        meta.data["build_seconds"] = round(time.perf_counter() - started, 1)
        meta.write(cursor)
    return meta.data
