"""Moodle's web service REST protocol: form-encoded POSTs to /webservice/rest/server.php.

Moodle reports failures as HTTP 200 with a JSON body {"exception", "errorcode", "message"}.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import httpx

ENDPOINT = "/webservice/rest/server.php"


class MoodleError(Exception):
    """Moodle refused or failed a call; `errorcode` is Moodle's own (e.g. invalidtoken, usernotenroled)."""

    def __init__(self, wsfunction: str, errorcode: str, message: str, exception: str | None = None) -> None:
        self.wsfunction, self.errorcode, self.message, self.exception = wsfunction, errorcode, message, exception
        super().__init__(f"Moodle refused {wsfunction}: {message} [{errorcode}]")


def php_form(params: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested lists and dicts into PHP-style keys: enrolments[0][userid]=7."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if isinstance(value, dict):
            pairs += php_form(value, name)
        elif isinstance(value, (list, tuple)):
            pairs += php_form(dict(enumerate(value)), name)
        elif isinstance(value, bool):
            pairs.append((name, "1" if value else "0"))
        elif value is not None:
            pairs.append((name, str(value)))
    return pairs


class MoodleClient:
    """One short-lived httpx client per call, so the object is safe to share across event loops."""

    def __init__(self, url: str, token: str, *, timeout: float = 20.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._url = url.rstrip("/") + ENDPOINT
        self._token = token
        self._timeout = timeout
        self._transport = transport

    async def call(self, wsfunction: str, **params: Any) -> Any:
        form = [("wstoken", self._token), ("wsfunction", wsfunction), ("moodlewsrestformat", "json")]
        form += php_form(params)
        try:
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
                response = await http.post(self._url, content=urlencode(form), headers={
                    "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"})
        except httpx.TimeoutException:
            raise MoodleError(wsfunction, "timeout", f"no answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise MoodleError(wsfunction, "unreachable", f"could not reach Moodle ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise MoodleError(wsfunction, f"http{response.status_code}",
                              f"Moodle answered HTTP {response.status_code}; is PODIUM_MOODLE_URL the site's root?")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MoodleError(wsfunction, "notjson", "Moodle did not answer with JSON; are web services and the "
                              "REST protocol enabled (Site administration > Server > Web services)?") from None
        if isinstance(body, dict) and "exception" in body:
            raise MoodleError(wsfunction, str(body.get("errorcode") or "exception"),
                              str(body.get("message") or body["exception"]), str(body["exception"]))
        return body
