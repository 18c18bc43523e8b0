"""Zoom's webhook signature and URL validation, as Zoom documents them."""
from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from podium.plugins.zoom.webhook import WebhookRefused, sign, url_validation_answer, verify

SECRET = "webhook-secret-token"
BODY = b'{"event":"meeting.ended","payload":{"object":{"id":"81234567890"}}}'


def test_a_signature_made_as_zoom_makes_it_is_accepted():
    now = int(time.time())
    expected = "v0=" + hmac.new(SECRET.encode(), f"v0:{now}:".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, str(now), BODY) == expected
    verify(SECRET, str(now), expected, BODY, tolerance_seconds=300)


@pytest.mark.parametrize("change", ["body", "secret", "stale", "missing"])
def test_anything_else_is_refused(change):
    now = int(time.time())
    timestamp = str(now - 301) if change == "stale" else str(now)
    signature = sign("other" if change == "secret" else SECRET, timestamp, BODY)
    body = BODY.replace(b"ended", b"started") if change == "body" else BODY
    with pytest.raises(WebhookRefused):
        verify(SECRET, timestamp, None if change == "missing" else signature, body, tolerance_seconds=300)


def test_url_validation_echoes_the_token_with_its_hmac():
    answer = url_validation_answer(SECRET, "qgg8vlvZRS6UYooatFL8Aw")
    assert answer == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": hmac.new(
        SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()}
