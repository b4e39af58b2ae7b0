# Two commands for a newcomer: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
export DJANGO_SETTINGS_MODULE ?= mes.settings.base

.PHONY: install run test lint format migrate demo chromium clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: install Python 3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

# Serve the demo plant on the embedded default: SQLite, Celery eager (no broker needed).
run: install
	DEBUG=1 $(PY) manage.py migrate --no-input
	DEBUG=1 $(PY) manage.py load_demo --no-input
	DEBUG=1 $(PY) manage.py runserver 127.0.0.1:8000

# The suite: PostgreSQL/Redis when DATABASE_URL / REDIS_URL are set, SQLite otherwise.
test: install chromium
	DJANGO_SETTINGS_MODULE=mes.settings.test $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrate: install
	$(PY) manage.py migrate --no-input

demo: install
	DEBUG=1 $(PY) manage.py load_demo --no-input

# Browser tests drive Debian's chromium (never a browser a tool downloads itself).
chromium:
	@test -x /usr/bin/chromium || scripts/install_chromium.sh

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles .pytest_cache .ruff_cache
