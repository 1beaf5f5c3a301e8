"""Django in separate OS processes on this test's database: what gunicorn's workers share, and nothing else.

Use from a `transactional_db` test (the other process sees committed rows only). On SQLite the in-memory
test database is copied to a file first, which the processes then share instead.
"""
import json
import os
import sqlite3
import subprocess
import sys
from urllib.parse import quote

from django.conf import settings
from django.db import connection

PRELUDE = "import json, os, time\nimport django\ndjango.setup()\n"


def database_url(tmp_path) -> str:
    """A DATABASE_URL another process can open, holding what this test has committed."""
    if connection.vendor == "sqlite":
        target = tmp_path / "shared.sqlite3"
        connection.ensure_connection()
        with sqlite3.connect(target) as copy:
            connection.connection.backup(copy)
        copy.close()
        return f"sqlite:///{target}"
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start(code: str, *, database: str, settings_module: str = "kacrm.settings_test", **env) -> subprocess.Popen:
    """Run `code` (after django.setup()) in a new Python process; it prints its findings as its last line of JSON."""
    environment = {
        **os.environ, "PYTHONPATH": str(settings.BASE_DIR), "DJANGO_SETTINGS_MODULE": settings_module,
        "DJANGO_DEBUG": "1", "DATABASE_URL": database, **env,
    }
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code], env=environment, cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def result(process: subprocess.Popen, timeout: float = 120):
    """The JSON the process printed last; fails the test with its stderr if it crashed."""
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])
