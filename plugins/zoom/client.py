"""Zoom's REST API over httpx: Server-to-Server OAuth, meetings, registrants, the participants report.

Base URLs and the transport are injectable, so tests point it at a fake Zoom on 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from .config import ZoomSettings

log = logging.getLogger("podium.plugins.zoom")

TOKEN_RENEW_MARGIN_SECONDS = 300   # renew well before Zoom's 3,600 s expiry
MAX_RETRY_AFTER_SECONDS = 60
PAGE_SIZE = 300                    # Zoom's maximum for list and report endpoints


class ZoomError(Exception):
    """Zoom refused the request (a 4xx other than 401/429): retrying the same request will not help."""

    def __init__(self, status: int, code: int | None, message: str):
        super().__init__(f"Zoom answered {status}" + (f" (code {code})" if code is not None else "") + f": {message}")
        self.status, self.code, self.message = status, code, message


class ZoomUnavailable(Exception):
    """Zoom kept answering 429/5xx, or could not be reached, through every retry: try again later."""


class ZoomAmbiguous(ZoomUnavailable):
    """A non-idempotent request was sent but its outcome is unknown (a time-out or a 5xx after sending)."""


class ZoomClient:
    def __init__(self, settings: ZoomSettings, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self._http = httpx.AsyncClient(transport=transport, timeout=settings.timeout_seconds,
                                       headers={"User-Agent": "podium-zoom"})
        self._sleep = sleep
        self._clock = clock                # when the token expires; tests move it forward
        self._token: str | None = None
        self._token_expires_at = 0.0
        self._token_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- auth ------------------------------------------------------------------------------

    async def _access_token(self, stale: str | None = None) -> str:
        """A cached token, renewed before expiry, or at once when `stale` (the one Zoom refused) is current."""
        async with self._token_lock:
            fresh = self._token is not None and self._clock() < self._token_expires_at - TOKEN_RENEW_MARGIN_SECONDS
            if fresh and self._token != stale:
                return self._token
            s = self.settings
            for attempt in range(s.max_retries + 1):
                try:
                    response = await self._http.post(
                        f"{s.oauth_base}/oauth/token", auth=(s.client_id, s.client_secret),
                        data={"grant_type": "account_credentials", "account_id": s.account_id})
                except httpx.TransportError as exc:
                    error, response = f"{type(exc).__name__}", None
                else:
                    if response.status_code == 200:
                        body = response.json()
                        self._token = body["access_token"]
                        self._token_expires_at = self._clock() + float(body.get("expires_in", 3600))
                        return self._token
                    if response.status_code != 429 and response.status_code < 500:
                        raise ZoomError(response.status_code, None, _oauth_reason(response))
                    error = f"HTTP {response.status_code}"
                if attempt < s.max_retries:
                    await self.pause(attempt, response)
            raise ZoomUnavailable(f"Zoom OAuth did not answer ({error})")

    async def check_token(self) -> str:
        """For `podium plugins --check`: ask Zoom for a new token now; what it grants."""
        self._token = None
        await self._access_token()
        return f"token granted by {self.settings.oauth_base} for account {self.settings.account_id}"

    # --- requests --------------------------------------------------------------------------

    def _backoff(self, attempt: int, response: httpx.Response | None) -> float:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        if retry_after is not None:
            try:
                return min(float(retry_after), MAX_RETRY_AFTER_SECONDS)
            except ValueError:
                pass
        base = self.settings.backoff_seconds * (2 ** attempt)
        return base + random.uniform(0, base / 2)

    async def pause(self, attempt: int, response: httpx.Response | None = None) -> None:
        """Wait before retry number `attempt` (exponential, with jitter); the response's Retry-After wins."""
        await self._sleep(self._backoff(attempt, response))

    async def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                    idempotent: bool = True) -> httpx.Response:
        """One API call with the token, renewed once on a 401, and backoff on 429/5xx.

        A non-idempotent call is not repeated after it may have reached Zoom: it raises ZoomAmbiguous.
        """
        url = f"{self.settings.api_base}{path}"
        token = await self._access_token()
        renewed = False
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, url, json=json, params=params,
                                                    headers={"Authorization": f"Bearer {token}"})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                problem, response = f"{type(exc).__name__} (not sent)", None
            except httpx.TransportError as exc:
                if not idempotent:
                    raise ZoomAmbiguous(f"{method} {path}: {type(exc).__name__} after sending") from exc
                problem, response = type(exc).__name__, None
            else:
                if response.status_code == 401 and not renewed:
                    token, renewed = await self._access_token(stale=token), True
                    continue
                if response.status_code < 400:
                    return response
                if response.status_code != 429 and response.status_code < 500:
                    raise _error(response)
                if response.status_code >= 500 and not idempotent:
                    raise ZoomAmbiguous(f"{method} {path}: HTTP {response.status_code}")
                problem = f"HTTP {response.status_code}"
            if attempt >= self.settings.max_retries:
                raise ZoomUnavailable(f"{method} {path}: {problem} after {attempt + 1} attempts")
            delay = self._backoff(attempt, response)
            log.info("zoom %s %s: %s, retrying in %.1fs", method, path, problem, delay)
            await self._sleep(delay)
            attempt += 1

    async def _pages(self, path: str, key: str, params: dict[str, Any] | None = None) -> AsyncIterator[dict]:
        """Every item of a list endpoint, following next_page_token."""
        query = {**(params or {}), "page_size": PAGE_SIZE}
        while True:
            body = (await self._call("GET", path, params=query)).json()
            for item in body.get(key) or []:
                yield item
            token = body.get("next_page_token")
            if not token:
                return
            query["next_page_token"] = token

    # --- meetings --------------------------------------------------------------------------

    async def create_meeting(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /users/{userId}/meetings; never repeated blindly (see ZoomAmbiguous)."""
        response = await self._call("POST", f"/users/{self.settings.user_id}/meetings", json=body, idempotent=False)
        return response.json()

    async def list_meetings(self, meeting_type: str = "scheduled") -> AsyncIterator[dict]:
        async for meeting in self._pages(f"/users/{self.settings.user_id}/meetings", "meetings",
                                         {"type": meeting_type}):
            yield meeting

    async def update_meeting(self, meeting_id: str, body: dict[str, Any]) -> None:
        await self._call("PATCH", f"/meetings/{meeting_id}", json=body)

    async def delete_meeting(self, meeting_id: str) -> bool:
        """Delete a meeting; False when Zoom no longer has it (a repeated delete is not an error)."""
        try:
            await self._call("DELETE", f"/meetings/{meeting_id}")
        except ZoomError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def add_registrant(self, meeting_id: str, email: str, first_name: str, last_name: str) -> dict[str, Any]:
        """Zoom answers an already registered email with the same registrant, so a retry is harmless."""
        response = await self._call("POST", f"/meetings/{meeting_id}/registrants",
                                    json={"email": email, "first_name": first_name, "last_name": last_name})
        return response.json()

    async def cancel_registrants(self, meeting_id: str, registrants: list[dict[str, str]]) -> bool:
        """PUT /meetings/{id}/registrants/status with action "cancel"; False when Zoom no longer has the meeting."""
        try:
            await self._call("PUT", f"/meetings/{meeting_id}/registrants/status",
                             json={"action": "cancel", "registrants": registrants})
        except ZoomError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def participants_report(self, meeting_id: str) -> list[dict[str, Any]]:
        return [p async for p in self._pages(f"/report/meetings/{meeting_id}/participants", "participants")]


def _error(response: httpx.Response) -> ZoomError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    message = body.get("message") if isinstance(body, dict) else None
    return ZoomError(response.status_code, code if isinstance(code, int) else None,
                     str(message or response.reason_phrase))


def _oauth_reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("reason") or body.get("error") or response.reason_phrase)
