"""Alembic, driven from code: migrations are the only way the schema is created."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`; safe to run again. Not to be called inside a running event loop."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str:
    """The revision this code's migrations end at."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {script.revision for script in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()}


async def schema_revision(connection) -> str | None:
    """The revision a database is at (an AsyncConnection); None when it was never migrated."""
    from sqlalchemy import inspect, text

    if not await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
        return None
    return await connection.scalar(text("SELECT version_num FROM alembic_version"))


def schema_problem(revision: str | None, head: str) -> str | None:
    """Why a database at `revision` cannot be served by this code (at `head`), or None."""
    if revision == head:
        return None
    if revision is None or revision in known_revisions():
        return f"the database schema is at {revision or 'no revision'}, behind {head}: run `podium db upgrade`"
    return f"the database schema is at {revision}, which this Podium does not know (a newer version migrated it)"
