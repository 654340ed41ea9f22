# Restock: the commands a user runs. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/dagster_home
export DO_NOT_TRACK := 1
# Range backfills record one planned event per asset, not one per asset per day
# (see orchestration/cli.py); also for backfills launched from `make dev`'s UI.
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
# ... and write a range's per-day materializations of an asset in one batch.
export DAGSTER_EVENT_BATCH_SIZE ?= 1000
DBT_FILES := $(shell find dbt_project -name '*.sql' -o -name '*.yml' 2>/dev/null | grep -v '/target/')
MANIFEST := dbt_project/target/manifest.json
DEMO_SCALE ?= demo

.PHONY: env demo test lint format dev backfill manifest clean-data help

help:
	@echo "make demo      environment, demo extracts, whole pipeline over the demo period, summary"
	@echo "make test      environment, then the whole test suite"
	@echo "make lint      ruff (lint + format check) and mypy on restock/"
	@echo "make dev       Dagster UI on http://127.0.0.1:3000"
	@echo "make backfill START=YYYY-MM-DD END=YYYY-MM-DD [SELECT='group:forecasting']"
	@echo "              queue one run for that range (as the UI does), follow it, exit 0 when it succeeds"

env: $(VENV)/.installed

# uv installs the same versions as pip from pyproject.toml's ranges in ~13 s instead of
# ~70 s (benchmarks/RESULTS.md). INSTALLER=pip installs with pip only (e.g. where only
# pip is configured for your package index); pip also takes over when uv fails.
INSTALLER ?= uv

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ "$(INSTALLER)" = uv ] && $(BIN)/pip install --quiet uv \
	    && $(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'; then \
	  echo "installed with uv"; \
	else \
	  [ "$(INSTALLER)" = pip ] || echo "uv could not install the environment: installing with pip"; \
	  $(BIN)/pip install --quiet --upgrade pip && $(BIN)/pip install --quiet -e '.[dev]'; \
	fi
	@touch $@

manifest: $(MANIFEST)

$(MANIFEST): $(VENV)/.installed $(DBT_FILES)
	# parse needs a warehouse path in the profile; it does not open the file
	cd dbt_project && RESTOCK_WAREHOUSE_PATH=$${RESTOCK_WAREHOUSE_PATH:-$(CURDIR)/data/warehouse.duckdb} ../$(BIN)/dbt parse --quiet --profiles-dir .
	@touch $@

demo: env manifest
	$(BIN)/python -m restock.demo --scale $(DEMO_SCALE) --if-missing
	$(BIN)/python -m orchestration.cli backfill --demo-period
	$(BIN)/python -m restock.report

test: env manifest
	$(BIN)/python -m pytest

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: env
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

dev: env manifest
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

backfill: env manifest
	@test -n "$(START)" -a -n "$(END)" || { echo "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD"; exit 2; }
	$(BIN)/python -m orchestration.cli backfill --start $(START) --end $(END) --select '$(or $(SELECT),*)'

# Benchmarks (not part of make test): a separate venv so benchmark-only packages
# never change the product's environment.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '.[dev,bench]'
	@touch $@

.PHONY: bench-forecast bench-levels
# bench-levels: accuracy per level (total, SKU, segment x SKU, customer x SKU) of the
# real pipeline against baselines on generated and real data (~30 min on 2 cores;
# ARGS=--quick for a smoke run); appends its tables to benchmarks/RESULTS.md.
bench-forecast: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/bench_forecasting.py
	$(BENCH_VENV)/bin/python benchmarks/bench_levels.py

bench-levels: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python benchmarks/bench_levels.py $(ARGS)

.PHONY: bench
# bench: the whole pipeline per scale in temp folders (generate, backfill as make demo,
# two daily runs): wall, CPU and peak RSS per stage, storage per year, ratios between
# scales; appends to benchmarks/RESULTS.md. Main venv (needs nothing extra). Default
# scales tiny and demo; ARGS='--scale tiny' (~5 min), ARGS='--scale tiny demo city'.
bench: env manifest
	$(BIN)/python benchmarks/bench_pipeline.py $(ARGS)
