"""The per-request context: one database session, the DataLoaders, the caller, the plugin manager."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from podium.core.events import EventBus

from .access.callers import ANONYMOUS, Caller
from .loaders import Loaders


class RequestFinished(Exception):
    """A loader outlived its request (its answer was already sent); what it would read is not needed."""


class Context:
    """Resolvers reach the database only through `reading()` or `changing()`: loaders of one request
    run concurrently and one AsyncSession must not be used by two of them at once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus | None = None, *,
                 caller: Caller = ANONYMOUS, request: Any = None, response: Any = None,
                 plugins: Any = None) -> None:
        self.sessions = sessions
        self.bus = bus
        self.caller = caller
        self.request = request
        self.response = response
        self.plugins = plugins  # the plugin manager (issue 4); None until the kernel lands
        self.request_id = uuid.uuid4().hex[:16]
        self.connection_params: dict[str, Any] | None = None
        self.signed_in_with: Callable[[AsyncSession], Awaitable[Caller]] | None = None  # re-reads the caller's token
        self.db: AsyncSession = sessions()
        self.lock = asyncio.Lock()
        self.closed = False
        self.loaders = Loaders(self)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self.lock:
            if self.closed:
                raise RequestFinished
            yield self.db

    @asynccontextmanager
    async def changing(self) -> AsyncIterator[AsyncSession]:
        """One write transaction (core.db.changing) on the request's session; loaders start afresh after it."""
        from podium.core.db import changing

        async with self.lock:
            try:
                async with changing(self.db):
                    yield self.db
            finally:
                self.loaders = Loaders(self)

    async def recheck_caller(self) -> None:
        """A WebSocket outlives its token: before each push, a revoked token makes the caller anonymous."""
        if self.signed_in_with is not None:
            async with self.reading() as db:
                self.caller = await self.signed_in_with(db)

    async def release(self) -> None:
        """Give the connection back to the pool and forget what was loaded: a WebSocket context lives
        as long as its connection and must not hold a transaction (or stale data) between pushes."""
        async with self.lock:
            await self.db.close()  # an AsyncSession is usable again after close()
            self.loaders = Loaders(self)

    async def close(self) -> None:
        """The request is answered. A field that failed may have nulled the answer while sibling loaders
        still run (graphql-core does not cancel them): wait for the one reading, refuse the rest."""
        async with self.lock:
            self.closed = True
            await self.db.close()
