"""API tokens: revoking one. A revoked token stops working at once (callers are resolved per request)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..instants import utc_now
from ..models import ApiToken


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
