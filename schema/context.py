"""The per-request context: one database session, the DataLoaders, the caller, the plugin manager."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from podium.core.events import EventBus

from .access.callers import ANONYMOUS, Caller, Unauthenticated
from .loaders import Loaders

REQUEST_ID_KEY = "podium.request_id"
"""Where the HTTP layer leaves the request's id in the ASGI scope (the X-Request-ID every response carries)."""


class RequestFinished(Exception):
    """A loader outlived its request (its answer was already sent); what it would read is not needed."""


class Context:
    """Resolvers reach the database only through `reading()` or `changing()`: loaders of one request
    run concurrently and one AsyncSession must not be used by two of them at once."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: EventBus | None = None, *,
                 caller: Caller = ANONYMOUS, request: Any = None, response: Any = None,
                 plugins: Any = None, introspection: bool = True, cost_limits: Any = None,
                 throttle: Any = None) -> None:
        self.sessions = sessions
        self.bus = bus
        self.caller = caller
        self.request = request
        self.response = response
        self.plugins = plugins  # the plugin manager (issue 4); None until the kernel lands
        self.introspection = introspection  # PODIUM_INTROSPECTION: off hides the schema (limits.py)
        self.cost_limits = cost_limits  # limits.CostLimits; None: the defaults
        self.throttle = throttle  # throttle.Throttle; None: no rate limit
        self.rate_key = "ip:unknown"  # whose points a request spends: its token's, or its client IP's
        self.heavy_turns: asyncio.Semaphore | None = None  # the process's turns for heavy operations (limits.py)
        scope = getattr(request, "scope", None) or {}
        self.request_id: str = scope.get(REQUEST_ID_KEY) or uuid.uuid4().hex[:16]
        self.connection_params: dict[str, Any] | None = None
        # Re-reads the caller's token: its Caller, or None once it is revoked or expired.
        self.signed_in_with: Callable[[], Awaitable[Caller | None]] | None = None
        self._db: AsyncSession | None = None
        self.lock = asyncio.Lock()
        self.closed = False
        self.loaders = Loaders(self)

    @property
    def db(self) -> AsyncSession:
        """The request's session, made when first asked for: a request that reads nothing (an enrol
        written by another request's batch) never takes a connection."""
        if self._db is None:
            self._db = self.sessions()
        return self._db

    @property
    def open_db(self) -> AsyncSession | None:
        """The request's session if one was made, without making one."""
        return self._db

    @property
    def engine(self) -> AsyncEngine:
        return self.sessions.kw["bind"]

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

    @asynccontextmanager
    async def changing_as_one(self) -> AsyncIterator[AsyncSession]:
        """The whole operation as one write transaction (core.db.changing_as_one), for an idempotent
        request. Its start and its end take the lock: a loader may outlive a failed sibling field."""
        from podium.core.db import changing_as_one

        held = changing_as_one(self.db)
        async with self.lock:
            await held.__aenter__()
        try:
            yield self.db
        except BaseException as error:
            async with self.lock:
                await held.__aexit__(type(error), error, error.__traceback__)
            raise
        else:
            async with self.lock:
                await held.__aexit__(None, None, None)
        finally:
            self.loaders = Loaders(self)

    async def recheck_caller(self) -> None:
        """A WebSocket outlives its token: before each push, a revoked or expired token raises
        Unauthenticated (the subscription ends), as the same token over HTTP is answered 401."""
        if self.signed_in_with is not None:
            caller = await self.signed_in_with()
            if caller is None:
                raise Unauthenticated("The bearer token is unknown, revoked or expired.")
            self.caller = caller

    async def release(self) -> None:
        """Give the connection back to the pool and forget what was loaded: a WebSocket context lives
        as long as its connection and must not hold a transaction (or stale data) between pushes."""
        async with self.lock:
            if self._db is not None:
                await self._db.close()  # an AsyncSession is usable again after close()
            self.loaders = Loaders(self)

    async def close(self) -> None:
        """The request is answered. A field that failed may have nulled the answer while sibling loaders
        still run (graphql-core does not cancel them): wait for the one reading, refuse the rest."""
        async with self.lock:
            self.closed = True
            if self._db is not None:
                await self._db.close()
