# Two commands on a fresh machine with Python 3.11+, make and git:
#   make run   set up, then run the jobs on the bundled sample in a workspace of its own
#              (data/demo: thank-yous, intros and this month's updates land in data/demo/outbox;
#              your own data/ stays untouched)
#   make test  set up, then ruff, mypy and pytest, as CI runs them
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Breadcrumbs needs Python 3.11 or newer: run make PY=python3.11")'
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo's own workspace: `breadcrumbs init` in the default one still starts you afresh.
DEMO := data/demo

run: $(STAMP)
	$(BIN)/breadcrumbs --workspace $(DEMO) sync --sample
	$(BIN)/breadcrumbs --workspace $(DEMO) follow-up --no-sync
	$(BIN)/breadcrumbs --workspace $(DEMO) digest --no-sync
	@echo "The demo ran in its own workspace, $(DEMO)/. Your own network: breadcrumbs init (see README)."

lint: $(STAMP)
	$(BIN)/ruff check breadcrumbs flows tests bench
	$(BIN)/ruff format --check breadcrumbs flows tests bench
	$(BIN)/mypy

# pytest exits 5 when it collected no test: make treats that as a failure, as it should.
test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
