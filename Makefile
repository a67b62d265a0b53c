# The two documented entry points: `make run` and `make test`. Each creates .venv and installs
# what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/paperdesk serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Debian's Chromium for tests/browser (a fresh machine has none): installed once with apt-get
# (as root, or through sudo); `make test` then fails the browser tests instead of skipping them.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

test: $(STAMP) $(CHROMIUM) lint
	PAPERDESK_REQUIRE_BROWSER=1 $(BIN)/pytest -q

# The property tests with many more, random examples (CI runs them derandomized).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest -q tests/property tests/unit

# Every mutant of the money modules ([tool.mutmut] in pyproject.toml) against the fast suites;
# scores and the equivalent survivors are in docs/TESTING.md.
mutation: $(STAMP)
	HYPOTHESIS_PROFILE=mutation $(BIN)/mutmut run
	$(BIN)/python tools/mutation_report.py

bench: $(STAMP)
	$(BIN)/python -m bench.engine

clean:
	rm -rf $(VENV) var mutants .pytest_cache .mypy_cache .ruff_cache
