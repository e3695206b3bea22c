# Each target bootstraps its own virtualenv from nothing but Python 3.11+ (and make).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint check browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## run: migrate, load the demo data on first start, serve on http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/tiltbob run --demo

## test: the test suite (embedded PostgreSQL unless DATABASE_URL is set)
test: $(STAMP)
	$(BIN)/pytest

## lint: ruff and mypy
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

## bench: the benchmarks; prints a table, writes bench/results/ (JSON, Markdown, PNG)
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

check: lint test

## browser: install Debian's chromium for the browser tests (root, Debian/Ubuntu)
browser:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
