"""HTTP access to a venue feed (paged JSON) and to room calendars (iCalendar)."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

MAX_PAGES = 10_000
MAX_CALENDAR_BYTES = 50_000_000


class VenueFeedError(Exception):
    """A venue feed or a room calendar could not be read; the message says which and why."""


def where(url: str) -> str:
    """A URL without its path and query, for messages and logs: calendar URLs often carry a secret."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/…" if parts.netloc else "a calendar URL"


def _explain(status: int, what: str, url: str) -> str:
    if status in (401, 403):
        return f"{what} at {where(url)} refused access (HTTP {status}); check the token or the secret URL."
    if status == 404:
        return f"{what} at {where(url)} does not exist (HTTP 404)."
    if status == 429:
        return f"{what} at {where(url)} is rate-limiting us (HTTP 429); it will be tried again later."
    return f"{what} at {where(url)} answered HTTP {status}."


class VenueFeedClient:
    """One short-lived httpx client per read, so the object is safe to share across event loops."""

    def __init__(self, *, token: str | None = None, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._token = token
        self._timeout = timeout
        self._transport = transport

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self._timeout, transport=self._transport, follow_redirects=True,
                                 headers={"User-Agent": "Podium venues plugin"})

    async def feed_pages(self, url: str) -> list[Any]:
        """Every page of a JSON feed, following `next` in the body or a `Link: rel="next"` header."""
        pages: list[Any] = []
        seen: set[str] = set()
        headers = {"Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        async with self._http() as http:
            next_url: str | None = url
            while next_url:
                if next_url in seen or len(pages) >= MAX_PAGES:
                    raise VenueFeedError(f"The venue feed at {where(url)} pages in a loop.")
                seen.add(next_url)
                response = await self._get(http, next_url, headers, "The venue feed")
                try:
                    body = response.json()
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise VenueFeedError(f"The venue feed at {where(url)} did not answer with JSON.") from None
                pages.append(body)
                link = response.links.get("next", {}).get("url")
                following = link or (body.get("next") if isinstance(body, dict) else None)
                next_url = urljoin(str(response.url), following) if following else None
        return pages

    async def calendar(self, url: str) -> bytes:
        """The raw iCalendar text of one room's calendar; `webcal://` is read over HTTPS."""
        if url.startswith("webcal://"):
            url = "https://" + url[len("webcal://"):]
        if urlsplit(url).scheme not in ("http", "https"):
            raise VenueFeedError(f"{where(url)} is not an http(s) or webcal calendar URL.")
        async with self._http() as http:
            response = await self._get(http, url, {"Accept": "text/calendar"}, "The room calendar")
        if len(response.content) > MAX_CALENDAR_BYTES:
            raise VenueFeedError(f"The room calendar at {where(url)} is larger than {MAX_CALENDAR_BYTES} bytes.")
        return response.content

    async def _get(self, http: httpx.AsyncClient, url: str, headers: dict[str, str], what: str) -> httpx.Response:
        try:
            response = await http.get(url, headers=headers)
        except httpx.TimeoutException:
            raise VenueFeedError(f"{what} at {where(url)} did not answer within {self._timeout:g} s.") from None
        except httpx.HTTPError as exc:
            raise VenueFeedError(f"{what} at {where(url)} could not be reached: {type(exc).__name__}.") from None
        if response.status_code >= 400:
            raise VenueFeedError(_explain(response.status_code, what, url))
        return response
