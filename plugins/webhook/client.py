"""The POST, and the signature a receiver checks: HMAC-SHA256 over "<timestamp>.<body>"."""
from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from .config import WebhookSettings

SIGNATURE_HEADER = "Podium-Signature"        # "sha256=<hex>"
TIMESTAMP_HEADER = "Podium-Timestamp"        # Unix seconds, signed with the body
IDEMPOTENCY_HEADER = "Idempotency-Key"       # the event id: the same on every retry


class DeliveryRefused(Exception):
    """The receiver answered other than 2xx; the message gives the status, never the URL, which may hold a token."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def event_body(event) -> bytes:
    return json.dumps(event.as_json(), separators=(",", ":"), sort_keys=True).encode()


async def send_event(config: WebhookSettings, event, transport: httpx.AsyncBaseTransport | None = None) -> None:
    """A 2xx answer is delivery; anything else raises, and the outbox retries with the same event id."""
    body = event_body(event)
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(config.secret, timestamp, body), IDEMPOTENCY_HEADER: event.id,
               "Podium-Event": event.type, "User-Agent": "Podium-Webhook/1"}
    async with httpx.AsyncClient(timeout=config.timeout, transport=transport) as client:
        response = await client.post(config.url, content=body, headers=headers)
    if not response.is_success:
        raise DeliveryRefused(f"the receiver answered HTTP {response.status_code}")
