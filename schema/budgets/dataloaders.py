"""Budgets and their figures, one statement each per request tick."""
from __future__ import annotations

from sqlalchemy import select

from podium.core.models import Budget as BudgetRow
from podium.core.services.budgets import BudgetFigures, budget_figures

from .types import Budget, budget_from


def loaders(context) -> dict:
    async def budgets(ids: list[int]) -> list[Budget | None]:
        async with context.reading() as db:
            rows = (await db.scalars(select(BudgetRow).where(BudgetRow.id.in_(ids)))).all()
        found = {row.id: budget_from(row) for row in rows}
        return [found.get(i) for i in ids]

    async def figures(ids: list[int]) -> list[BudgetFigures | None]:
        async with context.reading() as db:
            found = await budget_figures(db, ids)
        return [found.get(i) for i in ids]

    return {"budgets": budgets, "budget_figures": figures}
