# MosPay-style gateway. `make run` and `make test` do their whole set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help run test screenshots lint fmt bench assets db migrate seed clean stop-db reset-db

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

test: $(STAMP) assets  ## set up, then the whole test suite against a real PostgreSQL; fails if it changed the tree
	@scripts/install_chromium.sh
	@before="$$(git status --porcelain 2>/dev/null)"; \
	$(BIN)/python -m pytest -q -p no:cacheprovider; rc=$$?; \
	after="$$(git status --porcelain 2>/dev/null)"; \
	if [ "$$before" != "$$after" ]; then \
	  echo "make test changed the working tree (git status before vs after):"; \
	  diff <(echo "$$before") <(echo "$$after"); exit 1; \
	fi; exit $$rc

screenshots: $(STAMP) assets  ## the portal screenshots of README and docs/portal.md (docs/screenshots/*.png)
	@scripts/install_chromium.sh
	@MOSPAY_SCREENSHOTS_DIR=docs/screenshots $(BIN)/python -m pytest -q -p no:cacheprovider tests/portal/test_browser.py

lint: $(STAMP)  ## ruff check, format check and the import-layer contracts (pyproject.toml)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports --no-cache

fmt: $(STAMP)  ## ruff format and fixes
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

bench: $(STAMP)  ## benchmarks (dashboard and transaction list at 1M rows)
	@if [ -f scripts/bench_portal.py ]; then $(BIN)/python scripts/bench_portal.py; fi

stop-db:  ## stop the project-local PostgreSQL
	@scripts/stop_postgres.sh

reset-db:  ## stop and delete the project-local PostgreSQL (the next make run creates a new one)
	@scripts/stop_postgres.sh --remove

clean:  ## remove the virtualenv, local database and installed assets
	@scripts/stop_postgres.sh --remove || true
	rm -rf $(VENV) var static/vendor node_modules
