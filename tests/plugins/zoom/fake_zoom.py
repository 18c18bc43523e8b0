"""A fake Zoom: the real endpoints, Server-to-Server OAuth, next_page_token pagination and Zoom's error shapes.

`create_app` is served with tests.live_server.serve on 127.0.0.1. Tests steer it through `FakeZoom`
(an outage of 429/5xx, a create that is made but answered with an error or too late, expired tokens) and read what it saw.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


ACCOUNT_ID = "acct-123"
CLIENT_ID = "podium-client"
CLIENT_SECRET = "s3cret-value"
HOST_ID = "host-KdYKjnimT4KPd8FFgQt9FQ"


@dataclass
class FakeZoom:
    """The fake's state, shared with the test; every field is safe to set between requests."""

    url: str = ""                          # set once served
    token_lifetime: int = 3599
    max_page_size: int = 300               # Zoom's cap; tests lower it to see several pages
    outage_seconds: float = 0.0            # answer 429/5xx to the API for this long after `start_outage`
    outage_until: float = 0.0
    made_but_failed: int = 0               # the next N creates make the meeting, then answer 502
    refuse_creates: int = 0          # the next so many creates are refused (400, code 3000)
    made_but_late: int = 0                 # the next N creates make the meeting, then answer after `late_seconds`
    late_seconds: float = 0.0              # set it beyond the client's time-out
    meetings: dict[int, dict[str, Any]] = field(default_factory=dict)
    registrants: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    reports: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    oauth_rate_limited: int = 0            # the next N token requests are answered 429 with Retry-After
    tokens: dict[str, float] = field(default_factory=dict)
    token_requests: int = 0
    refused: int = 0                       # requests answered 429/5xx by the outage
    log: list[tuple[str, str]] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(81234567890))
    _outage_codes: Iterator[int] = field(default_factory=lambda: itertools.cycle([503, 429, 500, 502]))

    def start_outage(self, seconds: float) -> None:
        self.outage_seconds = seconds
        self.outage_until = time.monotonic() + seconds

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def registrant_statuses(self, meeting_id: int) -> dict[str, str]:
        """Email -> approved / cancelled / denied, for one meeting."""
        return {r["email"]: r["status"] for r in self.registrants.get(meeting_id, [])}

    def calls(self, method: str, prefix: str = "") -> list[str]:
        return [path for m, path in self.log if m == method and path.startswith(prefix)]


def _zoom_error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status)


def _page(request: Request, items: list[Any], key: str, cap: int, extra: dict[str, Any] | None = None) -> JSONResponse:
    try:
        size = min(max(int(request.query_params.get("page_size", 30)), 1), cap)
    except ValueError:
        return _zoom_error(400, 300, "Invalid field.")
    token = request.query_params.get("next_page_token") or ""
    start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    chunk = items[start:start + size]
    following = start + size
    next_token = base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(items) else ""
    return JSONResponse({"page_size": size, "total_records": len(items), "next_page_token": next_token,
                         key: chunk, **(extra or {})})


def _meeting_number(request: Request) -> int | None:
    try:
        return int(request.path_params["meeting_id"])
    except ValueError:
        return None


def create_app(zoom: FakeZoom) -> Starlette:
    async def oauth_token(request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode())) \
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded") else {}
        params = {**request.query_params, **form}
        auth = request.headers.get("authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if not secrets.compare_digest(auth, expected):
            return JSONResponse({"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                                status_code=401)
        if params.get("grant_type") != "account_credentials":
            return JSONResponse({"reason": "Unsupported grant type", "error": "unsupported_grant_type"},
                                status_code=400)
        if params.get("account_id") != ACCOUNT_ID:
            return JSONResponse({"reason": "Invalid account_id", "error": "invalid_request"}, status_code=400)
        zoom.token_requests += 1
        if zoom.oauth_rate_limited > 0:
            zoom.oauth_rate_limited -= 1
            return JSONResponse({"reason": "Too many requests", "error": "too_many_requests"}, status_code=429,
                                headers={"Retry-After": "3"})
        token = secrets.token_urlsafe(24)
        zoom.tokens[token] = time.monotonic() + zoom.token_lifetime
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": zoom.token_lifetime,
                             "scope": "meeting:write:admin meeting:read:admin report:read:admin", "api_url":
                             str(request.base_url).rstrip("/")})

    async def create_meeting(request: Request) -> Response:
        body = await request.json()
        if body.get("type") != 2 or not body.get("start_time") or not isinstance(body.get("duration"), int):
            return _zoom_error(400, 300, "Validation Failed.")
        if zoom.refuse_creates > 0:
            zoom.refuse_creates -= 1
            return _zoom_error(400, 3000, "Cannot create meeting: the account reached its limit.")
        number = next(zoom._ids)
        settings = {"approval_type": 2, **(body.get("settings") or {})}
        meeting = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(), "id": number, "host_id": HOST_ID,
            "host_email": "host@example.com", "topic": body.get("topic", "Zoom meeting"), "type": 2,
            "status": "waiting", "start_time": body["start_time"], "duration": body["duration"],
            "timezone": body.get("timezone", "UTC"), "agenda": body.get("agenda", ""),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "start_url": f"https://fake.zoom.us/s/{number}?zak=start", "join_url": f"https://fake.zoom.us/j/{number}",
            "password": "123456", "settings": settings, "pre_schedule": False,
        }
        if settings["approval_type"] in (0, 1):
            meeting["registration_url"] = f"https://fake.zoom.us/meeting/register/{number}"
        zoom.meetings[number] = meeting
        if zoom.made_but_failed > 0:
            zoom.made_but_failed -= 1
            return _zoom_error(502, 502, "Bad gateway.")
        if zoom.made_but_late > 0:
            zoom.made_but_late -= 1
            await asyncio.sleep(zoom.late_seconds)
        return JSONResponse(meeting, status_code=201)

    async def list_meetings(request: Request) -> Response:
        listed = [{k: m[k] for k in ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone",
                                     "agenda", "created_at", "join_url")} for m in zoom.meetings.values()]
        return _page(request, listed, "meetings", zoom.max_page_size)

    async def one_meeting(request: Request) -> Response:
        number = _meeting_number(request)
        meeting = zoom.meetings.get(number) if number is not None else None
        if meeting is None:
            return _zoom_error(404, 3001, f"Meeting does not exist: {request.path_params['meeting_id']}.")
        if request.method == "GET":
            return JSONResponse(meeting)
        if request.method == "DELETE":
            del zoom.meetings[number]
            zoom.deleted.append(number)
            return Response(status_code=204)
        body = await request.json()
        for key in ("topic", "start_time", "duration", "timezone", "agenda"):
            if key in body:
                meeting[key] = body[key]
        return Response(status_code=204)

    async def registrants(request: Request) -> Response:
        number = _meeting_number(request)
        meeting = zoom.meetings.get(number) if number is not None else None
        if meeting is None:
            return _zoom_error(404, 3001, f"Meeting does not exist: {request.path_params['meeting_id']}.")
        if meeting["settings"].get("approval_type") not in (0, 1):
            return _zoom_error(400, 3000, "Registration has not been enabled for this meeting.")
        body = await request.json()
        if not body.get("email") or not body.get("first_name"):
            return _zoom_error(400, 300, "Validation Failed.")
        listed = zoom.registrants.setdefault(number, [])
        for existing in listed:
            if existing["email"].lower() == body["email"].lower():
                existing["status"] = "approved"
                break
        else:
            registrant_id = secrets.token_urlsafe(16)
            existing = {"registrant_id": registrant_id, "email": body["email"], "first_name": body["first_name"],
                        "last_name": body.get("last_name", ""), "status": "approved",
                        "join_url": f"https://fake.zoom.us/w/{number}?tk={registrant_id}"}
            listed.append(existing)
        return JSONResponse({"id": number, "registrant_id": existing["registrant_id"],
                             "join_url": existing["join_url"], "start_time": meeting["start_time"],
                             "topic": meeting["topic"], "occurrences": []}, status_code=201)

    async def registrant_status(request: Request) -> Response:
        """PUT .../registrants/status: approve, cancel or deny registrants named by id or email."""
        number = _meeting_number(request)
        meeting = zoom.meetings.get(number) if number is not None else None
        if meeting is None:
            return _zoom_error(404, 3001, f"Meeting does not exist: {request.path_params['meeting_id']}.")
        body = await request.json()
        action = {"approve": "approved", "cancel": "cancelled", "deny": "denied"}.get(body.get("action"))
        named = body.get("registrants")
        if action is None or not isinstance(named, list) or len(named) > 30:
            return _zoom_error(400, 300, "Validation Failed.")
        for who in named:
            for registrant in zoom.registrants.get(number, []):
                if registrant["registrant_id"] == who.get("id") or \
                        registrant["email"].lower() == (who.get("email") or "").lower():
                    registrant["status"] = action
        return Response(status_code=204)

    async def participants_report(request: Request) -> Response:
        number = _meeting_number(request)
        if number not in zoom.reports:
            return _zoom_error(404, 3001, "Meeting does not exist.")
        return _page(request, zoom.reports[number], "participants", zoom.max_page_size, {"page_count": 1})

    routes = [
        Route("/oauth/token", oauth_token, methods=["POST"]),
        Route("/v2/users/{user_id}/meetings", create_meeting, methods=["POST"]),
        Route("/v2/users/{user_id}/meetings", list_meetings, methods=["GET"]),
        Route("/v2/meetings/{meeting_id}", one_meeting, methods=["GET", "PATCH", "DELETE"]),
        Route("/v2/meetings/{meeting_id}/registrants", registrants, methods=["POST"]),
        Route("/v2/meetings/{meeting_id}/registrants/status", registrant_status, methods=["PUT"]),
        Route("/v2/report/meetings/{meeting_id}/participants", participants_report, methods=["GET"]),
    ]

    async def zoom_gateway(request: Request, call_next):
        """What Zoom does before any endpoint: outages, rate limits and bearer tokens."""
        path = request.url.path
        if path.startswith("/v2/"):
            zoom.log.append((request.method, path))
            if time.monotonic() < zoom.outage_until:
                status = next(zoom._outage_codes)
                zoom.refused += 1
                if status == 429:
                    return JSONResponse({"code": 429, "message": "You have reached the maximum per-second rate "
                                         "limit for this API. Try again later."}, status_code=429,
                                        headers={"Retry-After": "1", "X-RateLimit-Type": "QPS"})
                return _zoom_error(status, status, "Service unavailable.")
            token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            expires = zoom.tokens.get(token)
            if expires is None or expires < time.monotonic():
                return _zoom_error(401, 124, "Invalid access token.")
        return await call_next(request)

    return Starlette(routes=routes, middleware=[Middleware(BaseHTTPMiddleware, dispatch=zoom_gateway)])

