"""`outbox`: for ADMINs, what is pending, failing and dead (the same as `podium outbox list`)."""
from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.models import OutboxMessage as OutboxRow
from podium.core.models import OutboxStatus as CoreOutboxStatus

from ..permissions import require_admin
from ..relay import connection, encode_cursor, id_after, page_size
from .types import OUTBOX_COLUMNS, OutboxCounts, OutboxMessageConnection, OutboxStatus, outbox_message_from


@strawberry.type
class OutboxQueries:
    @strawberry.field(description="ADMIN only: outbox messages per status.")
    async def outbox_counts(self, info: Info) -> OutboxCounts:
        require_admin(info.context.caller, "the outbox")
        async with info.context.reading() as db:
            counts = dict((await db.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status))).all())
            failing = await db.scalar(select(func.count()).select_from(OutboxRow).where(
                OutboxRow.status == CoreOutboxStatus.PENDING, OutboxRow.attempts > 0))
        return OutboxCounts(pending=counts.get(CoreOutboxStatus.PENDING, 0), failing=failing or 0,
                            delivered=counts.get(CoreOutboxStatus.DELIVERED, 0), dead=counts.get(CoreOutboxStatus.DEAD, 0))

    @strawberry.field(description="ADMIN only: outbox messages, newest first; `failing` keeps those pending after "
                                  "a failed attempt.")
    async def outbox(self, info: Info, status: list[OutboxStatus] | None = None, failing: bool = False,
                     first: int | None = None, after: str | None = None) -> OutboxMessageConnection:
        require_admin(info.context.caller, "the outbox")
        size, before_id = page_size(first), id_after(after)
        where = []
        if status:
            where.append(OutboxRow.status.in_([CoreOutboxStatus(s.value) for s in status]))
        if failing:
            where += [OutboxRow.status == CoreOutboxStatus.PENDING, OutboxRow.attempts > 0]
        query = select(*OUTBOX_COLUMNS).where(*where)
        if before_id is not None:
            query = query.where(OutboxRow.id < before_id)
        async with info.context.reading() as db:
            rows = (await db.execute(query.order_by(OutboxRow.id.desc()).limit(size + 1))).all()

        async def count_total() -> int:
            async with info.context.reading() as db:
                return await db.scalar(select(func.count()).select_from(OutboxRow).where(*where))

        return connection([outbox_message_from(r) for r in rows[:size]], len(rows) > size, after,
                          lambda m: encode_cursor(m.pk), count_total)
