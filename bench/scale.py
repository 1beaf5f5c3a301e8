"""Benchmark: every page and endpoint at scale, as each role, on PostgreSQL behind gunicorn (issue 10).

Builds (or, with --reuse, keeps) a world of --stores stores x 364 days in the shape the product
writes (bench/world.py: visits day by day with their audit rows, every index of the migrations,
scores, alerts, targets, plans, dossiers), serves it with gunicorn under production settings, and
prints for every list page, detail page and list/detail endpoint, as rep, supervisor, KA manager
and analyst: the status, p50 / p95 over --requests requests, the response size and the query count
(counted once per page and role in-process, with django.test.Client, against the same database and
settings). Then the visit POST, as the rep: the store page's form and POST /api/v1/visits/, each on a
(store, day) that has no visit yet; the visits it wrote are deleted again afterwards.

    .venv/bin/python bench/scale.py --stores 2000 --database-url postgres://postgres@127.0.0.1:5432/kacrm_world2k
    .venv/bin/python bench/scale.py --stores 20000 --database-url postgres://postgres@127.0.0.1:5432/kacrm_scale20k --reuse
    .venv/bin/python bench/scale.py --reuse --only analytics --json out.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ROLES = {"rep": "rep1", "supervisor": "sup1", "ka_manager": "ka1", "analyst": "analyst"}
SLOW_MS = 200


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=364)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/kacrm_scale")
    parser.add_argument("--reuse", action="store_true", help="keep an already-built world whose counts match")
    parser.add_argument("--build-only", action="store_true", help="build the world, measure nothing")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page and role (p50 / p95)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--only", help="measure only the paths matching this regular expression")
    parser.add_argument("--roles", default=",".join(ROLES), help="comma-separated roles to measure as")
    parser.add_argument("--no-post", action="store_true", help="skip the visit POST timings")
    parser.add_argument("--no-recompute", action="store_true", help="skip the nightly run's timings (bench/nightly.py)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7", help="the broker (no worker needed)")
    return parser.parse_args()


# -- set-up -------------------------------------------------------------------------------------------

def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def production_env(args, settings_dir: str) -> dict:
    """The production settings of README "Production start-up", plus a temporary STATIC_ROOT for collectstatic."""
    Path(settings_dir, "bench_scale_settings.py").write_text(
        "from kacrm.settings import *  # noqa: F401,F403\n"
        f"STATIC_ROOT = {str(Path(settings_dir, 'static'))!r}\n"
    )
    return {
        "DATABASE_URL": args.database_url, "DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "bench-scale-only-secret-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "0", "EMAIL_URL": "dummymail://",
        "REDIS_URL": args.redis_url, "DJANGO_SETTINGS_MODULE": "bench_scale_settings", "DJANGO_LOG_LEVEL": "ERROR",
        "PYTHONPATH": os.pathsep.join([settings_dir, str(ROOT)]),
    }


def world_ready(args) -> dict | None:
    """The metadata of a finished world built with these arguments, else None."""
    from django.db import connection

    import world

    with connection.cursor() as cursor:
        meta = world.Meta.read(cursor).data
        if meta.get("phase") != "done" or meta.get("stores") != args.stores or meta.get("days") != args.days:
            return None
        if meta.get("seed") != args.seed or meta.get("version") != world.SHAPE_VERSION:
            return None
        if world.counts(cursor)["stores_storevisit"] < meta["counts"]["stores_storevisit"]:
            return None  # visits went missing (a resumed build, a clean-up that failed): build again
    return meta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- HTTP -------------------------------------------------------------------------------------------

class Http:
    """A tiny client for gunicorn: one connection per request, cookies kept by hand (they are Secure)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, str] = {}

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        all_headers = {"Host": "127.0.0.1", **self.headers, **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
        conn.close()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data, elapsed

    def form_token(self, path: str) -> str:
        _status, body, _t = self.request("GET", path)
        match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if not match:
            raise SystemExit(f"no CSRF token on {path}")
        return match.group(1).decode()

    def post_form(self, path: str, fields: dict, token: str):
        from urllib.parse import urlencode

        body = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        return self.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})

    def login(self, username: str) -> None:
        token = self.form_token("/login/")
        status, _body, _t = self.post_form("/login/", {"username": username, "password": "demo"}, token)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"login as {username} failed: {status}")


def api_token(port: int, username: str) -> str:
    status, body, _t = Http(port).request("POST", "/api/v1/auth/token/", json.dumps({"username": username, "password": "demo"}).encode(),
                                          {"Content-Type": "application/json"})
    if status != 200:
        raise SystemExit(f"token for {username}: {status} {body[:200]!r}")
    return json.loads(body)["token"]


# -- what to measure ----------------------------------------------------------------------------------

def targets_for(username: str) -> list[str]:
    """Every list page, detail page, list endpoint and detail endpoint, with objects this user may see when
    there are any (else the analyst's, so the page answers its 403 / 404)."""
    from accounts.models import CompetitorPresence, DecisionMaker, KeyAccount, RelationshipEvent
    from alerts.models import Alert
    from analytics.models import AnalyticsRun
    from org.models import Region, Team, User
    from planning.models import AccountPlan, Target, VisitPlan
    from stores.models import MarketShare, Store, StoreVisit

    user = User.objects.get(username=username)
    analyst = User.objects.get(username="analyst")

    def pick(queryset_of, order="pk"):
        for who in (user, analyst):
            obj = queryset_of(who).order_by(order).first()
            if obj is not None:
                return obj
        return None

    store = pick(lambda u: Store.objects.visible_to(u).filter(active=True, rep__isnull=False), "code")
    visit = StoreVisit.objects.filter(store=store).order_by("-date").first()
    account = pick(lambda u: KeyAccount.objects.dossier_visible_to(u).filter(plans__isnull=False), "code") or pick(
        lambda u: KeyAccount.objects.visible_to(u), "code")
    plan = AccountPlan.objects.filter(account=account).order_by("-year").first()
    alert = pick(lambda u: Alert.objects.visible_to(u).active())
    person = DecisionMaker.objects.filter(account=account).order_by("pk").first()
    event = RelationshipEvent.objects.filter(account=account).order_by("pk").first()
    presence = CompetitorPresence.objects.filter(account=account).order_by("pk").first()
    region = pick(lambda u: Region.objects.visible_to(u), "code")
    team = pick(lambda u: Team.objects.visible_to(u), "name")
    share = MarketShare.objects.order_by("pk").first()
    run = AnalyticsRun.objects.order_by("-pk").first()
    target = pick(lambda u: Target.objects.visible_to(u))
    visit_plan = pick(lambda u: VisitPlan.objects.visible_to(u))

    pages = ["/", "/stores/", f"/stores/{store.code}/", "/visits/", "/reps/", "/planning/today/", "/planning/targets/",
             "/planning/compliance/", "/planning/coverage/", "/planning/visit-plans/", "/accounts/", f"/accounts/{account.code}/",
             "/alerts/", "/alerts/notifications/", "/analytics/stores/", "/analytics/matrix/", "/analytics/matrix/accounts/",
             "/analytics/comparison/", "/analytics/model/", "/analytics/suspects/"]
    if plan:
        pages.append(f"/planning/accounts/{account.code}/{plan.year}/")
    if alert:
        pages.append(f"/alerts/{alert.pk}/")
    a = f"/api/v1/accounts/{account.code}"
    api = ["/api/v1/users/", f"/api/v1/users/{username}/", "/api/v1/regions/", f"/api/v1/regions/{region.code}/",
           "/api/v1/accounts/", f"{a}/", f"{a}/decision-makers/", f"{a}/events/", f"{a}/competitors/",
           "/api/v1/stores/", f"/api/v1/stores/{store.code}/", "/api/v1/visits/", f"/api/v1/visits/?store={store.code}",
           "/api/v1/visits/?page_size=1000", "/api/v1/market-shares/", f"/api/v1/market-shares/{share.pk}/",
           "/api/v1/scores/stores/", f"/api/v1/scores/stores/{store.code}/", "/api/v1/scores/accounts/",
           f"/api/v1/scores/accounts/{account.code}/", "/api/v1/analytics/runs/", "/api/v1/alerts/", "/api/v1/targets/",
           "/api/v1/targets/summary/?group=rep", "/api/v1/visit-plans/", "/api/v1/teams/", "/api/v1/account-plans/",
           "/api/v1/potential-model/"]
    api += [p for p, ok in [
        (f"/api/v1/visits/{visit.pk}/" if visit else "", visit), (f"{a}/decision-makers/{person.pk}/" if person else "", person),
        (f"{a}/events/{event.pk}/" if event else "", event), (f"{a}/competitors/{presence.pk}/" if presence else "", presence),
        (f"/api/v1/teams/{team.name}/" if team else "", team), (f"/api/v1/analytics/runs/{run.pk}/" if run else "", run),
        (f"/api/v1/alerts/{alert.pk}/" if alert else "", alert), (f"/api/v1/targets/{target.pk}/" if target else "", target),
        (f"/api/v1/visit-plans/{visit_plan.pk}/" if visit_plan else "", visit_plan),
        (f"/api/v1/account-plans/{plan.pk}/" if plan else "", plan),
        (f"/api/v1/account-plans/{plan.pk}/forecast-vs-actual/" if plan else "", plan),
    ] if ok]
    from urllib.parse import quote

    return pages + [quote(p, safe="/?=&") for p in api]


@dataclass
class Row:
    path: str
    role: str
    status: int
    p50_ms: float
    p95_ms: float
    kib: float
    queries: int | None
    times_ms: list[float] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def count_queries(username: str, path: str, token: str) -> tuple[int, int]:
    """(status, queries) of one in-process request, with the same settings and database."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from org.models import User

    client = Client(SERVER_NAME="127.0.0.1", HTTP_HOST="127.0.0.1")
    extra = {}
    if path.startswith("/api/"):
        extra["HTTP_AUTHORIZATION"] = f"Token {token}"
    else:
        client.force_login(User.objects.get(username=username))
    client.get(path, **extra)  # warm: the first request loads templates and code
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **extra)
    return response.status_code, len(queries)


def measure(args, port: int) -> list[Row]:
    rows = []
    pattern = re.compile(args.only) if args.only else None
    for role in args.roles.split(","):
        username = ROLES[role]
        session = Http(port)
        session.login(username)
        token = api_token(port, username)
        api = Http(port)
        api.headers["Authorization"] = f"Token {token}"
        for path in targets_for(username):
            if pattern and not pattern.search(path):
                continue
            client = api if path.startswith("/api/") else session
            status, body, _t = client.request("GET", path)  # warm-up, not timed
            times = []
            for _ in range(args.requests):
                status, body, elapsed = client.request("GET", path)
                times.append(elapsed * 1000)
            _s, queries = count_queries(username, path, token)
            row = Row(path, role, status, round(percentile(times, 0.5), 1), round(percentile(times, 0.95), 1),
                      round(len(body) / 1024, 1), queries, [round(t, 1) for t in times])
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


def format_row(row: Row) -> str:
    mark = " *" if row.p95_ms > SLOW_MS else ""
    return (f"{row.path[:64]:<64} {row.role:<10} {row.status:>4} {row.p50_ms:>8.1f} {row.p95_ms:>8.1f} "
            f"{row.kib:>8.1f} {row.queries if row.queries is not None else '-':>5}{mark}")


HEADER = f"{'path':<64} {'role':<10} {'st':>4} {'p50 ms':>8} {'p95 ms':>8} {'KiB':>8} {'qs':>5}"


# -- the visit POST ---------------------------------------------------------------------------------------

def free_cells(rep: str, wanted: int, today: dt.date) -> list[tuple[int, str, dt.date]]:
    """(store id, code, day) pairs of the rep's active stores with no visit: today first, then back in time."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.id, s.code, d::date FROM stores_store s JOIN planning_user u ON u.id = s.rep_id "
            "CROSS JOIN generate_series(%s::date, %s::date - 90, '-1 day') d "
            "WHERE u.username = %s AND s.active AND NOT EXISTS "
            "(SELECT 1 FROM stores_storevisit v WHERE v.store_id = s.id AND v.date = d::date) "
            "ORDER BY d DESC, s.code LIMIT %s", [today, today, rep, wanted])
        return cursor.fetchall()


def time_visit_posts(args, port: int, started_at: dt.datetime) -> list[Row]:
    from django.utils import timezone

    username = ROLES["rep"]
    today = timezone.localdate()
    n = args.requests + 1
    cells = free_cells(username, 2 * n, today)
    if len(cells) < 2 * n:
        raise SystemExit(f"{username} has only {len(cells)} free (store, day) cells")
    form_cells, api_cells = cells[:n], cells[n:]
    session = Http(port)
    session.login(username)
    token = api_token(port, username)
    rows = []
    try:
        form_page = f"/stores/{form_cells[0][1]}/"
        times = []
        for k, (_id, code, day) in enumerate(form_cells):
            csrf = session.form_token(f"/stores/{code}/?date={day.isoformat()}")
            status, _body, elapsed = session.post_form(f"/stores/{code}/", {
                "visit": "", "date": day.isoformat(), "total_sales": 120, "own_sales": 30, "display_ok": "True",
                "promotion_ok": "", "staff_ok": "False", "notes": "bench"}, csrf)
            if status != 302:
                raise SystemExit(f"visit form POST answered {status}")
            if k:
                times.append(elapsed * 1000)
        rows.append(Row("POST " + form_page + " (visit form)", "rep", 302, round(percentile(times, 0.5), 1),
                        round(percentile(times, 0.95), 1), 0, None, [round(t, 1) for t in times]))
        api = Http(port)
        api.headers.update({"Authorization": f"Token {token}", "Content-Type": "application/json"})
        times = []
        for k, (_id, code, day) in enumerate(api_cells):
            body = json.dumps({"store": code, "date": day.isoformat(), "total_sales": 120, "own_sales": 30,
                               "display_ok": True}).encode()
            status, answer, elapsed = api.request("POST", "/api/v1/visits/", body)
            if status != 201:
                raise SystemExit(f"POST /api/v1/visits/ answered {status}: {answer[:300]!r}")
            if k:
                times.append(elapsed * 1000)
        rows.append(Row("POST /api/v1/visits/", "rep", 201, round(percentile(times, 0.5), 1),
                        round(percentile(times, 0.95), 1), 0, None, [round(t, 1) for t in times]))
    finally:
        remove_posted(cells, started_at)
    for row in rows:
        print(format_row(row), flush=True)
    return rows


def remove_posted(cells, started_at: dt.datetime) -> None:
    """Delete the visits the POST timings wrote, their audit rows and the evaluations they queued."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for store_id, _code, day in cells:
            cursor.execute("DELETE FROM stores_historicalstorevisit WHERE id IN "
                           "(SELECT id FROM stores_storevisit WHERE store_id = %s AND date = %s AND created_at >= %s)",
                           [store_id, day, started_at])
            cursor.execute("DELETE FROM stores_storevisit WHERE store_id = %s AND date = %s AND created_at >= %s",
                           [store_id, day, started_at])
            cursor.execute("DELETE FROM alerts_pendingevaluation WHERE store_id = %s AND requested_at >= %s",
                           [store_id, started_at])


def time_recompute(args) -> dict:
    """The nightly run's timings: bench/nightly.py on a copy of this world (previous day, new day, rerun,
    against the bare GROUP BY, with peak memory), in its own process; its output is printed as it comes."""
    if args.only or args.no_recompute:
        return {}
    figures = Path(tempfile.mkdtemp(prefix="kacrm-nightly-"), "nightly.json")
    command = [sys.executable, str(ROOT / "bench/nightly.py"), "--database-url", args.database_url, "--json", str(figures)]
    print(f"\nthe nightly run: {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=True, env={k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"})
    return json.loads(figures.read_text())


# -- main -------------------------------------------------------------------------------------------------

def main():
    args = parse_args()
    ensure_database(args.database_url)
    settings_dir = tempfile.mkdtemp(prefix="kacrm-scale-")
    env = production_env(args, settings_dir)
    os.environ.update(env)
    sys.path.insert(0, settings_dir)
    import logging

    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the in-process 403s / 404s are expected
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    import world

    call_command("migrate", verbosity=0)
    meta = world_ready(args) if args.reuse else None
    if meta:
        print(f"reusing the world built on {meta['last_day']} (in {meta['build_seconds']}s): {meta['counts']}")
    else:
        started = time.perf_counter()
        meta = world.build(args, timezone.localdate())
        print(f"built in {time.perf_counter() - started:.0f}s: {meta['counts']}", flush=True)
    connection.close()
    if args.build_only:
        return
    call_command("collectstatic", interactive=False, verbosity=0)

    port = free_port()
    server_log = open(Path(settings_dir, "gunicorn.log"), "w")  # the expected 403s / 404s log a line each
    print(f"gunicorn on 127.0.0.1:{port}, {args.workers} workers, log {server_log.name}")
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "kacrm.wsgi", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
         "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT, env={**os.environ, **env}, stdout=server_log, stderr=subprocess.STDOUT,
    )
    results = {"stores": args.stores, "world": meta.get("counts"), "workers": args.workers, "requests": args.requests}
    try:
        for _ in range(100):
            try:
                if Http(port).request("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        else:
            raise SystemExit("gunicorn did not start")
        print(HEADER)
        rows = measure(args, port)
        posts = [] if args.no_post else time_visit_posts(args, port, timezone.now())
        results["rows"] = [asdict(r) for r in rows + posts]
    finally:
        server.terminate()
        server.wait(timeout=30)
    from django.db import connections

    connections.close_all()  # the copy of the world needs it without sessions
    results["recompute"] = time_recompute(args)
    slow = [r for r in rows + posts if r.p95_ms > SLOW_MS]
    print(f"\n{len(rows)} GETs, {len(slow)} over {SLOW_MS} ms p95 (marked *); "
          f"median p95 {statistics.median([r.p95_ms for r in rows] or [0]):.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
