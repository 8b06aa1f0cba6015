# The two commands a newcomer needs: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run serve test lint format schema worker beat bench clean

$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements.txt
	@touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime

# A local .env with DEBUG on and fresh random secrets, written once and never committed.
.env:
	@$(PYTHON) -c "import secrets; print('DEBUG=1'); print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('FIELD_ENCRYPTION_KEY=' + secrets.token_urlsafe(32))" > .env
	@echo "Wrote .env (DEBUG=1, random SECRET_KEY and FIELD_ENCRYPTION_KEY)."

# The web server (uvicorn: HTTP and the ConversationRelay WebSocket in one process) and, in the background, a Celery worker with embedded beat (the embedded
# filesystem broker, or Redis when REDIS_URL is set). Stopping `make run` stops the worker too.
run: $(VENV)/.runtime .env
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py seed_demo
	@$(VENV)/bin/celery -A salesagents worker -B --loglevel=INFO --concurrency=2 --without-gossip --without-mingle & \
	worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(VENV)/bin/uvicorn salesagents.asgi:application --host $(HOST) --port $(PORT)

# Separate processes (see docs/adr/0003-broker-default.md): any number of workers, on any machine
# that reaches the same database and Redis; exactly one beat per deployment.
worker: $(VENV)/.runtime .env
	$(VENV)/bin/celery -A salesagents worker --loglevel=INFO

beat: $(VENV)/.runtime .env
	$(PY) manage.py setup_periodic_tasks
	$(VENV)/bin/celery -A salesagents beat --loglevel=INFO

# Every benchmark in bench/, each on its own PostgreSQL database (DATABASE_URL names the server).
bench: $(VENV)/.dev
	$(PY) bench/turn_latency.py
	$(PY) bench/callback_dispatch.py
	$(PY) bench/dashboard_scale.py
	$(PY) bench/relay_latency.py
	$(PY) bench/campaign_pacing.py

# 1,000,000 scheduled callbacks, 10,000 due, 2 worker processes, on PostgreSQL (DATABASE_URL).
.PHONY: bench-callbacks
bench-callbacks: $(VENV)/.dev
	$(PY) bench/callback_dispatch.py $(BENCH_ARGS)

test: $(VENV)/.dev
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Regenerate the committed OpenAPI document; salesagents/tests/test_openapi.py fails when it drifts.
# The test settings need no .env or secrets, so this runs anywhere.
schema: $(VENV)/.dev
	DJANGO_SETTINGS_MODULE=salesagents.test_settings $(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

clean:
	rm -rf var/broker var/static
