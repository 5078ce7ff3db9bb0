# Codex Cockpit — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
# Test processes: the machine's cores, at most 4 (the real-binary tests are CPU-heavy; more gains little).
JOBS   ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: setup demo test lint bench clean screenshots compat

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

demo: setup
	$(BIN)/cockpit demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider -n $(JOBS)

bench: setup
	$(PY) tests/bench/ingest.py
	$(PY) tests/bench/big_log.py
	$(PY) tests/bench/big_diff.py
	$(PY) tests/bench/startup.py
	$(PY) tests/bench/flood.py
	$(PY) tests/bench/scale.py
	$(PY) tests/bench/lanes.py
	$(PY) tests/bench/memory.py
	$(PY) tests/bench/flood.py --host

# The real-binary tests against another Codex CLI version, installed beside the pinned one under .compat/:
# `make compat CODEX=0.172.0` (extra pytest arguments: PYTEST_ARGS='-k app_server').
compat:
	@if [ -z "$(CODEX)" ]; then \
	  echo "usage: make compat CODEX=x.y.z [PYTEST_ARGS=...]  (pinned: see package.json)" >&2; exit 2; fi
	@$(MAKE) -s --no-print-directory $(VENV)/.installed
	$(PY) scripts/compat.py $(CODEX) -- $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .compat

screenshots: setup
	$(BIN)/python scripts/screenshots.py --out screenshots
