# `make run`: Podium on SQLite with demo data. `make test`: the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install bench schema clean graphiql
GRAPHIQL := server/graphiql

$(BIN)/podium: pyproject.toml tests/thirdparty/podium-logbook/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# The third-party plugin the tests discover through its entry point, installed like a vendor's package.
	$(BIN)/pip install --quiet -e tests/thirdparty/podium-logbook
	@touch $@

install: $(BIN)/podium graphiql

# GraphiQL and React from the npm registry, at the versions and integrity hashes of the committed lock;
# Podium serves them at /graphql/static/. Without npm, GET /graphql says how to install them.
graphiql: $(GRAPHIQL)/node_modules/.package-lock.json

$(GRAPHIQL)/node_modules/.package-lock.json: $(GRAPHIQL)/package-lock.json
	@if command -v npm >/dev/null; then npm ci --prefix $(GRAPHIQL) --ignore-scripts --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: GraphiQL's assets are not installed (the API works without them)"; fi

run: install
	$(BIN)/podium serve --demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/sessions_page.py

schema: install
	$(BIN)/podium export-schema

clean:
	rm -rf $(VENV) podium.db podium.db-wal podium.db-shm $(GRAPHIQL)/node_modules artifacts
