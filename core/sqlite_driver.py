"""Few thread hand-overs per transaction on SQLite.

aiosqlite runs every call on its connection's own thread. SQLAlchemy's adapter makes four such calls
per statement (open a cursor, execute, fetch the rows, close it), and each hand-over between the event
loop and that thread costs more than a short statement itself; worse, a write transaction holds
SQLite's write lock across every hand-over, and each one waits its turn in the event loop behind the
other requests' work, so a rush spent most of the write lock's time in them. This adapter

- does the four in one call, and sends a transaction's BEGIN with its first statement;
- runs a write transaction on the event loop's thread itself, as a plain sqlite3 program would, once it
  holds the write lock: `BEGIN IMMEDIATE` is tried there without waiting (and only when another process
  holds the lock does it wait on the connection's thread, with the busy timeout), then its statements
  run there (WAL: readers never block the writer, so they wait for nothing but their own work). Its
  commit, with the fsync, goes to the connection's thread: other requests run meanwhile. A transaction
  whose statements pass `INLINE_BUDGET_SECONDS` hands the rest over to the connection's thread too, so
  a long write does not hold the event loop;
- runs a statement marked `execution_options(podium_inline=True)` (a cheap read, such as the token
  lookup by its unique hash) there too.

Results, errors and the rest of SQLAlchemy's aiosqlite dialect are unchanged. It relies on aiosqlite's
`Connection._execute(fn, *args)` (run `fn` on the connection's thread) and `Connection._conn` (the
sqlite3 connection there); `dbapi()` returns None when they are missing, and the engine then uses the
stock adapter.
"""
from __future__ import annotations

import sqlite3
import time
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor, AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

INLINE_BUDGET_SECONDS = 0.01
"""Statements of one write transaction run on the event loop's thread until they have taken this long."""
BUSY_TIMEOUT_MS = 60_000  # as core/db.py sets it on every connection


def _run(connection: sqlite3.Connection, begin: str | None, operation: str, parameters: Any, many: bool) -> tuple:
    """The whole statement (after the transaction's BEGIN, if it is the first), and everything SQLAlchemy
    reads of its cursor."""
    if begin is not None:
        connection.execute(begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else ()
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _Outcome:
    """Stands where aiosqlite's cursor stood: what SQLAlchemy reads after a statement ran."""

    __slots__ = ("description", "rowcount", "lastrowid", "arraysize")

    def __init__(self) -> None:
        self.description, self.rowcount, self.lastrowid, self.arraysize = None, -1, None, 1

    def close(self) -> None:
        """Nothing to close: the real cursor was closed on the connection's thread."""


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()
    _awaitable_cursor_close = False

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:  # no cursor opened here
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._hand_over(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._hand_over(operation, seq_of_parameters, True)

    async def _hand_over(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt: OneHopConnection = self._adapt_connection  # type: ignore[assignment]
        async with adapt._execute_mutex:
            inline, adapt.inline_next = adapt.inline_left > 0 or adapt.inline_next, False
            if inline and adapt.begin is not None:
                inline = adapt.begin_here()
            if inline:
                started = time.perf_counter()
                try:
                    outcome = _run(self._connection._conn, None, operation, parameters, many)
                finally:
                    if adapt.inline_left > 0:
                        adapt.inline_left -= time.perf_counter() - started
            else:
                begin, adapt.begin, adapt.hopped = adapt.begin, None, True
                outcome = await self._connection._execute(_run, self._connection._conn, begin, operation,
                                                          parameters, many)
                if begin is not None and adapt.write:
                    adapt.inline_left = INLINE_BUDGET_SECONDS  # BEGIN IMMEDIATE went through: the lock is ours
        cursor = self._cursor
        cursor.description, cursor.rowcount, cursor.lastrowid, rows = outcome
        if cursor.description:
            self._rows = deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("begin", "write", "inline_left", "inline_next", "changes", "hopped")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.begin: str | None = None  # BEGIN of a transaction that has run no statement yet
        self.write = False  # the transaction began with BEGIN IMMEDIATE
        self.inline_left = 0.0  # seconds its statements may still take on the event loop's thread
        self.inline_next = False  # the next statement is marked INLINE_OPTION
        self.changes = 0  # sqlite3's total_changes when the transaction began
        self.hopped = False  # a statement of the transaction went to the connection's thread

    def begin_with(self, statement: str, write: bool) -> None:
        """Start a transaction with its first statement (`statement` is BEGIN or BEGIN IMMEDIATE)."""
        self.begin, self.write, self.inline_left, self.hopped = statement, write, 0.0, False
        raw = self._connection._connection
        self.changes = raw.total_changes if raw is not None else 0

    def begin_here(self) -> bool:
        """BEGIN on the event loop's thread; False (and BEGIN still to send) when the write lock is held
        by another process, so that the wait for it happens on the connection's thread."""
        conn = self._connection._conn
        if not self.write:  # a deferred BEGIN takes no lock
            conn.execute(self.begin)
            self.begin = None
            return True
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute(self.begin)
        except sqlite3.OperationalError as error:
            if getattr(error, "sqlite_errorcode", sqlite3.SQLITE_BUSY) != sqlite3.SQLITE_BUSY:
                raise
            return False
        finally:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self.begin, self.inline_left = None, INLINE_BUDGET_SECONDS
        return True

    def commit(self) -> None:
        self._end("commit")

    def rollback(self) -> None:
        self._end("rollback")

    def _end(self, how: str) -> None:
        """Commit or roll back: nothing when no transaction reached the database (a BEGIN never sent, the
        pool's rollback at check-in); on the event loop's thread when every statement ran there and it
        only read, or to roll back a write that ran there; else (a write's commit and its fsync, or after
        any statement on the connection's thread, which may still be running one a time-out gave up on)
        on the connection's thread, in turn."""
        raw = self._connection._connection
        began = self.begin is None and raw is not None and raw.in_transaction
        here = (not self.write and not self.hopped and raw is not None and raw.total_changes == self.changes) \
            or (self.inline_left > 0 and how == "rollback")
        self.begin, self.write, self.inline_left, self.inline_next, self.hopped = None, False, 0.0, False, False
        if not began:
            return
        if here:
            try:
                getattr(raw, how)()
            except Exception as error:
                self._handle_exception(error)
        else:
            getattr(super(), how)()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        # The loop's thread runs a write transaction's statements on the connection aiosqlite opened on
        # its own thread; one statement at a time either way (the adapter's mutex, one caller per connection).
        kw["check_same_thread"] = False
        return OneHopConnection(self, super().connect(*arg, **kw)._connection)


def dbapi() -> OneHopDBAPI | None:
    """The adapter for `create_async_engine(module=...)`, or None where aiosqlite lacks what it uses."""
    if not callable(getattr(aiosqlite.Connection, "_execute", None)) or \
            not isinstance(getattr(aiosqlite.Connection, "_conn", None), property):
        return None
    return OneHopDBAPI(aiosqlite, sqlite3)
