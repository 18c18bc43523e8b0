"""Enrols into one session that arrive together are written together.

In a registration rush every enrol into the popular session waits its turn for the session's row
lock (PostgreSQL) or the write lock (SQLite), and each turn was a transaction of its own, so the
session's enrols went one at a time however many workers served them. Within one process, enrols
into a session that arrive while another of its enrols is being written now wait for that one, and
the first of them then writes all that have arrived, in arrival order, with `enroll_many`: one lock,
one read, one INSERT per table and one commit for all of them, each learner still getting the seat
or the waitlist position rules 1 and 3 give in that order, their own audit row and their own event.

- A lone enrol is written at once: nothing waits for a batch to fill.
- A learner refused (unknown, already enrolled) is refused alone; the others are written.
- If a batch's transaction fails (a lost connection, the writer's request cancelled), the others of
  it are each written alone, in a transaction of their own: one request's failure is never another's.
- On SQLite a waiting enrol ends its read transaction first (as its own change would), so that the
  pool always has a connection for the writer.
- An enrol inside an idempotent request (one transaction around the whole operation, see
  `core.db.changing_as_one`) is written alone in it: its answer must not be given before that commits.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from ..audit import Actor
from ..db import HELD, end_reads, is_sqlite
from ..errors import DomainError
from . import enrollment
from .enrollment import Enrolled

Transaction = Callable[[], AbstractAsyncContextManager[AsyncSession]]
BATCH_LIMIT = 200
"""Enrols written together at most (PostgreSQL takes up to 32,767 parameters in a statement; 200
enrolments with their audit rows and events are about 5,400); the rest make the next batch."""
_LEAD, _ALONE = object(), object()  # what a waiting enrol may be told instead of its outcome


@dataclass
class _Ask:
    actor: Actor
    learner_id: int
    answer: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@lru_cache(maxsize=64)
def _waiting(engine: AsyncEngine | None) -> dict[int, list[_Ask]]:
    """Per database, per session: the enrols waiting for the one being written (the key is present
    while one is being written)."""
    return {}


async def enroll_together(engine: AsyncEngine, db: AsyncSession | None, transaction: Transaction, actor: Actor,
                          session_id: int, learner_id: int) -> Enrolled:
    """`enrollment.enroll` for a request whose change `transaction()` opens on its session (`db`, None
    while the request has none open): written with the enrols into the same session that arrive
    meanwhile. Returns the enrolment or raises its DomainError."""
    if db is not None and db.info.get(HELD):
        return await _alone(transaction, actor, session_id, learner_id)
    waiting = _waiting(engine)
    me = _Ask(actor, learner_id)
    queue = waiting.get(session_id)
    if queue is not None and db is not None and is_sqlite(engine):  # there the batch's writer takes a
        await end_reads(db)                                         # fresh connection: wait holding none
        queue = waiting.get(session_id)  # the batch may have been written meanwhile
    if queue is None:
        waiting[session_id] = []
    else:
        queue.append(me)
        try:
            answer = await me.answer
        except asyncio.CancelledError:
            if me.answer.done() and not me.answer.cancelled() and me.answer.result() is _LEAD:
                _hand_on(waiting, session_id)  # told to write the next batch, but gone: the next one does
            raise
        if answer is _ALONE:
            return await _alone(transaction, actor, session_id, learner_id)
        if answer is not _LEAD:
            return _outcome(answer)
    batch = [me]

    def joining() -> list[tuple[Actor, int]]:
        """Once the session's lock is held: the enrols that arrived until then join this batch."""
        queue, joined = waiting[session_id], []
        while queue and len(batch) < BATCH_LIMIT:
            ask = queue.pop(0)
            if not ask.answer.done():
                batch.append(ask)
                joined.append((ask.actor, ask.learner_id))
        return joined

    try:
        async with transaction() as db:
            try:
                outcomes = await enrollment.enroll_many(db, session_id, [(actor, learner_id)], joining)
            except DomainError as refusal:  # the session itself: nothing written, the same answer for all
                outcomes = [refusal] * len(batch)
    except BaseException:
        for ask in batch[1:]:
            _tell(ask, _ALONE)
        raise
    finally:
        _hand_on(waiting, session_id)
    for ask, outcome in zip(batch[1:], outcomes[1:]):
        _tell(ask, outcome)
    return _outcome(outcomes[0])


async def _alone(transaction: Transaction, actor: Actor, session_id: int, learner_id: int) -> Enrolled:
    async with transaction() as db:
        return await enrollment.enroll(db, actor, session_id, learner_id)


def _hand_on(waiting: dict[int, list[_Ask]], session_id: int) -> None:
    """The batch is written (or failed): the first enrol still waiting writes the next one."""
    queue = waiting.get(session_id, [])
    while queue:
        ask = queue.pop(0)
        if not ask.answer.done():
            ask.answer.set_result(_LEAD)
            return
    waiting.pop(session_id, None)


def _tell(ask: _Ask, answer: object) -> None:
    if not ask.answer.done():
        ask.answer.set_result(answer)


def _outcome(outcome: object) -> Enrolled:
    if isinstance(outcome, DomainError):
        raise outcome
    return outcome
