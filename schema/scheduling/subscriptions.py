"""sessionChanged: the session again whenever it or its enrolments change (committed events on the bus)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.events import RESYNC
from podium.core.ids import to_global_id

from ..access.callers import Unauthenticated
from ..errors import ClientError
from ..relay import decode_id
from .types import Session

QUEUE_LIMIT = 100


@strawberry.type
class SessionSubscriptions:
    @strawberry.subscription(description="The session whenever it or its enrolments change "
                                         "(seat counts, status, times, meeting).")
    async def session_changed(self, info: Info, session_id: strawberry.ID) -> AsyncGenerator[Session, None]:
        context = info.context
        try:
            pk = decode_id(session_id, "Session", "sessionId")
        except DomainError as error:
            raise ClientError(error.message, ErrorCode.NOT_FOUND) from None
        exists = await context.loaders.sessions.load(pk) is not None
        await context.release()
        if not exists:
            raise ClientError("No session with that id.", ErrorCode.NOT_FOUND)
        wanted, changed = to_global_id("Session", pk), asyncio.Event()

        def listen(event) -> None:
            if event.payload.get("session") == wanted or event.type == RESYNC:  # RESYNC: events may be lost
                changed.set()

        unsubscribe = context.bus.subscribe(listen)
        try:
            while True:
                await changed.wait()
                changed.clear()  # several events of one change (or a burst) give one push of the latest state
                try:
                    await context.recheck_caller()
                except Unauthenticated as error:  # revoked or expired: the subscription ends, as HTTP says 401
                    raise ClientError(str(error), ErrorCode.UNAUTHENTICATED) from None
                session = await context.loaders.sessions.load(pk)
                if session is not None:
                    yield session
                await context.release()
        finally:
            unsubscribe()
