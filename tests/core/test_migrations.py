"""Migrations are the only way the schema is made: they run from empty and match the models."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from podium.core.db import create_engine
from podium.core.migrate import alembic_config
from podium.core.models import Base
from tests.conftest import pg_admin, pg_database_url

PODIUM = [sys.executable, "-m", "podium.server.cli"]


def test_db_upgrade_from_empty_and_again(database_url, tmp_path):
    """`podium db upgrade` on a database that already has the schema is a no-op."""
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url}
    for _ in range(2):
        done = subprocess.run([*PODIUM, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_db_upgrade_creates_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run([*PODIUM, "db", "upgrade"], env={**os.environ, "PODIUM_DATABASE_URL": url}, cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0

    async def tables():
        engine = create_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        return set(names)

    assert set(Base.metadata.tables) <= asyncio.run(tables())


def test_podium_db_upgrade_builds_an_empty_postgresql_database(template_databases, tmp_path):
    """The installed `podium` command, on a database nothing else has touched: tables and rule 2's constraint."""
    if "postgresql" not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    name = f"podium_empty_{uuid.uuid4().hex[:10]}"
    url = pg_database_url(name)
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("podium")), "db", "upgrade"],
                              env={**os.environ, "PODIUM_DATABASE_URL": url}, cwd=tmp_path, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr

        async def schema():
            engine = create_engine(url)
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
                constraint = await conn.scalar(text(
                    "SELECT contype::text FROM pg_constraint WHERE conname = 'booking_no_overlap'"))
            await engine.dispose()
            return set(tables), constraint

        tables, constraint = asyncio.run(schema())
        assert set(Base.metadata.tables) <= tables
        assert constraint == "x", "booking_no_overlap is an exclusion constraint"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_autogenerate_finds_no_difference(database_url):
    engine = create_engine(database_url)

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database(request, template_databases, tmp_path):
    """An empty database of each backend that only this test uses (it drops every table)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'round-trip.db'}"
        return
    if "postgresql" not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    name = f"podium_trip_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _tables_and_differences(url: str) -> tuple[set[str], list]:
    async def look():
        engine = create_engine(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            differences = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
        await engine.dispose()
        return tables, differences

    return asyncio.run(look())


def test_every_migration_goes_down_and_up_again(own_database):
    """Upgrade to head, downgrade to base (every downgrade runs), upgrade again: the same schema."""
    config = alembic_config(own_database)
    command.upgrade(config, "head")
    tables, differences = _tables_and_differences(own_database)
    assert set(Base.metadata.tables) <= tables and differences == []
    command.downgrade(config, "base")
    assert _tables_and_differences(own_database)[0] <= {"alembic_version"}
    command.upgrade(config, "head")
    tables, differences = _tables_and_differences(own_database)
    assert set(Base.metadata.tables) <= tables and differences == []


def test_migrations_define_their_own_column_types():
    """A migration is history: it may not import the live models, whose types can change later."""
    versions = (Path(__file__).parents[2] / "core" / "migrations" / "versions").glob("*.py")
    assert [v.name for v in versions if re.search(r"^\s*(from|import) podium\b", v.read_text(), re.M)] == []
