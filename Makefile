# The README's two commands are `make run` and `make test`; the rest are the steps behind them.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
SYSPKGS := postgresql xvfb xauth libgl1 libegl1 libgles2 libmtdev1 libxrender1 fonts-wqy-microhei chromium chromium-driver

.PHONY: run test check lint types boundaries pytest system venv-server venv-all migrate handheld cashier bench clean

run: venv-server system-pg
	$(BIN)/python -m server run

test: venv-all system
	$(MAKE) check

check: lint types boundaries pytest

lint:
	$(BIN)/ruff check .

types:
	$(BIN)/mypy

boundaries:
	$(BIN)/lint-imports

pytest:
	$(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: venv-server
	$(BIN)/python -m server migrate

# --- installing -----------------------------------------------------------------------------------
$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.server-installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[server]'
	touch $@

$(VENV)/.all-installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install -q -c requirements.lock -e '.[server,apps,dev]'
	touch $@ $(VENV)/.server-installed

venv-server: $(VENV)/.server-installed
venv-all: $(VENV)/.all-installed

system-pg:
	@bash .ci/system-packages.sh postgresql

system:
	@bash .ci/system-packages.sh $(SYSPKGS)

lock: $(BIN)/python
	$(BIN)/pip install -q -e '.[server,apps,dev]'
	$(BIN)/pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

# --- apps and benchmarks (not set-up commands) ----------------------------------------------------
handheld: venv-all
	$(BIN)/python -m handheld_app

cashier: venv-all
	$(BIN)/python -m cashier_app

bench: venv-all system
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
