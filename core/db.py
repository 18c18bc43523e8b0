"""Engines, sessions and the one way to make a change: `changing(db)`."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .events import EventBus, take_pending_events

WRITE_OPTION = "podium_write"
HELD = "podium_held_transaction"  # db.info flag: one transaction spans several changes (see changing_as_one)


def is_sqlite(engine_or_url) -> bool:
    url = getattr(engine_or_url, "url", engine_or_url)
    return str(url).startswith("sqlite")


def create_engine(url: str, **kwargs) -> AsyncEngine:
    """An engine with SQLite set up for concurrent writers: WAL, foreign keys, BEGIN IMMEDIATE."""
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 60})
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 8)
        kwargs.setdefault("pool_timeout", 120)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("pool_timeout", 120)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn):
        # Writers take the write lock up front, so check-then-write never races (rule 1, 2).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def create_sessionmaker(engine: AsyncEngine, bus: EventBus | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry the event bus, so committed changes reach live subscribers."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info={"bus": bus})


@asynccontextmanager
async def changing(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction: serialized on SQLite, committed at the end, rolled back on any error.

    Ends whatever read transaction the session had open, so checks see the latest commit;
    services load what they check with `populate_existing` or a row lock. Inside
    `changing_as_one` it is a savepoint of the held transaction instead.
    """
    if db.info.get(HELD):
        async with _savepoint(db):
            yield db
        return
    if db.in_transaction():
        await db.commit()  # only reads happened; committing keeps loaded objects usable
    take_pending_events(db)
    try:
        await db.connection(execution_options={WRITE_OPTION: True})
        yield db
        await db.commit()
    except BaseException:
        await db.rollback()
        take_pending_events(db)
        raise
    bus = db.info.get("bus")
    events = take_pending_events(db)
    if bus is not None and events:
        bus.publish(events)


@asynccontextmanager
async def changing_as_one(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction around several changes (an idempotent request stores its answer with
    them): each `changing` inside is a savepoint, so a refused change still undoes only itself."""
    async with changing(db):
        db.info[HELD] = True
        try:
            yield db
        finally:
            db.info.pop(HELD, None)


@asynccontextmanager
async def _savepoint(db: AsyncSession) -> AsyncIterator[None]:
    """A refused change inside a held transaction takes its own events back with it."""
    pending = db.info.setdefault("pending_events", [])
    before = len(pending)
    try:
        async with db.begin_nested():
            yield
    except BaseException:
        del db.info.setdefault("pending_events", [])[before:]
        raise


async def end_reads(db: AsyncSession) -> None:
    """Hold no read transaction open while an outside system answers (unless one is held on purpose)."""
    if db.in_transaction() and not db.info.get(HELD):
        await db.commit()
