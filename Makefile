# Two commands: `make run` and `make test`. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1:8000

.PHONY: install browser lint run worker beat test test-fast clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# Browser tests drive Debian's Chromium (Playwright cannot download its own here).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium; } \
		|| { echo "Install Debian's chromium package (apt-get install chromium) to run the browser tests."; exit 1; }

run: install
	DJANGO_DEBUG=1 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=1 $(PY) manage.py seed_demo --if-empty
	DJANGO_DEBUG=1 $(PY) manage.py runserver $(HOST)

worker: install
	DJANGO_DEBUG=1 $(VENV)/bin/celery -A kacrm worker -l info

beat: install
	DJANGO_DEBUG=1 $(VENV)/bin/celery -A kacrm beat -l info

# Imports point one way (.importlinter) and pyflakes is clean (ruff.toml), then the suite.
lint: install
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .

test: install browser lint
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not browser"

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
