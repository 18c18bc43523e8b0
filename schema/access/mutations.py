"""issueToken: ADMIN only. The token is shown once; only its hash is stored."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.audit import record_change
from podium.core.models import ApiToken
from podium.core.models import Person as PersonRow
from podium.core.models import Role as CoreRole
from podium.core.services.records import get_or_404

from ..catalogue.types import Role
from ..changes import attempt
from ..errors import UserError
from ..permissions import check_admin
from ..relay import decode_id
from .callers import hash_token, new_token


@strawberry.input
class IssueTokenInput:
    person_id: strawberry.ID
    role: Role


@strawberry.type
class TokenPayload:
    token: str | None = strawberry.field(description="Shown only now: Podium keeps only its hash.")
    errors: list[UserError]


@strawberry.type
class AccessMutations:
    @strawberry.mutation(description="ADMIN only.")
    async def issue_token(self, info: Info, input: IssueTokenInput) -> TokenPayload:
        token = new_token()

        async def work(db, actor):
            check_admin(info.context.caller)
            person = await get_or_404(db, PersonRow, decode_id(input.person_id, "Person", "personId"), "personId")
            row = ApiToken(token_hash=hash_token(token), person_id=person.id, role=CoreRole(input.role))
            db.add(row)
            await db.flush()
            record_change(db, actor, "token.issue", "ApiToken", row.id, None,
                          {"person_id": person.id, "role": row.role.value})
            return token

        issued, errors, _ = await attempt(info, work)
        return TokenPayload(token=issued, errors=errors)
