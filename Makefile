# `make run`: Podium on SQLite with demo data. `make test`: the whole suite on SQLite and PostgreSQL.
# `make install` installs exactly the versions locked in requirements/dev.txt (hashes checked);
# `make lock` re-locks after a change to pyproject.toml, `make upgrade` takes the newest allowed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check
# pip-compile lives in its own venv so it never mixes with the locked packages.
PIP_TOOLS := $(VENV)/pip-tools/bin
PIP_COMPILE := $(PIP_TOOLS)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links

.PHONY: run test install bench schema clean lock upgrade graphiql
GRAPHIQL := server/graphiql
GRAPHIQL_DIR := $(VENV)/share/podium-graphiql

$(BIN)/podium: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes -r requirements/dev.txt
	# The project, built with the locked setuptools; its dependencies come from the lock only. The test-only
	# `logbook` plugin is not installed here (the suite installs it where only tests look: tests/conftest.py),
	# and is removed from a venv made before, so `make run` never loads it.
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	@$(PIP) uninstall --quiet --yes podium-logbook podium-jitsi >/dev/null 2>&1 || true
	@$(PIP) check >/dev/null || { $(PIP) check; echo "requirements/ is out of date with pyproject.toml: run make lock"; exit 1; }
	@touch $@

install: $(BIN)/podium graphiql

# GraphiQL and React from the npm registry, at the versions and integrity hashes of the committed lock;
# Podium serves them at /graphql/static/. Without npm, GET /graphql says how to install them.
graphiql: $(GRAPHIQL_DIR)/node_modules/.package-lock.json

# Installed into the venv (not the source tree), where `podium.server.graphiql` looks for them.
$(GRAPHIQL_DIR)/node_modules/.package-lock.json: $(GRAPHIQL)/package-lock.json $(BIN)/podium
	@if command -v npm >/dev/null; then mkdir -p $(GRAPHIQL_DIR) \
		&& cp $(GRAPHIQL)/package.json $(GRAPHIQL)/package-lock.json $(GRAPHIQL_DIR)/ \
		&& npm ci --prefix $(GRAPHIQL_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: GraphiQL's assets are not installed (the API works without them)"; fi

run: install
	$(BIN)/podium serve --demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/sessions_page.py

schema: install
	$(BIN)/podium export-schema

$(PIP_TOOLS)/pip-compile:
	$(PYTHON) -m venv $(VENV)/pip-tools
	$(PIP_TOOLS)/pip install --quiet --disable-pip-version-check pip-tools==7.6.2

# main.txt: what a deployment installs; dev.txt: that plus the test extra and the build backend.
# Existing pins are kept; only what pyproject.toml added or changed is resolved anew.
lock: $(PIP_TOOLS)/pip-compile
	$(PIP_COMPILE) $(LOCK_FLAGS) -o requirements/main.txt pyproject.toml
	$(PIP_COMPILE) $(LOCK_FLAGS) --extra test --build-deps-for editable -c requirements/main.txt \
		-o requirements/dev.txt pyproject.toml

upgrade:
	$(MAKE) lock LOCK_FLAGS=--upgrade
	$(MAKE) test

clean:
	rm -rf $(VENV) podium.db podium.db-wal podium.db-shm artifacts
