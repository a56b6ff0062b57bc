# fpvsync developer commands. Each target works from a fresh clone with nothing but Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-quick pb clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## demo: start PocketBase and a replay of a generated event, run `fpvsync full`, open the live page; Ctrl-C stops
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

## test: the whole test suite against real PocketBase and replay servers
test: $(STAMP)
	$(BIN)/pytest

## lint: ruff (lint + format check) and mypy --strict
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## bench: throughput and no-op/poll costs on a large generated event (see README, Performance)
bench: $(STAMP)
	$(BIN)/python scripts/bench.py

bench-quick: $(STAMP)
	$(BIN)/python scripts/bench.py --quick

## pb: a local PocketBase with fpvsync's schema on 127.0.0.1:8090 (data in ./pb_data)
pb: $(STAMP)
	$(BIN)/fpvsync pb serve --dir pb_data

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache dist build
