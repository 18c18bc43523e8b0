"""Every mutation makes its change the same way: one write transaction, the caller as the actor,
and a refused change (DomainError) returned as data."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from podium.core.audit import Actor
from podium.core.errors import DomainError

from .errors import UserError, user_error


async def attempt(info: Info, work: Callable[[AsyncSession, Actor], Awaitable[Any]]) -> tuple[Any, list[UserError], DomainError | None]:
    """Run `work` inside `changing(db)`; return what it returned (plain values, not ORM objects), the
    UserErrors, and the DomainError itself (for `conflicts`)."""
    context = info.context
    try:
        async with context.changing() as db:
            return await work(db, context.caller.actor()), [], None
    except DomainError as error:
        return None, [user_error(error)], error


async def attempt_then_load(info: Info, work: Callable[[AsyncSession, Actor], Awaitable[int]],
                            loader: str) -> tuple[Any, list[UserError], DomainError | None]:
    """`attempt`, then the changed object by the id `work` returned, through the named loader of the
    fresh loaders the change leaves behind."""
    pk, errors, error = await attempt(info, work)
    return (None if pk is None else await getattr(info.context.loaders, loader).load(pk)), errors, error
