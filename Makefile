# Hilfenetz — two commands for a fresh machine: `make run` and `make test`.
# Every install step lives here; CI (.ci/run) calls `make test` on a fresh clone.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HILFENETZ_DEV ?= 1

.PHONY: run test setup lint typecheck importlint check audit bandit unit integration e2e bench clean chromium fonts

run: setup
	$(BIN)/hilfenetz demo
	$(BIN)/hilfenetz run

setup: $(VENV)/.installed webapp/static/vendor/.installed fonts

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

webapp/static/vendor/.installed: node_modules/.installed scripts/vendor.py
	$(PYTHON) scripts/vendor.py
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

# DejaVu Sans for the PDF minutes (umlauts, „…“); without it they fall back to Helvetica (Windows-1252).
fonts:
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null) || \
	  echo "Hinweis: fonts-dejavu-core nicht installiert; PDF-Protokolle nutzen Helvetica."

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/mypy

importlint: setup
	$(BIN)/lint-imports

# The shipped processes and forms pass the same checks as a deployment (one line per problem).
check: setup
	$(BIN)/hilfenetz check processes/ forms/

# Known vulnerabilities in the installed packages (scripts/dependency_audit.py says when the
# service could not be asked: an error under CI=true, a warning locally).
audit: setup
	$(BIN)/python scripts/dependency_audit.py

# Static security checks of our code; the one global exception (B101) is justified in pyproject.toml.
bandit: setup
	$(BIN)/bandit -q -c pyproject.toml -r engine webapp

test: setup chromium lint typecheck importlint check audit bandit
	$(BIN)/pytest -p no:cacheprovider

bench: setup
	$(BIN)/python bench/step_overhead.py
	$(BIN)/python bench/worklist.py
	$(BIN)/python bench/timer_latency.py
	$(BIN)/python bench/throughput.py
	$(BIN)/python bench/timer_backlog.py
	$(BIN)/python bench/anonymity.py

clean:
	rm -rf $(VENV) node_modules webapp/static/vendor instance .pytest_cache .mypy_cache .ruff_cache
