"""The caller of a request, from its bearer token. Tokens are stored only as SHA-256 hashes."""
from __future__ import annotations

import asyncio
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

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


async def authenticate(tokens: TokenCheck, authorization: str | None) -> Caller:
    """Anonymous without an Authorization header; the token's caller with a valid bearer token;
    Unauthenticated for anything else."""
    if authorization is None or not authorization.strip():
        return ANONYMOUS
    token = bearer(authorization)
    if token is None:
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    caller = await tokens.caller_for(token)
    if caller is None:
        raise Unauthenticated("The bearer token is unknown, revoked or expired.")
    return caller


TOKENS_PER_READ = 500
"""At most this many tokens in one read (its statement has a parameter each); more make another read."""


class TokenCheck:
    """The callers of bearer tokens, each token read from the database when its request arrives.

    Every request asks; in a rush (a registration opening, a portal's first page for everyone) the
    read was a fifth of a request's CPU: a pooled connection, a statement, its end, all for one row.
    So the tokens of the requests that arrive together (in one turn of the event loop) are read with
    one statement on one connection: the first of them starts the read for the next turn, the others
    join it. No answer is kept past its read: a revoked or expired token is refused by the next
    request, as before. The request's own session is not touched (an enrol waiting for its batch holds
    no connection)."""

    def __init__(self, engine: AsyncEngine, admin_token: str | None) -> None:
        self.engine, self.admin_token = engine, admin_token
        self._next: dict[str, list[asyncio.Future]] | None = None  # hash -> its askers, for the next read
        self._reads: set[asyncio.Task] = set()  # the reads under way (the loop holds tasks weakly)

    async def caller_for(self, token: str) -> Caller | None:
        """ADMIN for the bootstrap token, the token's person and role for a live token; None for any other."""
        if len(token) > 512 or not is_text(token):
            return None
        if self.admin_token and hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return Caller(role=Role.ADMIN)
        loop = asyncio.get_running_loop()
        asked = self._next
        if asked is None or len(asked) >= TOKENS_PER_READ:
            asked = self._next = {}
            read = loop.create_task(self._read(asked))
            self._reads.add(read)
            read.add_done_callback(self._reads.discard)
        answer = loop.create_future()  # one per asker: a cancelled request cancels only its own
        asked.setdefault(hash_token(token), []).append(answer)
        return await answer

    async def _read(self, asked: dict[str, list[asyncio.Future]]) -> None:
        if self._next is asked:
            self._next = None  # who asks from now on waits for the next read
        try:
            conn = await self.engine.connect()
            try:
                rows = (await conn.execute(LIVE_TOKENS, {"hashes": list(asked), "now": utc_now()})).all()
            finally:
                await conn.close()
        except Exception as error:  # the database is down: each asker's request fails as its own read would
            _answer(asked, lambda answer, token_hash: answer.set_exception(error))
            return
        except BaseException:  # the read was cancelled (the server stops): so are its askers
            _answer(asked, lambda answer, token_hash: answer.cancel())
            raise
        callers = {row.token_hash: Caller(role=row.role, person_id=row.id, email=row.email) for row in rows}
        _answer(asked, lambda answer, token_hash: answer.set_result(callers.get(token_hash)))


def _answer(asked: dict[str, list[asyncio.Future]], how: Callable[[asyncio.Future, str], object]) -> None:
    for token_hash, answers in asked.items():
        for answer in answers:
            if not answer.done():  # not given up by its request
                how(answer, token_hash)


# Built once (every request asks it): its cache key and compiled form are reused, not rebuilt per request.
# On the tables, not the entities: a plain Core statement, no ORM loading of its rows.
_TOKEN, _PERSON = ApiToken.__table__, Person.__table__
LIVE_TOKENS = (select(_TOKEN.c.token_hash, _TOKEN.c.role, _PERSON.c.id, _PERSON.c.email)
               .join(_PERSON, _PERSON.c.id == _TOKEN.c.person_id)
               .where(_TOKEN.c.token_hash.in_(bindparam("hashes", expanding=True)), _TOKEN.c.revoked_at.is_(None),
                      _TOKEN.c.expires_at > bindparam("now"))
               .execution_options(**{INLINE_OPTION: True}))  # rows by unique hashes: cheap
