"""`auditLog`: for ADMINs, newest first, paged by keyset on the entry id."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.audit import person_actor
from podium.core.errors import DomainError
from podium.core.ids import from_global_id
from podium.core.instants import require_aware
from podium.core.models import AuditEntry as AuditRow

from ..errors import ClientError
from ..limits import query_term
from ..permissions import require_admin
from ..relay import connection, encode_cursor, id_after, page_size, query_id
from .types import AuditEntryConnection, audit_entry_from


def _conditions(target_id, actor_id, action, from_, to) -> list:
    where = []
    if target_id is not None:
        decoded = from_global_id(target_id)
        if decoded is None:
            raise ClientError(f"{target_id!r} is not an ID.", field="targetId")
        where += [AuditRow.target_type == decoded[0], AuditRow.target_id == decoded[1]]
    if actor_id is not None:
        where.append(AuditRow.actor == person_actor(query_id(actor_id, "Person", "actorId")))
    if action is not None:
        where.append(AuditRow.action == query_term(action, "action"))
    try:
        if from_ is not None:
            where.append(AuditRow.at >= require_aware(from_, "from"))
        if to is not None:
            where.append(AuditRow.at < require_aware(to, "to"))
    except DomainError as error:
        raise ClientError(error.message, error.code, error.field) from None
    return where


@strawberry.type
class AuditQueries:
    @strawberry.field(description="ADMIN only: the audit log, newest first; every filter optional.")
    async def audit_log(self, info: Info, target_id: strawberry.ID | None = None,
                        actor_id: strawberry.ID | None = None, action: str | None = None,
                        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
                        to: datetime | None = None, first: int | None = None,
                        after: str | None = None) -> AuditEntryConnection:
        context = info.context
        require_admin(context.caller, "the audit log")
        size, before_id = page_size(first), id_after(after)
        where = _conditions(target_id, actor_id, action, from_, to)
        query = select(AuditRow).where(*where)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        async with context.reading() as db:
            rows = (await db.scalars(query.order_by(AuditRow.id.desc()).limit(size + 1))).all()

        async def count_total() -> int:
            async with context.reading() as db:
                return await db.scalar(select(func.count()).select_from(AuditRow).where(*where))

        return connection([audit_entry_from(r) for r in rows[:size]], len(rows) > size, after,
                          lambda e: encode_cursor(e.id), count_total)
