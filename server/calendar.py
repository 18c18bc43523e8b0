"""GET /calendar/<feed token>.ics (a person's or a room's feed) and GET /calendar/sessions/<id>.ics
(one session, public): iCalendar over plain HTTP, since calendar apps send no bearer token."""
from __future__ import annotations

import logging
import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from podium.core.ids import from_global_id
from podium.core.services.calendar_feeds import feed_calendar, session_calendar

log = logging.getLogger("podium.calendar")
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _calendar(body: bytes, filename: str) -> Response:
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, max-age=300"})


def _not_found(what: str) -> Response:
    return PlainTextResponse(f"No such {what}.", status_code=404)


async def _read(request: Request, read) -> bytes | None | Response:
    state = request.app.state.podium
    try:
        async with state.sessions() as db:
            return await read(db, state.settings.organizer_email)
    except Exception:  # the database is down: say so, never 500
        log.exception("calendar read failed")
        return PlainTextResponse("The service is unavailable, try again.", status_code=503)


async def calendar_feed(request: Request) -> Response:
    """Unknown and reset tokens alike are 404: an address either is a feed or names nothing."""
    token = request.path_params["token"]
    if not TOKEN.fullmatch(token):
        return _not_found("calendar feed")
    body = await _read(request, lambda db, organizer: feed_calendar(db, token, organizer))
    if isinstance(body, Response):
        return body
    return _not_found("calendar feed") if body is None else _calendar(body, "podium.ics")


async def session_ics(request: Request) -> Response:
    decoded = from_global_id(request.path_params["session"])
    if decoded is None or decoded[0] != "Session":
        return _not_found("session")
    body = await _read(request, lambda db, organizer: session_calendar(db, decoded[1], organizer))
    if isinstance(body, Response):
        return body
    return _not_found("session") if body is None else _calendar(body, f"session-{decoded[1]}.ics")


ROUTES = [Route("/calendar/sessions/{session:path}.ics", session_ics), Route("/calendar/{token}.ics", calendar_feed)]
