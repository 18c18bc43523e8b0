# `make run`: Podium on SQLite with demo data. `make test`: the whole suite on SQLite and PostgreSQL.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install bench schema clean

$(BIN)/podium: pyproject.toml tests/thirdparty/podium-logbook/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# The third-party plugin the tests discover through its entry point, installed like a vendor's package.
	$(BIN)/pip install --quiet -e tests/thirdparty/podium-logbook
	@touch $@

install: $(BIN)/podium

run: install
	$(BIN)/podium serve --demo

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python bench/sessions_page.py

schema: install
	$(BIN)/podium export-schema

clean:
	rm -rf $(VENV) podium.db podium.db-wal podium.db-shm
