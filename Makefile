# Bootstrap and thin aliases: the logic lives in tasks.py (invoke).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: install
	$(BIN)/invoke run

test: install
	$(BIN)/invoke test

lint: install
	$(BIN)/invoke lint

format: install
	$(BIN)/invoke format

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
