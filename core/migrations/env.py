"""Alembic environment: the async engine from the configured URL, models as the target."""
from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import TypeDecorator
from sqlalchemy.ext.asyncio import create_async_engine

from podium.core.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to):
    # The PostgreSQL-only exclusion constraint and btree_gist are managed by hand in 0001.
    return not (type_ == "table" and reflected and compare_to is None and name == "alembic_version")


def render_item(type_, obj, autogen_context):
    """Migrations stand alone: a model's own column type (UTCDateTime) is written as the type it stores,
    so a later change to the model's Python never rewrites history."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      include_object=include_object, compare_type=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


async def run_async() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    asyncio.run(run_async())
