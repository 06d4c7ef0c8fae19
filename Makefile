# MosPay-style gateway. `make run` and `make test` do their whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test screenshots lint fmt bench bench-portal assets db migrate seed clean stop-db reset-db psql

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

assets: $(STAMP)  ## SB Admin 2 and Chart.js from npm into static/vendor/
	@if [ -x scripts/install_assets.sh ]; then scripts/install_assets.sh; fi

run: $(STAMP) assets  ## set up, start PostgreSQL if needed, migrate, start gateway + microservices + simulators + worker
	@$(BIN)/python scripts/run_all.py

test: $(STAMP) assets  ## set up, then the whole test suite against a real PostgreSQL; fails if it changed the tree
	@scripts/install_chromium.sh
	@scripts/install_plpgsql_check.sh
	@before="$$(git status --porcelain 2>/dev/null)"; \
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	after="$$(git status --porcelain 2>/dev/null)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "make test changed the working tree (git status before vs after):"; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; \
	fi; exit $$rc

screenshots: $(STAMP) assets  ## the portal screenshots of README and docs/portal.md (docs/screenshots/*.png)
	@scripts/install_chromium.sh
	@MOSPAY_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider tests/portal/test_browser.py tests/portal/test_browser_functions.py tests/portal/test_tenant_browser.py

lint: $(STAMP)  ## ruff check, format check and the import-layer contracts (pyproject.toml)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports --no-cache

fmt: $(STAMP)  ## ruff format and fixes
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

# DATA=1 repeats the gateway rows with 1M transactions and 5M API log rows loaded; PORTAL=1 then runs the
# portal benchmark (scripts/bench_portal.py); PROFILE=1 samples a gateway worker with py-spy if installed;
# FSYNC=1 runs PostgreSQL with fsync on (off by default, as `make run`); SPLIT=1 then runs every row again with
# PostgreSQL on CPUs of its own (bench/topology.py). BENCH_ARGS="--seconds 5" etc. pass through.
bench: $(STAMP)  ## gateway under load beside its ceilings (docs/performance.md); DATA=1 SPLIT=1 PORTAL=1 PROFILE=1
	@scripts/install_wrk.sh
	@$(BIN)/python -m bench.run $(if $(DATA),--with-data) $(if $(PORTAL),--portal) $(if $(PROFILE),--profile) $(if $(FSYNC),--fsync) $(if $(SPLIT),--split) $(BENCH_ARGS)

bench-portal: $(STAMP)  ## portal benchmark alone (dashboard and transaction lists at 1M rows)
	@$(BIN)/python scripts/bench_portal.py

psql:  ## open psql on the gateway's database as a DBA (DATABASE_URL, else the project-local cluster)
	@url="$${DATABASE_URL:-$$(scripts/dev_postgres.sh)}"; \
	psql_bin="$$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)"; \
	exec "$$psql_bin" "$$url"

stop-db:  ## stop the project-local PostgreSQL
	@scripts/stop_postgres.sh

reset-db:  ## stop and delete the project-local PostgreSQL (the next make run creates a new one)
	@scripts/stop_postgres.sh --remove

clean:  ## remove the virtualenv, local database and installed assets
	@scripts/stop_postgres.sh --remove || true
	rm -rf $(VENV) var static/vendor node_modules
