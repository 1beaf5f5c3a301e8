"""The demo world of `manage.py seed_demo` (SPEC §8): the same seed and day give the same world."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import KeyAccount
from analytics.loading import load_accounts, load_market_shares, load_stores
from analytics.params import Params
from analytics.scoring import score_accounts
from org.models import Region, Role, Team, User
from stores.models import MarketShare, Store, StoreVisit

from .dossiers import save_dossiers
from .planning import save_planning

DEMO_PASSWORD = "demo"
SHARE_SOURCE = "Demo retail panel"
MIN_STORES = 30  # the anchor stores below take 24
MIN_DAYS = 7
# Rows per INSERT. PostgreSQL takes 2000 visits (~30,000 parameters, ~1 MB of SQL) in one
# statement; Django lowers it to SQLite's 999-parameter limit (66 visits) by itself.
BATCH = 2000

FORMATS = ("hypermarket", "large", "medium", "small")
WEEKDAY_FACTOR = np.array([0.90, 0.90, 0.95, 1.00, 1.10, 1.30, 1.20])  # Monday ... Sunday
MONTH_FACTOR = np.array([0.95, 0.92, 0.95, 1.00, 1.00, 0.96, 0.88, 0.88, 1.00, 1.04, 1.08, 1.28])  # Dec peak, summer dip
# Day-to-day noise on the log scale, cut at two standard deviations: ordinary days (a December
# Saturday included) then stay inside the 5-MAD screen of SPEC §3.2 and only the planted
# extra-zero typos are flagged.
DAY_NOISE = 0.20
WEEKEND_VISIT_FACTOR = 0.3  # reps visit far less on Saturdays and Sundays
COMPETITORS = ("Kaiyo", "Nordex", "Brava")


@dataclass(frozen=True)
class RegionSpec:
    code: str
    name: str
    country: str
    city: str
    lat: float
    lon: float
    weight: float  # share of the stores
    streets: tuple[str, ...]


REGIONS = (
    RegionSpec("cn-east", "East China", "CN", "Shanghai", 31.23, 121.47, 0.22,
               ("Nanjing Road", "Huaihai Road", "Zhaojiabang Road", "Century Avenue")),
    RegionSpec("cn-north", "North China", "CN", "Beijing", 39.90, 116.40, 0.14,
               ("Chang'an Avenue", "Wangfujing Street", "Zhongguancun Street")),
    RegionSpec("cn-south", "South China", "CN", "Guangzhou", 23.13, 113.26, 0.14,
               ("Tianhe Road", "Beijing Road", "Huangpu Avenue")),
    RegionSpec("es-centro", "Centro", "ES", "Madrid", 40.42, -3.70, 0.14,
               ("Calle de Alcalá", "Gran Vía", "Calle de Serrano", "Paseo de la Castellana")),
    RegionSpec("es-este", "Cataluña", "ES", "Barcelona", 41.39, 2.17, 0.12,
               ("Avinguda Diagonal", "Carrer de Balmes", "Gran Via de les Corts Catalanes")),
    RegionSpec("mx-centro", "Centro", "MX", "Ciudad de México", 19.43, -99.13, 0.14,
               ("Avenida Insurgentes Sur", "Paseo de la Reforma", "Calzada de Tlalpan")),
    RegionSpec("mx-norte", "Norte", "MX", "Monterrey", 25.69, -100.32, 0.10,
               ("Avenida Constitución", "Calzada San Pedro", "Avenida Garza Sada")),
)
REGION_ONE = "cn-east"  # headed by sup1, where rep1 and rep2 work
REGION_SHARE_FACTOR = {"cn-east": 1.15}  # our brand is strong in East China (its market share row says so too)


@dataclass(frozen=True)
class Person:
    username: str
    first_name: str
    last_name: str
    role: str
    region: str | None = None  # sales managers
    heads: tuple[str, ...] = ()  # supervisors
    team: str | None = None


PEOPLE = (
    Person("admin", "Demo", "Admin", Role.ANALYST),
    Person("analyst", "Ana", "Torres", Role.ANALYST),
    Person("ka1", "Fang", "Wang", Role.KA_MANAGER),
    Person("ka2", "Laura", "García", Role.KA_MANAGER),
    Person("sup1", "Jing", "Chen", Role.SUPERVISOR, heads=("cn-east",)),
    Person("sup2", "Lei", "Zhao", Role.SUPERVISOR, heads=("cn-north", "cn-south")),
    Person("sup3", "Carmen", "Ruiz", Role.SUPERVISOR, heads=("es-centro", "es-este")),
    Person("sup4", "Diego", "Hernández", Role.SUPERVISOR, heads=("mx-centro", "mx-norte")),
    Person("rep1", "Wei", "Li", Role.SALES_MANAGER, region="cn-east", team="East hunters"),
    Person("rep2", "Min", "Zhang", Role.SALES_MANAGER, region="cn-east", team="East farmers"),
    Person("rep3", "Hao", "Liu", Role.SALES_MANAGER, region="cn-north"),
    Person("rep4", "Yan", "Huang", Role.SALES_MANAGER, region="cn-south"),
    Person("rep5", "Javier", "López", Role.SALES_MANAGER, region="es-centro"),
    Person("rep6", "Marta", "Puig", Role.SALES_MANAGER, region="es-este"),
    Person("rep7", "Sofía", "Ramírez", Role.SALES_MANAGER, region="mx-centro"),
    Person("rep8", "Luis", "Garza", Role.SALES_MANAGER, region="mx-norte"),
)
TEAMS = {"East hunters": Team.Kind.HUNTERS, "East farmers": Team.Kind.FARMERS}


@dataclass(frozen=True)
class AccountSpec:
    code: str
    name: str
    kind: str
    owner: str
    regions: tuple[str, ...]
    formats: tuple[float, float, float, float]  # probabilities of FORMATS; the first anchor gets the likeliest
    weight: float  # pull on the stores of its regions
    headquarters: str
    description: str


ACCOUNTS = (
    AccountSpec("valmore", "Valmore Supercenters", KeyAccount.Kind.CHAIN, "ka1",
                ("cn-east", "cn-south", "es-centro", "mx-centro", "mx-norte"), (0.55, 0.35, 0.10, 0.0), 3.0,
                "Bentonville Plaza, Shanghai", "Global hypermarket chain; category buying is centralised per country."),
    AccountSpec("sunbright", "Sunbright Electronics", KeyAccount.Kind.CHAIN, "ka1",
                ("cn-east", "cn-north", "cn-south"), (0.0, 0.30, 0.50, 0.20), 2.0,
                "Nanjing", "National electronics and appliances chain; strong in tier-1 cities."),
    AccountSpec("huadong-mart", "Huadong Mart", KeyAccount.Kind.CHAIN, "ka1",
                ("cn-east",), (0.0, 0.0, 0.45, 0.55), 1.5,
                "Hangzhou", "Regional supermarket and convenience chain of East China."),
    AccountSpec("east-rail", "East Rail Catering", KeyAccount.Kind.INSTITUTION, "ka1",
                ("cn-east",), (0.0, 0.0, 0.30, 0.70), 0.6,
                "Shanghai Railway Station", "Shops in railway stations; tenders every two years."),
    AccountSpec("carrefino", "Carrefino", KeyAccount.Kind.CHAIN, "ka2",
                ("es-centro", "es-este", "cn-north"), (0.35, 0.45, 0.20, 0.0), 2.5,
                "Madrid", "International hypermarket group; listings negotiated yearly in Madrid."),
    AccountSpec("mercadia", "Mercadia", KeyAccount.Kind.CHAIN, "ka2",
                ("es-centro", "es-este"), (0.0, 0.20, 0.45, 0.35), 2.0,
                "Valencia", "National supermarket chain of Spain."),
    AccountSpec("tiendas-norte", "Tiendas del Norte", KeyAccount.Kind.CHAIN, "ka2",
                ("mx-norte",), (0.0, 0.10, 0.45, 0.45), 1.5,
                "Monterrey", "Local supermarket chain of Nuevo León."),
    AccountSpec("campus-madrid", "Campus Madrid Shops", KeyAccount.Kind.INSTITUTION, "ka2",
                ("es-centro",), (0.0, 0.0, 0.20, 0.80), 0.5,
                "Ciudad Universitaria, Madrid", "University campus shops; one buyer for all outlets."),
)
INDEPENDENT_FORMATS = (0.0, 0.05, 0.30, 0.65)
INDEPENDENT_SHARE = 0.25  # of the stores that are not anchors
INDEPENDENT_NAMES = {
    "CN": ("Wang's Mini Mart", "Lianhua Corner Shop", "Golden Dragon Store", "Happy Family Mart", "Chen Brothers Market"),
    "ES": ("Supermercado Ortega", "Alimentación Pérez", "Tienda La Esquina", "Comestibles Vidal", "Súper Marisa"),
    "MX": ("Abarrotes Don Pepe", "Tienda La Lupita", "Minisúper El Sol", "Abarrotes Treviño", "Súper Guadalupe"),
}
NOTES = (
    "Display moved to the aisle end.", "Store manager asks for a tasting day.", "Price labels missing on two shelves.",
    "New category buyer since this week.", "Stock-out on the best seller.", "Shelf reset next month.",
)
PROMOTIONS = ("2-for-1 at the entrance", "gondola end and 20% off", "free gift with every purchase")


@dataclass(frozen=True)
class DemoWorld:
    """What seed_demo built, for the summary it prints."""

    regions: int
    accounts: dict[str, list[str]]  # owner -> account codes
    stores: int
    stores_by_rep: dict[str, int]
    visits: int
    market_shares: int
    first_day: dt.date
    last_day: dt.date


def demo_data_present() -> list[str]:
    """What of the demo world already exists, e.g. ["users admin, rep1", "regions cn-east"]; empty when none."""
    found = []
    users = list(User.objects.filter(username__in=[p.username for p in PEOPLE]).values_list("username", flat=True))
    if users:
        found.append("users " + ", ".join(sorted(users)))
    regions = list(Region.objects.filter(code__in=[r.code for r in REGIONS]).values_list("code", flat=True))
    if regions:
        found.append("regions " + ", ".join(sorted(regions)))
    accounts = list(KeyAccount.objects.filter(code__in=[a.code for a in ACCOUNTS]).values_list("code", flat=True))
    if accounts:
        found.append("accounts " + ", ".join(sorted(accounts)))
    return found


@transaction.atomic
def delete_demo_world() -> None:
    """Delete the demo users, regions, accounts and teams, every store of the demo regions with its visits, and the demo market shares."""
    region_codes = [r.code for r in REGIONS]
    # Visits go first in one plain DELETE: through Store.delete() each would be loaded and get an audit row.
    StoreVisit.objects.filter(store__region__code__in=region_codes)._raw_delete(StoreVisit.objects.db)
    Store.objects.filter(region__code__in=region_codes).delete()
    KeyAccount.objects.filter(code__in=[a.code for a in ACCOUNTS]).delete()
    Team.objects.filter(name__in=TEAMS).delete()
    MarketShare.objects.filter(source__startswith=SHARE_SOURCE).delete()
    User.objects.filter(username__in=[p.username for p in PEOPLE]).delete()
    Region.objects.filter(code__in=region_codes).delete()


@transaction.atomic
def seed_demo_world(*, stores: int, days: int, seed: int, today: dt.date, reset: bool = False) -> DemoWorld:
    """Build the demo world with `stores` stores and `days` days of visits ending `today`; `reset` deletes the old one first."""
    if reset:
        delete_demo_world()
    rng = np.random.default_rng(seed)
    regions = _save_regions()
    users = _save_people(regions)
    accounts = _save_accounts(users)
    plans = _plan_stores(rng, stores)
    store_ids = _save_stores(plans, regions, accounts, users)
    _save_tiers(accounts, today=today)
    sim = _simulate(rng, plans, days=days, today=today)
    visits = _save_visits(sim, plans, store_ids, users)
    market_shares = _save_market_shares(regions, first_day=sim.dates[0], last_day=today)
    save_dossiers(accounts, users, today=today)
    save_planning(accounts=accounts, users=users, today=today)
    by_owner: dict[str, list[str]] = {}
    for spec in ACCOUNTS:
        by_owner.setdefault(spec.owner, []).append(spec.code)
    by_rep: dict[str, int] = {}
    for plan in plans:
        if plan.rep:
            by_rep[plan.rep] = by_rep.get(plan.rep, 0) + 1
    return DemoWorld(
        regions=len(regions), accounts=by_owner, stores=len(plans), stores_by_rep=by_rep, visits=visits,
        market_shares=market_shares, first_day=sim.dates[0], last_day=today,
    )


# -- people, regions, accounts ------------------------------------------------------------------

def _save_regions() -> dict[str, Region]:
    Region.objects.bulk_create([Region(code=r.code, name=r.name, country=r.country) for r in REGIONS])
    return {r.code: r for r in Region.objects.filter(code__in=[s.code for s in REGIONS])}


def _save_people(regions: dict[str, Region]) -> dict[str, User]:
    teams = {name: Team.objects.create(name=name, kind=kind, region=regions[REGION_ONE]) for name, kind in TEAMS.items()}
    # One hash for every demo login: PBKDF2 costs ~0.5 s a user, and the password is public anyway.
    password = make_password(DEMO_PASSWORD)
    User.objects.bulk_create([
        User(
            username=p.username, first_name=p.first_name, last_name=p.last_name, email=f"{p.username}@demo.example",
            role=p.role, region=regions[p.region] if p.region else None, team=teams.get(p.team),
            is_staff=p.username == "admin", is_superuser=p.username == "admin", password=password,
        )
        for p in PEOPLE
    ])
    users = {u.username: u for u in User.objects.filter(username__in=[p.username for p in PEOPLE])}
    through = Region.supervisors.through
    through.objects.bulk_create([
        through(region_id=regions[code].pk, user_id=users[p.username].pk) for p in PEOPLE for code in p.heads
    ])
    return users


def _save_accounts(users: dict[str, User]) -> dict[str, KeyAccount]:
    KeyAccount.objects.bulk_create([
        KeyAccount(
            code=a.code, name=a.name, kind=a.kind, owner=users[a.owner], headquarters=a.headquarters,
            description=a.description, website=f"https://{a.code}.example",
        )
        for a in ACCOUNTS
    ])
    return {a.code: a for a in KeyAccount.objects.filter(code__in=[s.code for s in ACCOUNTS])}


# -- stores ---------------------------------------------------------------------------------------

@dataclass
class StorePlan:
    region: RegionSpec
    account: AccountSpec | None
    format: str
    floor_area_m2: float | None
    checkouts: int | None
    shelves: int | None
    open_24h: bool | None
    closed_weekdays: list[int]
    rep: str | None
    active: bool
    latitude: float
    longitude: float
    # simulation
    daily_potential: float  # units of the whole category on an average day
    share: float  # our wallet share
    visit_p: float  # chance of a visit on a working day
    visits_until: int  # day index after which nobody visits (rep left, store closed)
    lost_from: int | None = None  # day index from which the store stopped buying from us
    code: str = ""
    name: str = ""
    address: str = ""


def _plan_stores(rng: np.random.Generator, n: int) -> list[StorePlan]:
    regions = {r.code: r for r in REGIONS}
    # Anchors make every tier's footprint and every format exist even in a small world.
    picks: list[tuple[RegionSpec, AccountSpec | None, str | None]] = []
    for spec in ACCOUNTS:
        for i, code in enumerate(spec.regions):
            picks.append((regions[code], spec, FORMATS[int(np.argmax(spec.formats))] if i == 0 else None))
    for region in REGIONS:
        picks.append((region, None, "small"))
    weights = np.array([r.weight for r in REGIONS])
    for _ in range(n - len(picks)):
        region = REGIONS[rng.choice(len(REGIONS), p=weights / weights.sum())]
        if rng.random() < INDEPENDENT_SHARE:
            picks.append((region, None, None))
            continue
        candidates = [a for a in ACCOUNTS if region.code in a.regions]
        pull = np.array([a.weight for a in candidates])
        picks.append((region, candidates[rng.choice(len(candidates), p=pull / pull.sum())], None))

    plans = [_plan_store(rng, region, account, fmt) for region, account, fmt in picks]
    _add_exceptions(rng, plans)
    _name_stores(plans)
    return plans


def _plan_store(rng, region: RegionSpec, account: AccountSpec | None, fmt: str | None) -> StorePlan:
    if fmt is None:
        probs = np.array(account.formats if account else INDEPENDENT_FORMATS)
        fmt = FORMATS[rng.choice(4, p=probs / probs.sum())]
    low, high, p24 = {"hypermarket": (6000, 14000, 0.45), "large": (2500, 6000, 0.20),
                      "medium": (800, 2500, 0.08), "small": (120, 800, 0.06)}[fmt]
    area = float(round(rng.uniform(low, high), -1))
    checkouts = max(1, int(round(area / 280 * rng.lognormal(0, 0.25))))
    shelves = max(1, int(round(2 + area / 400 * rng.lognormal(0, 0.3))))
    open_24h = bool(rng.random() < p24)
    # The category potential follows the drivers, so a regression on them fits well (SPEC §3.4).
    daily = (4 + 0.012 * area + 2.5 * checkouts + 1.8 * shelves + 10 * open_24h) * rng.lognormal(0, 0.12)
    share = rng.beta(4, 12) * REGION_SHARE_FACTOR.get(region.code, 1.0)
    if fmt in ("hypermarket", "large") and rng.random() < 0.25:
        share *= rng.uniform(0.25, 0.5)  # mostly sells competitors' goods: an attack target
    closed = [6] if fmt in ("medium", "small") and rng.random() < (0.5 if region.country == "ES" else 0.08) else []
    rare = rng.random() < 0.12  # visited about once a month: not "observed" (SPEC §3.3), needs the model
    reps = [p.username for p in PEOPLE if p.region == region.code]
    return StorePlan(
        region=region, account=account, format=fmt, floor_area_m2=area, checkouts=checkouts, shelves=shelves,
        open_24h=open_24h, closed_weekdays=closed, rep=reps[0] if len(reps) == 1 else None, active=True,
        latitude=round(region.lat + rng.normal(0, 0.12), 5), longitude=round(region.lon + rng.normal(0, 0.15), 5),
        daily_potential=float(daily), share=float(np.clip(share, 0.01, 0.8)),
        visit_p=float(rng.uniform(0.02, 0.04) if rare else rng.uniform(0.45, 0.85)), visits_until=1 << 30,
    )


def _add_exceptions(rng, plans: list[StorePlan]) -> None:
    """Missing drivers, unassigned and closed stores, lost customers: the cases the pages must show."""
    region_one = [p for p in plans if p.region.code == REGION_ONE]
    for i, plan in enumerate(region_one):
        plan.rep = ("rep1", "rep2")[i % 2]
    elsewhere = [p for p in plans if p.region.code != REGION_ONE]
    for i, plan in enumerate(plans):
        if i % 29 == 7 or rng.random() < 0.03:
            setattr(plan, ("floor_area_m2", "checkouts", "shelves", "open_24h")[i % 4], None)
        if i % 23 == 5:
            plan.lost_from = -int(rng.integers(100, 250))  # days before today; ignored when outside the period
    for plan in elsewhere[3::37]:
        plan.rep = None  # the rep left; nobody has visited for two months
        plan.visits_until = -60
    for plan in elsewhere[11::53]:
        plan.active = False  # closed down six weeks ago
        plan.visits_until = -42
    if not any(p.closed_weekdays for p in plans):
        next(p for p in plans if p.region.country == "ES" and p.format == "small").closed_weekdays = [6]


def _name_stores(plans: list[StorePlan]) -> None:
    counters: dict[str, int] = {}
    plans.sort(key=lambda p: REGIONS.index(p.region))  # stable: codes run by region
    for plan in plans:
        region = plan.region
        n = counters[region.code] = counters.get(region.code, 0) + 1
        plan.code = f"{region.code}-{n:04d}"
        if plan.account:
            plan.name = f"{plan.account.name} {region.city} {n}"
        else:
            names = INDEPENDENT_NAMES[region.country]
            plan.name = f"{names[n % len(names)]} {n}"
        plan.address = f"{region.streets[n % len(region.streets)]} {10 + 7 * n % 480}, {region.city}"


def _save_stores(plans, regions, accounts, users) -> list[int]:
    Store.objects.bulk_create(
        [
            Store(
                code=p.code, name=p.name, account=accounts[p.account.code] if p.account else None,
                region=regions[p.region.code], address=p.address, latitude=p.latitude, longitude=p.longitude,
                format=p.format, floor_area_m2=p.floor_area_m2, checkouts=p.checkouts, open_24h=p.open_24h,
                shelves=p.shelves, closed_weekdays=p.closed_weekdays, rep=users[p.rep] if p.rep else None,
                active=p.active,
            )
            for p in plans
        ],
        batch_size=BATCH,
    )
    ids = dict(Store.objects.filter(code__in=[p.code for p in plans]).values_list("code", "id"))
    return [ids[p.code] for p in plans]


def _save_tiers(accounts: dict[str, KeyAccount], *, today: dt.date) -> None:
    """Tiers by the analytics rule (SPEC §4.5), so the demo reads right before any recompute: the account
    roll-up of the stores as saved, none of them scored yet."""
    stores = load_stores(today)
    unscored = stores[["store_id"]].assign(potential=np.nan, own_annual=np.nan)
    rollup = score_accounts(unscored, stores, load_accounts(today), load_market_shares(), Params(), today)
    for tier, ids in rollup.dropna(subset=["tier"]).groupby("tier")["account_id"]:
        KeyAccount.objects.filter(pk__in=ids.astype(int).tolist(), code__in=accounts).update(tier=tier)


# -- visits ---------------------------------------------------------------------------------------

@dataclass
class Simulation:
    dates: list[dt.date]
    visited: np.ndarray  # (stores, days) bool
    total: np.ndarray  # (stores, days) int
    own: np.ndarray
    promo: np.ndarray  # (stores, days) competitor index + 1, 0 when no competitor promotion
    checks: np.ndarray  # (3, stores, days): 0 no, 1 yes, 2 not checked
    notes: np.ndarray  # (stores, days) note index + 1, 0 without a note


def _simulate(rng: np.random.Generator, plans: list[StorePlan], *, days: int, today: dt.date) -> Simulation:
    n_stores = len(plans)
    dates = [today - dt.timedelta(days=days - 1 - d) for d in range(days)]
    weekday = np.array([d.weekday() for d in dates])
    month = np.array([d.month for d in dates])
    shape = (n_stores, days)

    # The category's sales each day, visited or not.
    base = np.array([p.daily_potential for p in plans])
    noise = np.exp(np.clip(rng.normal(0, DAY_NOISE, shape), -2 * DAY_NOISE, 2 * DAY_NOISE))
    mu = base[:, None] * (WEEKDAY_FACTOR[weekday] * MONTH_FACTOR[month - 1])[None, :] * noise
    total = np.rint(mu).astype(np.int64)

    # Competitor promotions take our share down for some weeks.
    promo = np.zeros(shape, dtype=np.int8)
    for s in range(n_stores):
        if rng.random() < 0.2:
            length = int(rng.integers(21, 43))
            start = int(rng.integers(0, max(1, days - length)))
            promo[s, start:start + length] = 1 + rng.integers(len(COMPETITORS))
    region_one_rep1 = [s for s, p in enumerate(plans) if p.rep == "rep1" and p.visit_p > 0.1]
    for s in sorted(region_one_rep1, key=lambda s: -plans[s].daily_potential)[:2]:
        promo[s, max(0, days - 35):] = 1  # running now: sup1 gets alerts on rep1's biggest stores
    share = np.array([p.share for p in plans])[:, None] * rng.lognormal(0, 0.08, shape)
    share = np.where(promo > 0, share * rng.uniform(0.45, 0.65), share)
    for s, plan in enumerate(plans):
        if plan.lost_from is not None and days + plan.lost_from > 0:
            share[s, days + plan.lost_from:] = 0.0  # delisted: we lost this customer
    own = rng.binomial(total, np.clip(share, 0.0, 0.95))

    # Reps call on most working days, far less at weekends, never on a closed day.
    p = np.array([pl.visit_p for pl in plans])[:, None] * np.where(weekday >= 5, WEEKEND_VISIT_FACTOR, 1.0)[None, :]
    visited = rng.random(shape) < p
    closed = np.array([[d in pl.closed_weekdays for d in range(7)] for pl in plans])
    open_day = ~closed[:, weekday]
    for s, plan in enumerate(plans):
        if plan.visits_until < 0:
            visited[s, max(0, days + plan.visits_until):] = False
        if plan.rep in ("rep1", "rep2") and plan.active:
            # The reps' pages show data: every store visited yesterday (today when closed yesterday).
            day = days - 2 if open_day[s, days - 2] else days - 1
            visited[s, day] = True
    visited &= open_day

    # One or two extra-zero typos for the suspect screen (SPEC §3.2).
    for candidates, window in ((region_one_rep1, 14), ([s for s, p in enumerate(plans) if p.region.code != REGION_ONE and p.visit_p > 0.1], 60)):
        cells = [(s, d) for s in candidates for d in range(max(0, days - window), days - 2) if visited[s, d] and total[s, d] > 0]
        if cells:
            s, d = cells[int(rng.integers(len(cells)))]
            total[s, d] *= 10

    in_promo = promo > 0
    checks = np.where(
        rng.random((3, *shape)) < 0.1, 2,
        (rng.random((3, *shape)) < np.where(in_promo, 0.45, 0.9)).astype(np.int8),
    ).astype(np.int8)
    checks[2] = np.where(checks[2] == 2, 2, (rng.random(shape) < 0.85).astype(np.int8))  # staff do not depend on promotions
    notes = np.where(rng.random(shape) < 0.05, 1 + rng.integers(len(NOTES), size=shape), 0)
    notes = np.where(in_promo & (rng.random(shape) < 0.5), -1, notes)  # -1: write about the promotion
    return Simulation(dates=dates, visited=visited, total=total, own=own, promo=promo, checks=checks, notes=notes)


def _save_visits(sim: Simulation, plans: list[StorePlan], store_ids: list[int], users: dict[str, User]) -> int:
    rep_ids = [users[p.rep].pk if p.rep else None for p in plans]
    check = (False, True, None)
    visits = []
    for s, d in zip(*np.nonzero(sim.visited)):
        note = sim.notes[s, d]
        if note == -1:
            text = f"{COMPETITORS[sim.promo[s, d] - 1]} promotion: {PROMOTIONS[(s + d) % len(PROMOTIONS)]}."
        else:
            text = NOTES[note - 1] if note else ""
        visits.append(StoreVisit(
            store_id=store_ids[s], date=sim.dates[d], rep_id=rep_ids[s],
            total_sales=int(sim.total[s, d]), own_sales=int(sim.own[s, d]),
            display_ok=check[sim.checks[0, s, d]], promotion_ok=check[sim.checks[1, s, d]],
            staff_ok=check[sim.checks[2, s, d]], notes=text,
        ))
    StoreVisit.objects.bulk_create(visits, batch_size=BATCH)
    return len(visits)


def _save_market_shares(regions: dict[str, Region], *, first_day: dt.date, last_day: dt.date) -> int:
    """Country shares per calendar year of the period, and an East China override for the latest year."""
    country_share = {"CN": 0.23, "ES": 0.21, "MX": 0.25}
    rows = []
    for year in range(first_day.year, last_day.year + 1):
        drift = 0.01 * (year - last_day.year)  # we grew a point a year
        for country, share in country_share.items():
            rows.append(MarketShare(
                country=country, period_start=dt.date(year, 1, 1), period_end=dt.date(year, 12, 31),
                share=round(share + drift, 3), source=f"{SHARE_SOURCE} {year}",
            ))
    rows.append(MarketShare(
        country="CN", region=regions[REGION_ONE], period_start=dt.date(last_day.year, 1, 1),
        period_end=dt.date(last_day.year, 12, 31), share=0.27, source=f"{SHARE_SOURCE} {last_day.year}, East China",
    ))
    MarketShare.objects.bulk_create(rows)
    return len(rows)
