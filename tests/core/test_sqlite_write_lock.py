"""SQLite write transactions run on the event loop's thread once they hold the write lock
(core/sqlite_driver.py): when another process holds the lock, a change waits for it without holding
the event loop (other requests go on), then goes through; a change refused midway leaves nothing."""
from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from sqlalchemy import func, select

from podium.core.db import changing
from podium.core.errors import DomainError
from podium.core.models import AuditEntry, Enrollment, OutboxMessage
from podium.core.services import enrollment as enrolment_service
from tests import builders as b
from tests.builders import ADMIN

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


async def _counts(sessions) -> tuple[int, int, int]:
    async with sessions() as db:
        return tuple([await db.scalar(select(func.count()).select_from(model))
                      for model in (Enrollment, AuditEntry, OutboxMessage)])


async def test_an_enrol_waits_for_another_process_holding_the_write_lock_while_the_loop_runs_on(
        sessions, database_url):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
    learner = (await b.person(sessions)).id
    before = await _counts(sessions)
    other_process = sqlite3.connect(database_url.split("///", 1)[1], isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")  # the write lock, held elsewhere
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def enrol():
        async with sessions() as db, changing(db):
            return (await enrolment_service.enroll(db, ADMIN, s.id, learner)).id

    beating = asyncio.create_task(ticker())
    try:
        waiting = asyncio.create_task(enrol())
        await asyncio.sleep(0.5)
        assert not waiting.done()  # it waits for the lock (the busy timeout), it does not fail
        assert ticks >= 20  # and the event loop went on meanwhile: the wait is on the connection's thread
        started = time.monotonic()
        other_process.execute("COMMIT")
        enrolment_id = await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 5
    finally:
        beating.cancel()
        other_process.close()
    assert enrolment_id is not None
    assert await _counts(sessions) == (before[0] + 1, before[1] + 1, before[2] + 1)


async def test_a_change_refused_after_its_writes_began_leaves_nothing_and_the_next_one_goes_through(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=5)
    learner = (await b.person(sessions)).id
    before = await _counts(sessions)

    class Refused(Exception):
        pass

    with pytest.raises(Refused):
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, learner)  # written on the loop's thread
            raise Refused
    assert await _counts(sessions) == before
    async with sessions() as db, changing(db):
        await enrolment_service.enroll(db, ADMIN, s.id, learner)
    with pytest.raises(DomainError):  # a refusal before any write: nothing, and the lock is free after
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, learner)
    assert await _counts(sessions) == (before[0] + 1, before[1] + 1, before[2] + 1)
