"""The row locks every change takes, and the outbox ordering of a session's events.

Scheduling, enrolment, meetings, attendance and programs all lock through here, so the lock order
is one: the session first (`lock_session`), then its resources in id order (`lock_resources`).
"""
from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Row, Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from ..errors import DomainError, ErrorCode
from ..models import Resource, ResourceKind, Session


def session_ordering_key(session_id: int) -> str:
    """The outbox delivers a session's messages in order: they share this key."""
    return f"session:{session_id}"


async def lock_session(db: AsyncSession, session_id: int, field: str = "sessionId") -> Session:
    """Load a session with its row locked: every change to it, or its enrolments, goes through here."""
    session = await db.scalar(select(Session).where(Session.id == session_id).with_for_update()
                              .execution_options(populate_existing=True))
    if session is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No session with that id.", field)
    return session


@lru_cache(maxsize=32)
def _session_row_lock(columns: tuple[str, ...]) -> Select:
    """Built once per column list: the statement, its cache key and its compiled form are reused."""
    table = Session.__table__  # the table, not the entity: plain Core, no ORM loading of the row
    return select(*(table.c[c] for c in columns)).where(table.c.id == bindparam("session_id")).with_for_update()


async def lock_session_row(db: AsyncSession, session_id: int, columns: tuple[str, ...],
                           field: str = "sessionId") -> Row:
    """`lock_session` for a change made with statements: the same row lock (the same lock order), and
    only the `columns` it reads, as a plain row (no ORM object, no identity map)."""
    row = (await db.execute(_session_row_lock(("id", *columns)), {"session_id": session_id})).first()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No session with that id.", field)
    return row


async def lock_resources(db: AsyncSession, wanted: dict[str, tuple[list[int], ResourceKind | None]]
                         ) -> dict[str, list[Resource]]:
    """Load and row-lock every resource of a change in one query, in id order, so that concurrent
    changes on PostgreSQL queue on the same rows in the same order and never deadlock."""
    ids = sorted({rid for rids, _ in wanted.values() for rid in rids})
    rows = (await db.scalars(select(Resource).where(Resource.id.in_(ids)).order_by(Resource.id)
                             .options(selectinload(Resource.qualifications)).with_for_update()
                             .execution_options(populate_existing=True))).all() if ids else []
    by_id = {r.id: r for r in rows}
    found: dict[str, list[Resource]] = {}
    for field, (rids, kind) in wanted.items():
        for rid in rids:
            resource = by_id.get(rid)
            if resource is None:
                raise DomainError(ErrorCode.NOT_FOUND, f"No resource with id {rid}.", field)
            if kind is not None and resource.kind is not kind:
                raise DomainError(ErrorCode.INVALID, f"{resource.name} is a {resource.kind.value.lower()}, "
                                  f"not a {kind.value.lower()}.", field)
        found[field] = [by_id[rid] for rid in rids]
    return found
