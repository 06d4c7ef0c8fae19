# MosPay-style gateway. `make run` and `make test` do their whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test lint fmt bench assets db migrate seed clean stop-db psql

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --upgrade pip
	@$(BIN)/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

assets: $(STAMP)  ## SB Admin 2 and Chart.js from npm into static/vendor/
	@if [ -x scripts/install_assets.sh ]; then scripts/install_assets.sh; fi

run: $(STAMP) assets  ## set up, start PostgreSQL if needed, migrate, start gateway + microservices + simulators + worker
	@$(BIN)/python scripts/run_all.py

test: $(STAMP) assets  ## set up, then the whole test suite against a real PostgreSQL
	@scripts/install_chromium.sh
	@scripts/install_plpgsql_check.sh
	@$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)  ## ruff check and format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

fmt: $(STAMP)  ## ruff format and fixes
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

bench: $(STAMP)  ## benchmarks (dashboard and transaction list at 1M rows)
	@if [ -f scripts/bench_portal.py ]; then $(BIN)/python scripts/bench_portal.py; fi

psql:  ## open psql on the gateway's database as a DBA (DATABASE_URL, else the project-local cluster)
	@url="$${DATABASE_URL:-$$(scripts/dev_postgres.sh)}"; \
	psql_bin="$$(command -v psql || ls /usr/lib/postgresql/*/bin/psql | sort -V | tail -n1)"; \
	exec "$$psql_bin" "$$url"

stop-db:  ## stop the project-local PostgreSQL
	@scripts/stop_postgres.sh

clean:  ## remove the virtualenv, local database and installed assets
	@scripts/stop_postgres.sh || true
	rm -rf $(VENV) var static/vendor node_modules
