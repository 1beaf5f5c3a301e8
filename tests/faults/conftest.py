"""Helpers for the fault tests: other processes on the test database, a second PostgreSQL session, waiting."""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.conf import settings

from kacrm.celery import app

ROOT = Path(__file__).resolve().parents[2]
DB = settings.DATABASES["default"]
ON_POSTGRESQL = DB["ENGINE"] == "django.db.backends.postgresql"

# The convention of the PostgreSQL + Redis tests (tests/test_celery_worker.py): skipped on the embedded default.
needs_postgresql = pytest.mark.skipif(not ON_POSTGRESQL, reason="needs the PostgreSQL server CI runs the suite on")
needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs REDIS_URL (a real Redis broker)")
needs_redis_server = pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to start one of its own")


def wait_for(predicate, timeout=30.0, every=0.05):
    """The predicate's first truthy value within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(every)
    return None


def database_url() -> str:
    """The test database (pytest-django's test_<name>), for another process."""
    password = f":{quote(DB['PASSWORD'], safe='')}" if DB.get("PASSWORD") else ""
    return f"postgres://{DB['USER']}{password}@{DB['HOST'] or '127.0.0.1'}:{DB['PORT'] or 5432}/{DB['NAME']}"


def spawn(*args: str, log: Path, settings_module="kacrm.settings_test", **extra_env) -> subprocess.Popen:
    """Start `python <args>` in its own process group, on the test database; its output goes to `log`."""
    env = {**os.environ, "DATABASE_URL": database_url(), "DJANGO_SETTINGS_MODULE": settings_module, "DJANGO_DEBUG": "1",
           "PYTHONPATH": str(ROOT), **extra_env}
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def sigkill(process: subprocess.Popen) -> None:
    """SIGKILL the process and its group (no cleanup handler runs), then reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@contextlib.contextmanager
def session():
    """A second PostgreSQL session on the test database, in a transaction until the block ends (then rolled back)."""
    with psycopg.connect(host=DB["HOST"] or "127.0.0.1", port=DB["PORT"] or 5432, user=DB["USER"],
                         password=DB.get("PASSWORD") or None, dbname=DB["NAME"]) as conn:
        try:
            yield conn
        finally:
            conn.rollback()


def blocked_by(conn) -> list:
    """(pid, query) of the sessions waiting on a lock `conn` holds."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first snapshot forever
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid)) ORDER BY pid"
        )
        return cursor.fetchall()


def backend_gone(pid: int) -> bool:
    """The server ended session `pid` (its client died; its transaction rolled back, its locks released)."""
    with session() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A redis-server of the test's own on `port` (never the shared one), without persistence: a kill loses its data."""

    def __init__(self, port: int):
        self.port, self.url, self.process = port, f"redis://127.0.0.1:{port}/0", None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, start_new_session=True,
        )
        assert wait_for(self.answers, timeout=10), f"redis-server did not start on port {self.port}"

    def kill(self) -> None:
        sigkill(self.process)

    def answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
        return False


@contextlib.contextmanager
def broker(url):
    """Publish to `url` (tasks no longer run in-process) through fresh connection pools; restore on exit."""
    original, eager = app.conf.broker_url, app.conf.task_always_eager

    def switch(to):
        app.conf.broker_url = to
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.task_always_eager = False
    switch(url)
    try:
        yield app
    finally:
        switch(original)
        app.conf.task_always_eager = eager


@contextlib.contextmanager
def worker(url):
    """A real Celery worker in a thread of this process, consuming from `url` (as tests/alerts/test_redis.py)."""
    from celery.contrib.testing.worker import start_worker

    with broker(url), start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield
