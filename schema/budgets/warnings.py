"""The warnings a change that moves money carries: every budget it leaves over (BUDGET_EXCEEDED)."""
from __future__ import annotations

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from podium.core.services.budgets import exceeded_budgets

from ..costs.types import currency_of
from ..errors import Warning, warning


async def budget_warnings(info: Info, db: AsyncSession, session_ids: Select | list[int]) -> list[Warning]:
    """Called inside the change's transaction, after the change: the budgets holding these sessions that are over."""
    return [warning(w) for w in await exceeded_budgets(db, session_ids, currency=currency_of(info))]
