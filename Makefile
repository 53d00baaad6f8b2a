# ProcessLens developer entry points. `make run` and `make test` set up everything they need.
#
# Python packages come from requirements.lock (the runtime set; the Dockerfile installs the very
# same file) plus requirements-dev.lock (test and lint tools, pinned to the same versions).
# Regenerate both with `make lock` after changing pyproject.toml.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest arguments, e.g. `make test PYTEST_ARGS="-k migrations -x"`
PYTEST_ARGS ?=

# System packages the suite needs: Chromium for browser tests, poppler-utils for PDF checks,
# and WeasyPrint's libraries and fonts (Debian 12 names).
SYSTEM_PACKAGES := chromium poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
	fonts-dejavu-core fonts-liberation2

RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP := $(VENV)/.installed-dev
# the OpenID Connect provider the single sign-on tests run (Node.js, tests/oidc/package-lock.json)
OIDC_DIR := tests/oidc
OIDC_STAMP := $(OIDC_DIR)/node_modules/.installed

.PHONY: help run test lint fmt typecheck migrate clean lock system-packages venv dev-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# A stamp file per lock: re-running make does not reinstall unless a lock or pyproject changed.
$(RUNTIME_STAMP): requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.lock $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	touch $@

venv: $(RUNTIME_STAMP) ## create .venv with the runtime packages
dev-venv: $(DEV_STAMP) ## create .venv with runtime, test and lint packages

# Installed once per lock file change; without npm the single sign-on tests are skipped (and
# fail when CI=true).
$(OIDC_STAMP): $(OIDC_DIR)/package.json $(OIDC_DIR)/package-lock.json
	@if command -v npm >/dev/null; then \
	  npm ci --prefix $(OIDC_DIR) --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "WARNING: npm is missing: install Node.js 20 or newer for the single sign-on tests"; \
	fi

system-packages: ## install the system packages the suite needs (as root), or say which
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' "$$pkg" 2>/dev/null | grep -q "install ok installed" \
	    || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing system packages:$$missing"; \
	  apt-get update -qq; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else \
	  echo "WARNING: missing system packages:$$missing"; \
	  echo "WARNING: install them with: sudo apt-get install --no-install-recommends$$missing"; \
	  echo "WARNING: until then the tests that need them are skipped (they fail when CI=true)"; \
	fi

run: $(RUNTIME_STAMP) ## set up, migrate, seed the demo and serve it on http://127.0.0.1:8000
	$(BIN)/processlens demo --host $(HOST) --port $(PORT)

test: $(DEV_STAMP) system-packages $(OIDC_STAMP) ## set up everything, then lint, type-check and run the whole suite
	@# every check runs even when an earlier one fails, so one CI run shows every problem;
	@# the exit code is the first failure's (pytest's own code, e.g. 5 for "no tests", included)
	@failed=""; code=0; \
	run() { echo "+ $$*"; rc=0; "$$@" || rc=$$?; if [ $$rc -ne 0 ]; then failed="$$failed\n  $$* (exit $$rc)"; [ $$code -ne 0 ] || code=$$rc; fi; }; \
	run $(BIN)/ruff check .; \
	run $(BIN)/ruff format --check .; \
	run $(BIN)/mypy; \
	run $(BIN)/mypy --config-file tests/mypy.ini tests benchmarks; \
	run $(BIN)/lint-imports; \
	run $(BIN)/hadolint Dockerfile; \
	run $(BIN)/pytest $(PYTEST_ARGS); \
	if [ $$code -ne 0 ]; then printf "make test FAILED:$$failed\n"; fi; \
	exit $$code

lint: $(DEV_STAMP) ## ruff, ruff format --check, mypy (app strict, tests and benchmarks), the import contracts and hadolint only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy --config-file tests/mypy.ini tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

fmt: $(DEV_STAMP) ## format the code and apply safe lint fixes
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: $(RUNTIME_STAMP) ## upgrade the configured database to the newest schema
	$(BIN)/processlens migrate

lock: $(BIN)/python ## re-resolve requirements*.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip compile pyproject.toml --quiet --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --quiet --extra dev -c requirements.lock --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --generate-hashes -o requirements-dev.lock

clean: ## remove the virtual environment and caches (keeps data/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-artifacts
	rm -rf $(OIDC_DIR)/node_modules
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
