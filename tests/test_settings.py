"""kacrm/settings.py is safe by default: each case loads it in a fresh interpreter with its own environment."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_settings(show="s.DEBUG", **env):
    """Import kacrm.settings as `s` with only `env` of the DJANGO_ variables set; print `show`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run(
        [sys.executable, "-c", f"import kacrm.settings as s; print({show})"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60,
    )


def test_the_settings_refuse_to_load_with_debug_off_and_no_secret_key():
    result = load_settings(DJANGO_DEBUG="0")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DJANGO_SECRET_KEY is not set. Set it (a long random string) "
        "to run with DEBUG off, or set DJANGO_DEBUG=1 for development."
    )


def test_with_nothing_set_the_settings_refuse_to_load():
    result = load_settings()

    assert result.returncode == 1
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY is not set." in result.stderr


def test_debug_is_off_when_django_debug_is_unset():
    result = load_settings(DJANGO_SECRET_KEY="a-test-key")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "False\n"


def test_debug_on_runs_with_the_fixed_development_key():
    result = load_settings("s.DEBUG, s.SECRET_KEY.startswith('django-insecure-')", DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "True True\n"
