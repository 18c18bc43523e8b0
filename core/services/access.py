"""API tokens: issuing and revoking. Only a token's SHA-256 is stored; a revoked token stops working
at once (callers are resolved per request)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..instants import utc_now
from ..models import ApiToken, Person, Role
from .records import get_or_404


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


DEFAULT_TOKEN_DAYS = 365
MAX_TOKEN_DAYS = 3650


async def issue_token(db: AsyncSession, actor: Actor, *, person_id: int, role: Role,
                      expires_in_days: int = DEFAULT_TOKEN_DAYS) -> tuple[ApiToken, str]:
    """A new token for a person and a role: the row (hash only) and the token, to be shown once.
    Every token expires: a leaked one does not work forever."""
    if not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise DomainError(ErrorCode.INVALID, f"A token lasts from 1 to {MAX_TOKEN_DAYS} days.", "expiresInDays")
    person = await get_or_404(db, Person, person_id, "personId")
    token = "pdm_" + secrets.token_urlsafe(32)
    now = utc_now()
    row = ApiToken(token_hash=hash_token(token), person_id=person.id, role=role, created_at=now,
                   expires_at=now + timedelta(days=expires_in_days))
    db.add(row)
    await db.flush()
    record_change(db, actor, "token.issue", "ApiToken", row.id, None,
                  {"person_id": person.id, "role": role.value, "expires_at": row.expires_at.isoformat()})
    return row, token


async def revoke_token(db: AsyncSession, actor: Actor, *, token_id: int | None = None,
                       token_hash: str | None = None) -> ApiToken:
    """Revoke by id or by the token's SHA-256; exactly one of them."""
    if (token_id is None) == (token_hash is None):
        raise DomainError(ErrorCode.INVALID, "Give either tokenId or token.", "tokenId")
    field = "tokenId" if token_id is not None else "token"
    condition = ApiToken.id == token_id if token_id is not None else ApiToken.token_hash == token_hash
    token = await db.scalar(select(ApiToken).where(condition).with_for_update())
    if token is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such token.", field)
    if token.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID, "That token is already revoked.", field)
    token.revoked_at = utc_now()
    await db.flush()
    record_change(db, actor, "token.revoke", "ApiToken", token.id, {"revoked_at": None},
                  {"person_id": token.person_id, "role": token.role.value, "revoked_at": token.revoked_at.isoformat()})
    return token
