# The two commands of the README: `make run` (the whole service) and `make test` (the suite).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/waitpoints
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0

# The embedded default (`make run`: SQLite and kombu's filesystem broker) under the same tests, so
# the portable paths the PostgreSQL fast paths stand in for run for real; tests marked
# postgres_only are skipped. Everything lives in a fresh temporary folder, removed afterwards.
EMBEDDED_TESTS ?= tests/api tests/client tests/dashboard tests/runs tests/waitpoints \
	tests/adversarial tests/notifications

# The tests that start Celery workers (runs, resumes, crashes, timeouts, webhooks, two beats) once
# more on RabbitMQ, the other broker the README supports; the broker-crash test that kills a
# redis-server of its own is skipped there.
TEST_RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672//
RABBITMQ_TESTS ?= tests/runs/test_worker.py tests/adversarial/test_crashes.py \
	tests/adversarial/test_races_at_volume.py tests/webhooks/test_worker.py tests/ops/test_two_beats.py \
	tests/waitpoints/test_timeouts.py::test_one_second_timeout_is_swept_by_the_beat_schedule_in_a_worker \
	tests/dashboard/test_undo.py::test_a_worker_records_the_decision_when_the_window_lapses

.PHONY: run test test-postgres test-embedded test-rabbitmq bench install install-test browser lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
browser:
	@test -x /usr/bin/chromium || { \
	  command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "Install Chromium at /usr/bin/chromium (Debian: apt-get install chromium)"; exit 1; }; }
	@# axe-core, which the browser tests inject to check accessibility (tests/browser/package.json).
	@test -f tests/browser/node_modules/axe-core/axe.min.js || npm ci --prefix tests/browser --no-audit --no-fund

run: install
	$(BIN)/python manage.py devserver

# The whole suite: every test on PostgreSQL + Redis, then the embedded run, then the worker tests
# on RabbitMQ; all three always run, and any failing (or collecting no test) fails `make test`.
test: install-test browser
	@status=0; \
	$(MAKE) --no-print-directory test-postgres || status=1; \
	$(MAKE) --no-print-directory test-embedded || status=1; \
	$(MAKE) --no-print-directory test-rabbitmq || status=1; \
	exit $$status

test-postgres: install-test browser
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-embedded: install-test
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/waitpoints-embedded.XXXXXX") && \
	WAITPOINTS_TEST_EMBEDDED=1 WAITPOINTS_VAR_DIR=$$dir DATABASE_URL=sqlite:///$$dir/waitpoints.sqlite3 \
	CELERY_BROKER_URL=filesystem:// $(BIN)/python -m pytest $(EMBEDDED_TESTS) $(PYTEST_ARGS); \
	status=$$?; rm -rf "$$dir"; exit $$status

# PostgreSQL + RabbitMQ (RABBITMQ_URL overrides the broker; CELERY_BROKER_URL is left to
# test-postgres, so one environment can run both).
test-rabbitmq: install-test
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${RABBITMQ_URL:-$(TEST_RABBITMQ_URL)} \
	$(BIN)/python -m pytest $(RABBITMQ_TESTS) $(PYTEST_ARGS)

# Benchmarks (P1-P6): needs PostgreSQL, Redis and wrk (apt-get install wrk); about 6-8 minutes.
bench: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	@command -v wrk >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)
	$(BIN)/python -m bench $(BENCH_ARGS)

# ruff, the import contracts of pyproject.toml (docs/architecture.md), and no module over 400 lines.
lint: install-test
	$(BIN)/ruff check . && $(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	@long=$$(find waitpoints dashboard config -name '*.py' -not -path '*/migrations/*' \
	  -exec awk 'END { if (NR > 400) print FILENAME ": " NR " lines" }' {} \;); \
	  if [ -n "$$long" ]; then echo "Modules over 400 lines:"; echo "$$long"; exit 1; fi
