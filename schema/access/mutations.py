"""issueToken, revokeToken: ADMIN only. The token is shown once; only its hash is stored."""
from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from podium.core.models import Role as CoreRole
from podium.core.services import access
from podium.core.services.access import hash_token

from ..catalogue.types import Role
from ..changes import attempt
from ..errors import UserError
from ..permissions import check_admin
from ..relay import decode_id, global_id


@strawberry.input
class IssueTokenInput:
    person_id: strawberry.ID
    role: Role
    expires_in_days: int | None = strawberry.field(
        default=access.DEFAULT_TOKEN_DAYS,
        description=f"Days until the token stops working (1 to {access.MAX_TOKEN_DAYS}; null means "
                    f"{access.DEFAULT_TOKEN_DAYS}); an expired token is answered 401.")


@strawberry.input(description="Name the token by the tokenId issueToken gave, or by the token itself.")
class RevokeTokenInput:
    token_id: strawberry.ID | None = None
    token: str | None = None


@strawberry.type
class TokenPayload:
    token: str | None = strawberry.field(description="Shown only now: Podium keeps only its hash.")
    token_id: strawberry.ID | None = strawberry.field(default=None, description="Names the token for revokeToken.")
    expires_at: datetime | None = strawberry.field(default=None, description="When the token stops working.")
    errors: list[UserError]


@strawberry.type
class RevokeTokenPayload:
    token_id: strawberry.ID | None
    revoked_at: datetime | None = strawberry.field(description="From now on the token is answered 401 UNAUTHENTICATED.")
    errors: list[UserError]


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="ADMIN only.")
    async def issue_token(self, info: Info, input: IssueTokenInput) -> TokenPayload:
        async def work(db, actor):
            check_admin(info.context.caller, "issue tokens")
            days = access.DEFAULT_TOKEN_DAYS if input.expires_in_days is None else input.expires_in_days
            row, token = await access.issue_token(db, actor, person_id=decode_id(input.person_id, "Person", "personId"),
                                                  role=CoreRole(input.role), expires_in_days=days)
            return row.id, token, row.expires_at

        issued, errors, _ = await attempt(info, work)
        return TokenPayload(token=issued and issued[1], token_id=issued and global_id("ApiToken", issued[0]),
                            expires_at=issued and issued[2], errors=errors)

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
