"""A database created before people moved from planning to org upgrades with `migrate` and keeps working."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = {
    "users": [["admin", "analyst"], ["ka1", "ka_manager"], ["rep1", "sales_manager"], ["sup1", "supervisor"]],
    "rep": ["north", "North hunters", "s1"],
    "supervised": ["north"],
    "visits": 10,
    "visit_history": 10,
    "login_redirect": 302,
    "home_after_login": 200,
    "api_visits": [10, [100, 101, 102]],
    "account_coded_login": 200,
    "content_types": [["org", "region"], ["org", "team"], ["org", "user"]],
    "user_permissions": ["add_user", "change_user", "delete_user", "view_user"],
}


def _run(database_url: str, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "kacrm.settings", "DJANGO_DEBUG": "1",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _upgrade_and_check(database_url: str) -> dict:
    _run(database_url, "manage.py", "migrate", "--noinput")
    _run(database_url, "manage.py", "makemigrations", "--check", "--dry-run")
    return json.loads(_run(database_url, "tests/org/upgrade_check.py").strip().splitlines()[-1])


def test_a_sqlite_database_from_before_the_move_upgrades_and_keeps_people_visits_and_logins(tmp_path):
    path = tmp_path / "before.sqlite3"
    with sqlite3.connect(path) as db:  # the dump's CHECK constraints call REGEXP, as Django's connections do
        db.create_function("REGEXP", 2, lambda pattern, value: value is not None and re.search(pattern, value) is not None)
        db.executescript((FIXTURES / "before_org_sqlite.sql").read_text())

    assert _upgrade_and_check(f"sqlite:///{path}") == EXPECTED


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
                    reason="needs the PostgreSQL server CI runs the suite on")
def test_a_postgresql_database_from_before_the_move_upgrades_and_keeps_people_visits_and_logins():
    db = settings.DATABASES["default"]
    name = f"kacrm_upgrade_{uuid.uuid4().hex[:8]}"
    server = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    subprocess.run(["createdb", *server, name], check=True)
    try:
        subprocess.run(["psql", *server, "-q", "-v", "ON_ERROR_STOP=1", "-d", name,
                        "-f", str(FIXTURES / "before_org_postgresql.sql")], check=True, capture_output=True)
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
        assert _upgrade_and_check(url) == EXPECTED
    finally:
        subprocess.run(["dropdb", *server, "--force", name], check=True)
