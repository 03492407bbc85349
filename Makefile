# `make demo` and `make test` work on a fresh machine: they create .venv with Python >= 3.11 and
# install jobtrail with its dev tools first (again only when pyproject.toml changes).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV  := .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
# The first of these that is Python >= 3.11 (python3 preferred); override with `make PYTHON=...`.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && { echo $$p; break; }; done)

.PHONY: help setup demo test lint bench clean

help:
	@echo "make demo   generate a demo database and show what is in it"
	@echo "make test   run the whole test suite, then ruff"
	@echo "make lint   ruff and mypy (strict) on src/"
	@echo "make bench  the benchmarks at 100,000 jobs on SQLite (BENCH_JOBS=... to change)"
	@echo "make clean  remove .venv and caches"

$(BIN)/python:
	@if [[ -z "$(PYTHON)" ]]; then \
		echo "error: jobtrail needs Python >= 3.11; none of python3, python3.13, python3.12," \
		     "python3.11 is one (python3 is: $$(python3 -V 2>&1 || echo missing))." \
		     "Install one, or run: make PYTHON=/path/to/python3.11" >&2; \
		exit 1; \
	fi
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); jobtrail needs Python >= 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/jobtrail demo

test: $(STAMP)
	$(BIN)/pytest
	$(BIN)/ruff check src tests bench

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

BENCH_JOBS ?= 100000
bench: $(STAMP)
	$(BIN)/python bench/ingest.py --jobs $(BENCH_JOBS) --backend sqlite
	$(BIN)/python bench/queries.py --jobs $(BENCH_JOBS) --backend sqlite
	$(BIN)/python bench/storage.py --jobs $(BENCH_JOBS) --backend sqlite
	$(BIN)/python bench/client.py --jobs $(BENCH_JOBS)
	$(BIN)/python bench/http_ingest.py --jobs 20000 --backend sqlite
	$(BIN)/python bench/health.py --jobs $(BENCH_JOBS) --backend sqlite

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis

.PHONY: example-celery
example-celery: $(STAMP)  ## the Celery example (needs Redis): examples/celery/run.sh
	$(BIN)/python -m pip install --quiet -e '.[celery,redis]'
	examples/celery/run.sh
