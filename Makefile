# The two commands of the README: `make run` (the whole service) and `make test` (the suite).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/waitpoints
TEST_BROKER_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test bench install install-test browser lint

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

run: install
	$(BIN)/python manage.py devserver

test: install-test browser
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-$(TEST_BROKER_URL)} \
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
