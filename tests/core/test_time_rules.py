"""Rule 5: instants in UTC, offsets required, local wall-clock time right across DST."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from podium.core.db import changing
from podium.core.errors import DomainError, ErrorCode
from podium.core.models import Session
from podium.core.services import scheduling
from tests import builders as b
from tests.builders import ADMIN


async def test_overlap_written_with_different_offsets_is_found(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    year = datetime.now(timezone.utc).year + 1
    berlin = datetime(year, 6, 2, 10, 0, tzinfo=timezone(timedelta(hours=2)))      # 08:00 UTC
    await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=berlin, tz="Europe/Berlin")
    new_york = datetime(year, 6, 2, 5, 0, tzinfo=timezone(timedelta(hours=-4)))    # 09:00 UTC: overlaps
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=new_york,
                        tz="America/New_York")
    assert refused.value.code is ErrorCode.RESOURCE_CONFLICT


async def test_naive_datetimes_and_bad_ranges_are_refused(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    naive = datetime(2030, 1, 1, 9, 0)
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=naive)
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TIME_RANGE, "startsAt")
    aware = datetime(2030, 1, 1, 9, 0, tzinfo=timezone.utc)
    with pytest.raises(DomainError) as refused:
        async with sessions() as db, changing(db):
            await scheduling.schedule_session(db, ADMIN, course_id=course.id, starts_at=aware, ends_at=aware,
                                              timezone="UTC", delivery_mode="VIRTUAL", instructor_ids=[lead.id])
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID_TIME_RANGE, "endsAt")
    with pytest.raises(DomainError) as refused:
        await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=aware, tz="Mars/Olympus")
    assert (refused.value.code, refused.value.field) == (ErrorCode.INVALID, "timezone")


async def test_sessions_either_side_of_dst_keep_their_local_time(sessions):
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    london = ZoneInfo("Europe/London")
    year = datetime.now(timezone.utc).year + 1
    # UK clocks go forward on the last Sunday of March: 09:00 local is 09:00 UTC before, 08:00 UTC after.
    before = datetime(year, 3, 20, 9, 0, tzinfo=london)
    after = datetime(year, 4, 3, 9, 0, tzinfo=london)
    ids = [(await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], starts_at=when)).id
           for when in (before, after)]
    async with sessions() as db:
        stored = [await db.get(Session, sid) for sid in ids]
    assert [s.starts_at.utcoffset() for s in stored] == [timedelta(0), timedelta(0)]
    assert [s.starts_at.hour for s in stored] == [9, 8]
    assert [s.starts_at.astimezone(ZoneInfo(s.timezone)).hour for s in stored] == [9, 9]
