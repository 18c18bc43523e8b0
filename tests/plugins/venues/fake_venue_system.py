"""A fake room-booking system: a paged JSON venue feed behind a bearer token, and one iCalendar feed
per room (what Exchange, Google and most room-booking systems publish)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

FEED_TOKEN = "feed-token-123"

LONDON_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/London
BEGIN:DAYLIGHT
TZOFFSETFROM:+0000
TZOFFSETTO:+0100
TZNAME:BST
DTSTART:19700329T010000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0100
TZOFFSETTO:+0000
TZNAME:GMT
DTSTART:19701025T020000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE"""


def local(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def calendar(*events: str) -> str:
    """A VCALENDAR as Exchange publishes it: CRLF lines, a VTIMEZONE, TZID-qualified times."""
    body = "\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Fake Rooms//Room calendar//EN",
                      "METHOD:PUBLISH", LONDON_VTIMEZONE, *events, "END:VCALENDAR"])
    return body.replace("\n", "\r\n") + "\r\n"


def event(uid: str, start: datetime, minutes: int, summary: str = "Busy", *extra: str) -> str:
    """One VEVENT; `start` is London wall-clock time (naive)."""
    return "\n".join(["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
                      f"DTSTART;TZID=Europe/London:{local(start)}",
                      f"DTEND;TZID=Europe/London:{local(start + timedelta(minutes=minutes))}",
                      f"SUMMARY:{summary}", *extra, "END:VEVENT"])


@dataclass
class FakeVenueSystem:
    venues: list[dict[str, Any]] = field(default_factory=list)
    calendars: dict[str, str] = field(default_factory=dict)        # room key -> iCalendar text
    page_size: int = 2
    fail_with: int | None = None
    url: str = ""
    calendar_reads: int = 0

    def calendar_url(self, room_key: str) -> str:
        return f"{self.url}/calendars/{room_key}.ics"

    async def feed(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {FEED_TOKEN}":
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if self.fail_with:
            return JSONResponse({"error": "unavailable"}, status_code=self.fail_with)
        page = int(request.query_params.get("page", "1"))
        start = (page - 1) * self.page_size
        body: dict[str, Any] = {"venues": self.venues[start:start + self.page_size]}
        headers = {}
        if start + self.page_size < len(self.venues):
            following = f"/api/v1/venues?page={page + 1}"
            if page % 2:                      # odd pages say so in the body, even pages in a Link header
                body["next"] = following
            else:
                headers["Link"] = f'<{following}>; rel="next"'
        return JSONResponse(body, headers=headers)

    async def room_calendar(self, request: Request) -> Response:
        self.calendar_reads += 1
        text = self.calendars.get(request.path_params["room"])
        if text is None:
            return Response("Not found", status_code=404)
        return Response(text, media_type="text/calendar; charset=utf-8")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/api/v1/venues", self.feed),
                                 Route("/calendars/{room}.ics", self.room_calendar)])
