# The README's commands. A fresh machine needs only python3 (>= 3.11) and make.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run demo test lint typecheck unit sim bench soak mutate lock clean

# uv installs the lockfile in seconds; it is an ordinary package on the index. Where it
# cannot be had, pip does the same job, slower.
UV_VERSION ?= 0.13.9
PIP := $(BIN)/python -m pip --disable-pip-version-check

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating $(VENV) with $(PY)"; $(PY) -m venv $(VENV); }
	@echo "==> installing uv $(UV_VERSION) into $(VENV) (a fast installer)"
	@$(PIP) install -q uv==$(UV_VERSION) || echo "    uv not available here: pip will install instead (slower)"
	@if test -x $(BIN)/uv; then \
	  echo "==> installing the locked dependencies with uv (requirements.lock, hashes checked)"; \
	  $(BIN)/uv pip install -q --python $(BIN)/python --require-hashes -r requirements.lock && \
	  echo "==> installing tradeexec itself (editable)" && \
	  $(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .; \
	else \
	  echo "==> installing the locked dependencies with pip (requirements.lock, hashes checked)"; \
	  $(PIP) install -q --require-hashes -r requirements.lock && \
	  echo "==> installing tradeexec itself (editable)" && \
	  $(PIP) install -q --no-deps -e .; \
	fi
	@rm -f $(VENV)/.installed-*; touch $(STAMP)
	@echo "==> $(VENV) is ready"

venv: $(STAMP)

## the main job on the embedded default: the service on the simulator, SQLite store, no keys
run: $(STAMP)
	@echo "==> starting the service: tradeexec serve --sim (simulator + paper accounts, no keys,"
	@echo "    no network; http://127.0.0.1:8000, Ctrl-C stops it). The next steps follow its"
	@echo "    first line (base URL, API token, webhook secret); README: 'The service'."
	$(BIN)/tradeexec serve --sim

## the scripted demo: one bracketed signal per venue, the stop fires, the target is cancelled
demo: $(STAMP)
	@echo "==> running the demo: tradeexec demo (simulator + paper, no keys, no network)"
	$(BIN)/tradeexec demo

## lint, type check, tests (what CI runs: .ci/run is `make test`)
test: lint typecheck unit

## ruff: lint and formatting
lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

## mypy --strict on src/
typecheck: $(STAMP)
	$(BIN)/mypy

## the test suite (the short crash-and-fault soak included) on PYTEST_WORKERS pytest-xdist
## workers: it mostly waits (subprocesses, the simulator, soaks), so more workers than cores
## pay; tests/_parallel.py starts the long tests first. `pytest -q` alone runs it serially.
PYTEST_WORKERS ?= 4
unit: $(STAMP) postgres chromium
	$(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist loadgroup

## PostgreSQL's server programs: the tests start a throwaway server of their own (nothing is
## configured or left running); as root (CI) the distribution's package is installed if missing
.PHONY: postgres
postgres:
	@test -n "$$TRADEEXEC_PG_BIN" || command -v pg_ctl >/dev/null 2>&1 \
	  || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "==> installing PostgreSQL (apt-get install postgresql) for the PostgreSQL tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "PostgreSQL's server programs (initdb, pg_ctl) are missing; the tests need them."; \
	    echo "Install the distribution's package: sudo apt-get install postgresql (Debian/Ubuntu),"; \
	    echo "or set TRADEEXEC_PG_BIN to the directory holding initdb and pg_ctl."; \
	    exit 1; \
	  fi; }

## headless Chromium for the dashboard's browser tests (tests/dashboard): as root (CI) the
## distribution's package is installed if missing
.PHONY: chromium
chromium:
	@test -n "$$CHROMIUM" || command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "==> installing Chromium (apt-get install chromium) for the dashboard's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "Chromium is missing; the dashboard's browser tests need it. Install the"; \
	    echo "distribution's package: sudo apt-get install chromium (Debian/Ubuntu),"; \
	    echo "or set CHROMIUM to a Chromium binary."; \
	    exit 1; \
	  fi; }

sim: $(STAMP)
	$(BIN)/tradeexec sim --port 8765

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

## the long soaks (the short forms are in make test): crash-and-fault, 3 seeds x 2000 signals,
## 8 kills each; 1000 signals through tradeexec serve (webhook + REST), 6 kills; then three
## serve replicas on PostgreSQL, 2 seeds x 1000 signals, 4 owner SIGKILLs and 3 SIGSTOPs past
## the lease each (postgres: the server programs)
soak: $(STAMP) postgres
	$(BIN)/python bench/soak.py --seed 1 --seeds 3 --signals 2000 --kills 8
	$(BIN)/python bench/soak.py --http --seed 1 --seeds 1 --signals 1000 --kills 6
	$(BIN)/python bench/soak.py --replicas 3 --seed 1 --seeds 2 --signals 1000 --batch 25 --kills 4 --stops 3

## mutation testing of the order path (mutmut, in a copy of the tree): a deterministic sample of
## 200 mutants (~20 min on a quiet 2-core machine); MUTATE_SAMPLE=0 runs all ~1,700 (over an hour). -> MUTATION.md
MUTATE_SAMPLE ?= 200
mutate: $(STAMP)
	$(BIN)/python bench/mutate.py --sample $(MUTATE_SAMPLE)

## regenerate the lockfile from pyproject.toml (needs network to the package index)
lock:
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
