"""retryOutboxMessage: ADMIN only; the same retry as `podium outbox retry ID`, audited."""
from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from podium.core import outbox
from podium.core.models import OutboxMessage as OutboxRow

from ..changes import attempt
from ..errors import UserError
from ..permissions import check_admin
from .types import OUTBOX_COLUMNS, OutboxMessage, outbox_message_from


@strawberry.input
class RetryOutboxMessageInput:
    id: int = strawberry.field(description="The row id, as `outbox { edges { node { id } } }` shows it.")


@strawberry.type
class OutboxMessagePayload:
    message: OutboxMessage | None
    errors: list[UserError]


@strawberry.type
class OutboxMutations:
    @strawberry.mutation(description="ADMIN only: a DEAD (or backing-off) message goes back in line now, "
                                     "its attempts reset.")
    async def retry_outbox_message(self, info: Info, input: RetryOutboxMessageInput) -> OutboxMessagePayload:
        async def work(db, actor):
            check_admin(info.context.caller, "retry outbox messages")
            await outbox.retry_message(db, actor, input.id)
            return input.id

        pk, errors, _ = await attempt(info, work)
        if pk is None:
            return OutboxMessagePayload(message=None, errors=errors)
        async with info.context.reading() as db:
            row = (await db.execute(select(*OUTBOX_COLUMNS).where(OutboxRow.id == pk))).first()
        return OutboxMessagePayload(message=row and outbox_message_from(row), errors=errors)
