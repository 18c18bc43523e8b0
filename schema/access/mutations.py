"""issueToken, revokeToken: ADMIN only. The token is shown once; only its hash is stored."""
from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from podium.core.audit import record_change
from podium.core.models import ApiToken
from podium.core.models import Person as PersonRow
from podium.core.models import Role as CoreRole
from podium.core.services import access
from podium.core.services.records import get_or_404

from ..catalogue.types import Role
from ..changes import attempt
from ..errors import UserError
from ..permissions import check_admin
from ..relay import decode_id, global_id
from .callers import hash_token, new_token


@strawberry.input
class IssueTokenInput:
    person_id: strawberry.ID
    role: Role


@strawberry.input(description="Name the token by the tokenId issueToken gave, or by the token itself.")
class RevokeTokenInput:
    token_id: strawberry.ID | None = None
    token: str | None = None


@strawberry.type
class TokenPayload:
    token: str | None = strawberry.field(description="Shown only now: Podium keeps only its hash.")
    token_id: strawberry.ID | None = strawberry.field(default=None, description="Names the token for revokeToken.")
    errors: list[UserError]


@strawberry.type
class RevokeTokenPayload:
    token_id: strawberry.ID | None
    revoked_at: datetime | None = strawberry.field(description="From now on the token makes its caller anonymous.")
    errors: list[UserError]


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="ADMIN only.")
    async def issue_token(self, info: Info, input: IssueTokenInput) -> TokenPayload:
        token = new_token()

        async def work(db, actor):
            check_admin(info.context.caller, "issue tokens")
            person = await get_or_404(db, PersonRow, decode_id(input.person_id, "Person", "personId"), "personId")
            row = ApiToken(token_hash=hash_token(token), person_id=person.id, role=CoreRole(input.role))
            db.add(row)
            await db.flush()
            record_change(db, actor, "token.issue", "ApiToken", row.id, None,
                          {"person_id": person.id, "role": row.role.value})
            return row.id

        pk, errors, _ = await attempt(info, work)
        return TokenPayload(token=token if pk else None, token_id=pk and global_id("ApiToken", pk), errors=errors)

    @strawberry.mutation(description="ADMIN only. The token stops working with the next request.")
    async def revoke_token(self, info: Info, input: RevokeTokenInput) -> RevokeTokenPayload:
        async def work(db, actor):
            check_admin(info.context.caller, "revoke tokens")
            token_id = decode_id(input.token_id, "ApiToken", "tokenId") if input.token_id is not None else None
            revoked = await access.revoke_token(db, actor, token_id=token_id,
                                                token_hash=hash_token(input.token) if input.token is not None else None)
            return revoked.id, revoked.revoked_at

        done, errors, _ = await attempt(info, work)
        return RevokeTokenPayload(token_id=done and global_id("ApiToken", done[0]), revoked_at=done and done[1],
                                  errors=errors)
