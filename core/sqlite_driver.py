"""One thread hand-over per SQL statement on SQLite.

aiosqlite runs every call on its connection's own thread. SQLAlchemy's adapter makes four such calls
per statement (open a cursor, execute, fetch the rows, close it), and on a busy machine each hand-over
between the event loop and that thread cost more than the statement itself: a rush spent most of its
write lock's time in them. This adapter does the four in one call; results, errors and the rest of
SQLAlchemy's aiosqlite dialect are unchanged.

It relies on aiosqlite's `Connection._execute(fn, *args)` (run `fn` on the connection's thread) and
`Connection._conn` (the sqlite3 connection there); `dbapi()` returns None when they are missing, and
the engine then uses the stock adapter.
"""
from __future__ import annotations

import sqlite3
from collections import deque
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor, AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple:
    """On the connection's thread: the whole statement, and everything SQLAlchemy reads of its cursor."""
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
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_run, self._connection._conn, operation, parameters, many)
        cursor = self._cursor
        cursor.description, cursor.rowcount, cursor.lastrowid, rows = outcome
        if cursor.description:
            self._rows = deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        return OneHopConnection(self, super().connect(*arg, **kw)._connection)


def dbapi() -> OneHopDBAPI | None:
    """The adapter for `create_async_engine(module=...)`, or None where aiosqlite lacks what it uses."""
    if not callable(getattr(aiosqlite.Connection, "_execute", None)) or \
            not isinstance(getattr(aiosqlite.Connection, "_conn", None), property):
        return None
    return OneHopDBAPI(aiosqlite, sqlite3)
