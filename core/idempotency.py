"""Idempotency keys (Stripe's semantics): the answer to a keyed request is stored in the transaction
of its change, so a retry with the same key gets that answer and changes nothing a second time."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import DomainError, ErrorCode
from .instants import utc_now
from .models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def key_refusal(key: str) -> str | None:
    """Why a client's key cannot be used, or None: 1 to 255 printable ASCII characters."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        return f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters."
    return None


async def claim(db: AsyncSession, scope: str, key: str, fingerprint: str, now: datetime | None = None) -> str | None:
    """Inside the request's write transaction: the stored answer of an earlier request with this key,
    or None once the key is this request's. A request with the key still in flight is waited for
    (the unique row is locked until it commits or rolls back); another body with the key is refused."""
    now = now or utc_now()
    for _ in range(3):
        if await _insert(db, scope, key, fingerprint, now):
            return None
        found = (await db.execute(select(IdempotencyKey.id, IdempotencyKey.fingerprint, IdempotencyKey.answer,
                                         IdempotencyKey.created_at)
                                  .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))).one_or_none()
        if found is None:
            continue  # pruned in between: insert again
        if found.created_at <= now - KEY_LIFETIME:
            if await _renew(db, found.id, fingerprint, now):
                return None
            continue  # another request renewed it first
        if found.fingerprint != fingerprint:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used for another request "
                              "in the last 24 hours; use a new key for a new request.")
        return found.answer
    raise RuntimeError("an Idempotency-Key kept changing hands; the client may retry")


async def store_answer(db: AsyncSession, scope: str, key: str, answer: str) -> None:
    """The answer the client got, in the transaction that made the change."""
    await db.execute(update(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                     .values(answer=answer))


async def prune(db: AsyncSession, now: datetime | None = None) -> int:
    """Forget keys older than their lifetime; returns how many."""
    cutoff = (now or utc_now()) - KEY_LIFETIME
    return (await db.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= cutoff))).rowcount


async def _insert(db: AsyncSession, scope: str, key: str, fingerprint: str, now: datetime) -> bool:
    """Take the key if nobody holds it; blocks while an uncommitted request holds it (PostgreSQL; on
    SQLite the write lock already serializes)."""
    dialect = postgresql if (await db.connection()).dialect.name == "postgresql" else sqlite
    inserted = await db.execute(dialect.insert(IdempotencyKey)
                                .values(scope=scope, key=key, fingerprint=fingerprint, created_at=now)
                                .on_conflict_do_nothing(index_elements=["scope", "key"]))
    return inserted.rowcount == 1


async def _renew(db: AsyncSession, key_id: int, fingerprint: str, now: datetime) -> bool:
    """An expired key is used afresh, as if it had been pruned."""
    renewed = await db.execute(update(IdempotencyKey)
                               .where(IdempotencyKey.id == key_id,
                                      IdempotencyKey.created_at <= now - KEY_LIFETIME)
                               .values(fingerprint=fingerprint, answer=None, created_at=now))
    return renewed.rowcount == 1
