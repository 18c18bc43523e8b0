"""The caller of a request, from its bearer token. Tokens are stored only as SHA-256 hashes."""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from podium.core.audit import Actor, person_actor
from podium.core.db import INLINE_OPTION
from podium.core.instants import utc_now
from podium.core.models import ApiToken, Person, Role
from podium.core.services.access import hash_token


@dataclass(frozen=True)
class Caller:
    role: Role | None = None
    person_id: int | None = None
    email: str | None = None

    @property
    def signed_in(self) -> bool:
        return self.role is not None

    def actor(self) -> Actor:
        label = person_actor(self.person_id) if self.person_id else "api:admin-token" if self.role else "api:anonymous"
        return Actor(label=label, person_id=self.person_id, role=self.role)


ANONYMOUS = Caller()


class Unauthenticated(Exception):
    """A bearer token was sent and Podium does not accept it (unknown, revoked, expired or malformed):
    answered 401, never taken as anonymous, so a client learns its token is wrong at once."""


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_text(value: str) -> bool:
    """Whether a string is real Unicode: a lone surrogate (a JSON escape such as \\ud800 without its
    pair) has no bytes to compare or to store."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


async def authenticate(db: AsyncSession, authorization: str | None, admin_token: str | None) -> Caller:
    """Anonymous without an Authorization header; the token's caller with a valid bearer token;
    Unauthenticated for anything else."""
    if authorization is None or not authorization.strip():
        return ANONYMOUS
    token = bearer(authorization)
    if token is None:
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    caller = await caller_for(db, token, admin_token)
    if caller is None:
        raise Unauthenticated("The bearer token is unknown, revoked or expired.")
    return caller


async def caller_for(db: AsyncSession, token: str, admin_token: str | None) -> Caller | None:
    """ADMIN for the bootstrap token, the token's person and role for a live token; None for any other."""
    if len(token) > 512 or not is_text(token):
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Caller(role=Role.ADMIN)
    row = (await db.execute(LIVE_TOKEN, {"token_hash": hash_token(token), "now": utc_now()})).first()
    return Caller(role=row.role, person_id=row.id, email=row.email) if row else None


# Built once (every request asks it): its cache key and compiled form are reused, not rebuilt per request.
# On the tables, not the entities: a plain Core statement, no ORM loading of its row.
_TOKEN, _PERSON = ApiToken.__table__, Person.__table__
LIVE_TOKEN = (select(_TOKEN.c.role, _PERSON.c.id, _PERSON.c.email).join(_PERSON, _PERSON.c.id == _TOKEN.c.person_id)
              .where(_TOKEN.c.token_hash == bindparam("token_hash"), _TOKEN.c.revoked_at.is_(None),
                     _TOKEN.c.expires_at > bindparam("now"))
              .execution_options(**{INLINE_OPTION: True}))  # one row by a unique hash: cheap
