"""Zoom's webhook security: the x-zm-signature check and the endpoint.url_validation answer."""
from __future__ import annotations

import hashlib
import hmac
import time

URL_VALIDATION = "endpoint.url_validation"
MEETING_ENDED = "meeting.ended"


class WebhookRefused(Exception):
    """Not from Zoom, or too old to trust: answered 401 and never acted on."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The value Zoom puts in x-zm-signature: v0= HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    message = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, tolerance_seconds: int,
           now: float | None = None) -> None:
    """Refuse a request whose signature is wrong or whose timestamp is stale (a replay)."""
    if not timestamp or not signature:
        raise WebhookRefused("missing x-zm-signature or x-zm-request-timestamp")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRefused("malformed x-zm-request-timestamp") from None
    if sent_at > 10**11:  # milliseconds: Zoom's event_ts is in ms, the header in seconds; accept both
        sent_at //= 1000
    if abs((time.time() if now is None else now) - sent_at) > tolerance_seconds:
        raise WebhookRefused("stale x-zm-request-timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise WebhookRefused("x-zm-signature does not match")


def url_validation_answer(secret: str, plain_token: str) -> dict[str, str]:
    """Zoom's challenge: echo plainToken with its HMAC-SHA256 (hex) under the secret token."""
    encrypted = hmac.new(secret.encode(), plain_token.encode(), hashlib.sha256).hexdigest()
    return {"plainToken": plain_token, "encryptedToken": encrypted}
