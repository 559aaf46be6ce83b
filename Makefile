# Bootstrap and thin aliases: the logic lives in tasks.py (invoke).
PYTHON ?= python3
# The browser tests drive Debian's Chromium (Playwright's own browser download is not used);
# a test runs the README's curl examples with Debian's curl.
CHROMIUM ?= /usr/bin/chromium
CURL ?= /usr/bin/curl
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format clean check bench bench-quick

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: install
	@$(BIN)/invoke run

test: install $(CHROMIUM) $(CURL)
	$(BIN)/invoke test

$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

$(CURL):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl

lint: install
	$(BIN)/invoke lint

format: install
	$(BIN)/invoke format

check: install
	$(BIN)/invoke check

# Benchmarks need APScheduler and matplotlib (requirements-bench.txt) and Debian's wrk.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $(BENCH_STAMP)

/usr/bin/wrk:
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk

bench: $(BENCH_STAMP) /usr/bin/wrk
	$(BIN)/invoke bench

bench-quick: $(BENCH_STAMP) /usr/bin/wrk
	$(BIN)/invoke bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
