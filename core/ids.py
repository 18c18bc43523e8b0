"""Opaque global IDs (Relay): base64 of "Type:id". Used by the API and in event payloads."""
from __future__ import annotations

import base64
import binascii


def to_global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


MAX_PK = 2**31 - 1  # integer primary keys are 32-bit on PostgreSQL


def from_global_id(global_id: str) -> tuple[str, int] | None:
    """("Session", 12) for a valid ID, None for anything else (including ids no row can have)."""
    try:
        type_name, _, pk = base64.b64decode(global_id.encode(), validate=True).decode().partition(":")
        valid = type_name and pk.isascii() and pk.isdigit() and 0 < int(pk) <= MAX_PK
        return (type_name, int(pk)) if valid else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def type_words(type_name: str) -> str:
    """A type's name as words in a message: "SessionSeries" -> "session series"."""
    return "".join(f" {c.lower()}" if c.isupper() and i else c.lower() for i, c in enumerate(type_name))


def with_article(words: str) -> str:
    """ "a session", "an evaluation form"."""
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"
