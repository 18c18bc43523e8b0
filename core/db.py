"""Engines, sessions and the one way to make a change: `changing(db)`."""
from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .events import EventBus, take_pending_events

WRITE_OPTION = "podium_write"


def is_sqlite(engine_or_url) -> bool:
    url = getattr(engine_or_url, "url", engine_or_url)
    return str(url).startswith("sqlite")


def create_engine(url: str, statement_timeout: float = 0, **kwargs) -> AsyncEngine:
    """An engine with SQLite set up for concurrent writers: WAL, foreign keys, BEGIN IMMEDIATE.
    `statement_timeout` (seconds, 0 none) stops any one SQL statement that runs longer."""
    if is_sqlite(url):
        kwargs.setdefault("connect_args", {"timeout": 60})
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 8)
        kwargs.setdefault("pool_timeout", 120)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        if statement_timeout:
            _stop_slow_sqlite_statements(engine, statement_timeout)
        return engine
    if statement_timeout:
        kwargs.setdefault("connect_args", {"server_settings": {"statement_timeout": str(int(statement_timeout * 1000))}})
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


class _StatementClock:
    """SQLite has no statement timeout: a progress handler asks this clock every few thousand steps
    and interrupts the statement (sqlite3.OperationalError "interrupted") once it has run too long."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.deadline = seconds, float("inf")

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def expired(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0


def _stop_slow_sqlite_statements(engine: AsyncEngine, seconds: float) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, record):
        clock = record.info["statement_clock"] = _StatementClock(seconds)
        dbapi_connection.run_async(lambda driver: driver.set_progress_handler(clock.expired, 10_000))

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def on_statement(conn, cursor, statement, parameters, context, executemany):
        clock = conn.connection.info.get("statement_clock")
        if clock is not None:
            clock.start()


def create_sessionmaker(engine: AsyncEngine, bus: EventBus | None = None) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry the event bus, so committed changes reach live subscribers."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info={"bus": bus})


@asynccontextmanager
async def changing(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction: serialized on SQLite, committed at the end, rolled back on any error.

    Ends whatever read transaction the session had open, so checks see the latest commit;
    services load what they check with `populate_existing` or a row lock.
    """
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
