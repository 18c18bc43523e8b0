"""Engines, sessions and the one way to make a change: `changing(db)`."""
from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from functools import lru_cache

from sqlalchemy import Table, TextClause, bindparam, event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from .events import EventBus, take_pending_events
from .settings import SQLITE_SYNCHRONOUS

WRITE_OPTION = "podium_write"
INLINE_OPTION = "podium_inline"
"""`execution_options(podium_inline=True)`: a statement cheap enough (an indexed lookup of a row or a few)
to run on the event loop's thread on SQLite rather than be handed to the connection's (sqlite_driver.py)."""
HELD = "podium_held_transaction"  # db.info flag: one transaction spans several changes (see changing_as_one)
WRITE_WAIT_SECONDS = 60  # as long as SQLite's busy_timeout: then "database is locked", as before the gate


def is_sqlite(engine_or_url) -> bool:
    dialect = getattr(engine_or_url, "dialect", None)
    if dialect is not None:  # an engine or a connection: no URL to render
        return dialect.name == "sqlite"
    url = getattr(engine_or_url, "url", engine_or_url)
    return str(url).startswith("sqlite")


def create_engine(url: str, *, synchronous: str = "FULL", statement_timeout: float = 0, **kwargs) -> AsyncEngine:
    """An engine with SQLite set up for concurrent writers: WAL, foreign keys, BEGIN IMMEDIATE, and
    `synchronous=FULL` unless told otherwise, so an acknowledged commit survives a power loss.
    `statement_timeout` (seconds, 0 none) stops any one SQL statement that runs longer."""
    if is_sqlite(url):
        if str(url).startswith("sqlite+aiosqlite"):
            from .sqlite_driver import dbapi

            one_hop = dbapi()
            if one_hop is not None:
                kwargs.setdefault("module", one_hop)
        kwargs.setdefault("connect_args", {"timeout": 60})
        kwargs.setdefault("pool_size", 8)
        kwargs.setdefault("max_overflow", 8)
        kwargs.setdefault("pool_timeout", 120)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine, synchronous.upper())
        if statement_timeout:
            _stop_slow_sqlite_statements(engine, statement_timeout)
        return engine
    if statement_timeout:
        milliseconds = str(int(statement_timeout * 1000))
        kwargs.setdefault("connect_args", {"server_settings": {"statement_timeout": milliseconds}})
    kwargs.setdefault("pool_size", 30)  # all kept open once made: overflow connections, closed at check-in,
    kwargs.setdefault("max_overflow", 0)  # were opened and closed by the hundred in a rush (a backend each)
    kwargs.setdefault("pool_timeout", 120)
    return create_async_engine(url, **kwargs)


def _configure_sqlite(engine: AsyncEngine, synchronous: str) -> None:
    if synchronous not in SQLITE_SYNCHRONOUS:  # it goes into a PRAGMA: only the known words
        raise ValueError(f"SQLite synchronous is one of {', '.join(SQLITE_SYNCHRONOUS)}, not {synchronous!r}")

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn):
        # Writers take the write lock up front, so check-then-write never races (rule 1, 2).
        write = bool(conn.get_execution_options().get(WRITE_OPTION))
        statement = "BEGIN IMMEDIATE" if write else "BEGIN"
        adapted = conn.connection.dbapi_connection
        if hasattr(adapted, "begin_with"):  # sqlite_driver: sent with the transaction's first statement
            adapted.begin_with(statement, write)
        else:
            conn.exec_driver_sql(statement)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def on_statement(conn, cursor, statement, parameters, context, executemany):
        if context is not None and context.execution_options.get(INLINE_OPTION):
            adapted = conn.connection.dbapi_connection
            if hasattr(adapted, "inline_next"):
                adapted.inline_next = True


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


_write_gates: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _write_turn(engine: AsyncEngine | None) -> AsyncIterator[None]:
    """On SQLite, a process's writers queue here in arrival order before BEGIN IMMEDIATE: SQLite's own
    busy handler makes a waiting writer sleep and poll (up to 100 ms a nap), so under a rush most of
    the time went to naps while the lock stood free. Other processes still meet the busy handler."""
    if engine is None or not is_sqlite(engine):
        yield
        return
    loop = asyncio.get_running_loop()
    gate = _write_gates.get(engine.sync_engine)
    if gate is None or gate[0] is not loop:  # an asyncio.Lock belongs to one event loop
        gate = _write_gates[engine.sync_engine] = (loop, asyncio.Lock())
    lock = gate[1]
    try:
        await asyncio.wait_for(lock.acquire(), WRITE_WAIT_SECONDS)
    except TimeoutError:
        raise sqlite3.OperationalError("database is locked") from None  # what the busy handler would say
    try:
        yield
    finally:
        lock.release()


@asynccontextmanager
async def changing(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """One write transaction: serialized on SQLite, committed at the end, rolled back on any error.

    On SQLite it ends whatever read transaction the session had open, so checks see the latest
    commit (a read transaction there is a snapshot, and cannot take the write lock). On PostgreSQL
    (READ COMMITTED: every statement reads the latest commit) an open read transaction simply goes
    on as the write transaction, without a COMMIT and a BEGIN in between. Either way services load
    what they check with `populate_existing` or a row lock. Inside `changing_as_one` it is a
    savepoint of the held transaction instead.
    """
    if db.info.get(HELD):
        async with _savepoint(db):
            yield db
        return
    sqlite = is_sqlite(db.bind)
    if sqlite and db.in_transaction():
        await db.commit()  # only reads happened; committing keeps loaded objects usable
    take_pending_events(db)
    async with _write_turn(db.bind):
        try:
            if sqlite or not db.in_transaction():
                await db.connection(execution_options={WRITE_OPTION: True})
            yield db
            await db.commit()
        except BaseException as error:
            await (db.invalidate() if is_unavailable(error) else db.rollback())  # invalidate: a connection to
            # a full, read-only or lost database is not reused, so service resumes by itself once it is fixed
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


@lru_cache(maxsize=64)
def _insert_into(table: Table):
    return insert(table)  # made once: its cache key is memoized on it


@lru_cache(maxsize=256)
def _inserts_as_one(shape: tuple[tuple[Table, tuple[str, ...], int], ...], quote: Callable[[str], str]) -> TextClause:
    """One INSERT of the last table's rows with the others' as data-modifying CTEs (PostgreSQL runs
    every one of them, exactly once, in the one statement), made once per shape (tables, columns and
    row counts). Written as text with typed parameters: SQLAlchemy does not cache the compiled form of
    a multi-row VALUES, and compiling it on every enrol cost more than the statement."""
    inserts, parameters = [], []
    for i, (table, columns, count) in enumerate(shape):
        rows = []
        for j in range(count):
            names = [f"t{i}_{j}_{c}" for c in columns]
            parameters += [bindparam(name, type_=table.c[c].type) for name, c in zip(names, columns)]
            rows.append("(" + ", ".join(f":{name}" for name in names) + ")")
        inserts.append(f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
                       f"VALUES {', '.join(rows)}")
    *first, last = inserts
    ctes = ", ".join(f"rows_{i} AS ({sql})" for i, sql in enumerate(first))
    return text(f"WITH {ctes} {last}" if first else last).bindparams(*parameters)


async def insert_rows(db: AsyncSession, tables: list[tuple[Table, list[dict]]]) -> None:
    """Insert rows (each with every value it needs, keys included; the rows of one table with the same
    keys) into their tables in the caller's transaction: on PostgreSQL in one statement, one round
    trip (enrolments, their audit rows and outbox rows inside the session's row lock); elsewhere one
    INSERT per table, its rows as one batch, in order."""
    tables = [(table, rows) for table, rows in tables if rows]
    if not tables:
        return
    if db.bind.dialect.name != "postgresql":
        for table, rows in tables:
            await db.execute(_insert_into(table), rows)
        return
    shape = tuple((table, tuple(rows[0]), len(rows)) for table, rows in tables)
    await db.execute(_inserts_as_one(shape, db.bind.dialect.identifier_preparer.quote),
                     {f"t{i}_{j}_{c}": v for i, (_, rows) in enumerate(tables)
                                              for j, values in enumerate(rows) for c, v in values.items()})


async def end_reads(db: AsyncSession) -> None:
    """Hold no read transaction open while an outside system answers (unless one is held on purpose)."""
    if db.in_transaction() and not db.info.get(HELD):
        await db.commit()


UNAVAILABLE_SQLITE = ("database or disk is full", "readonly database", "unable to open database",
                      "disk i/o error", "database is locked")
"""sqlite3 OperationalError messages that mean the storage, not the request, is at fault."""
UNAVAILABLE_SQLSTATES = ("08", "53", "57P", "58", "25006")
"""PostgreSQL SQLSTATEs of the same kind: connection lost, out of disk or memory, shutting down,
system error, read-only transaction (a standby or `default_transaction_read_only`)."""


def is_unavailable(error: BaseException | None) -> bool:
    """Whether a failure is the database being unreachable, full or read-only: worth a retry later
    (HTTP 503), not a fault of the request and not a bug."""
    from sqlalchemy import exc as sa_exc

    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (OSError, sa_exc.TimeoutError)):  # refused, reset, pool exhausted
            return True
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return True
        sqlstate = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
        if type(error).__module__ == "sqlite3" and type(error).__name__ == "OperationalError" \
                and any(text in str(error).lower() for text in UNAVAILABLE_SQLITE):
            return True
        if type(error).__module__.startswith("asyncpg") and "connection" in str(error).lower() \
                and "closed" in str(error).lower():
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


async def check_writable(engine: AsyncEngine) -> None:
    """Raise unless the database takes a write now: a table created in a write transaction, then rolled
    back (refused when the database is read-only, full or gone; nothing stays behind)."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(**{WRITE_OPTION: True})
        transaction = await conn.begin()
        try:
            temporary = "" if is_sqlite(engine) else "TEMPORARY "  # SQLite's temp tables live outside the file
            await conn.exec_driver_sql(f"CREATE {temporary}TABLE podium_write_probe (x INTEGER)")
        finally:
            await transaction.rollback()
