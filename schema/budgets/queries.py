"""`budgets`: staff only, by id."""
from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.models import Budget as BudgetRow

from ..permissions import require_staff
from ..relay import connection, encode_cursor, id_after, page_size
from .types import BudgetConnection, budget_from


@strawberry.type
class BudgetQueries:
    @strawberry.field(description="Budgets, oldest first (by id); admins and coordinators only.")
    async def budgets(self, info: Info, first: int | None = None, after: str | None = None) -> BudgetConnection:
        require_staff(info.context.caller, "budgets")
        size, after_id = page_size(first), id_after(after)
        query = select(BudgetRow)
        if after_id is not None:
            query = query.where(BudgetRow.id > after_id)
        async with info.context.reading() as db:
            rows = (await db.scalars(query.order_by(BudgetRow.id).limit(size + 1))).all()

        async def count_total() -> int:
            async with info.context.reading() as db:
                return await db.scalar(select(func.count()).select_from(BudgetRow))

        return connection([budget_from(r) for r in rows[:size]], len(rows) > size, after,
                          lambda b: encode_cursor(b.pk), count_total)
