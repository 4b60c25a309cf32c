# leadsea: `make run` (install, migrate, demo tenant, serve on :8000) and `make test` (install, whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-sqlite test-postgres lint typecheck migrations-check messages bench clean

install: $(STAMP) node_modules/.installed

$(STAMP): pyproject.toml requirements.lock plugins/leadsea_example_plugin/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==25.3"
	$(BIN)/python -m pip install -q -c requirements.lock -e ".[dev]" -e plugins/leadsea_example_plugin
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

run: install
	$(BIN)/leadsea init
	$(BIN)/leadsea demo
	$(BIN)/leadsea serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src/leadsea tests

typecheck: install
	$(BIN)/mypy

migrations-check: install
	LEADSEA_VAR_DIR=$$(mktemp -d) $(BIN)/leadsea makemigrations --check --dry-run

test-sqlite: install
	LEADSEA_TEST_BACKEND=sqlite $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

test-postgres: install
	@if [ -n "$$LEADSEA_TEST_POSTGRES" ]; then \
		LEADSEA_TEST_BACKEND=postgres $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS); \
	elif [ "$$CI" = "true" ]; then \
		echo "CI=true but LEADSEA_TEST_POSTGRES is not set: the PostgreSQL run is required in CI"; exit 1; \
	else echo "LEADSEA_TEST_POSTGRES is not set: skipping the PostgreSQL run"; fi

test: lint typecheck migrations-check test-sqlite test-postgres

messages: install
	cd src/leadsea && ../../$(BIN)/leadsea makemessages -l zh_Hans --no-obsolete && ../../$(BIN)/leadsea compilemessages -l zh_Hans

bench: install
	$(BIN)/leadsea bench --help

clean:
	rm -rf $(VENV) node_modules var .mypy_cache .ruff_cache
