"""Attendance from a conferencing report: who was there, for how long, matched to the roster.

The manual-wins rule is not repeated here: the records go through `record_attendance`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..audit import Actor, record_change
from ..errors import DomainError, ErrorCode
from ..instants import utc_now
from ..models import (
    AttendanceStatus, Booking, Enrollment, EnrollmentStatus, Person, Resource, UnmatchedParticipant,
)
from ..providers import AttendanceRules, ParticipantSegment
from .attendance import AttendanceRecord, record_attendance
from .locks import lock_session


@dataclass
class Presence:
    """One person's time in the meeting: the union of their join/leave spans within the session."""

    name: str | None = None
    email: str | None = None
    spans: list[tuple[datetime, datetime]] = field(default_factory=list)

    def minutes(self, starts_at: datetime, ends_at: datetime) -> int:
        clipped = sorted((max(a, starts_at), min(b, ends_at)) for a, b in self.spans if min(b, ends_at) > max(a, starts_at))
        total, current_start, current_end = 0.0, None, None
        for a, b in clipped:
            if current_end is None or a > current_end:
                if current_end is not None:
                    total += (current_end - current_start).total_seconds()
                current_start, current_end = a, b
            else:
                current_end = max(current_end, b)
        if current_end is not None:
            total += (current_end - current_start).total_seconds()
        return round(total / 60)


def classify(presence: Presence | None, starts_at: datetime, ends_at: datetime,
             rules: AttendanceRules) -> tuple[AttendanceStatus, int]:
    """A status and minutes for one learner; LATE is reported before LEFT_EARLY when both apply."""
    if presence is None or not presence.spans:
        return AttendanceStatus.ABSENT, 0
    minutes = presence.minutes(starts_at, ends_at)
    length = (ends_at - starts_at).total_seconds() / 60
    if minutes * 100 < rules.present_min_percent * length:
        return AttendanceStatus.ABSENT, minutes
    first_join = min(a for a, _ in presence.spans)
    last_leave = max(b for _, b in presence.spans)
    if (first_join - starts_at).total_seconds() > rules.late_after_minutes * 60:
        return AttendanceStatus.LATE, minutes
    if (ends_at - last_leave).total_seconds() > rules.left_early_minutes * 60:
        return AttendanceStatus.LEFT_EARLY, minutes
    return AttendanceStatus.PRESENT, minutes


def _stranger_key(segment: ParticipantSegment, email: str | None) -> str:
    """Two dial-ins with the same name (or none) are two people unless the provider says they are one."""
    if email:
        return email
    if segment.registrant_id:
        return f"registrant:{segment.registrant_id}"
    if segment.participant_id:
        return f"participant:{segment.participant_id}"
    return f"name:{(segment.name or '').strip().lower()}"


@dataclass(frozen=True)
class ImportResult:
    recorded: int
    unmatched: int


async def import_attendance(db: AsyncSession, actor: Actor, session_id: int, source: str,
                            segments: list[ParticipantSegment], rules: AttendanceRules) -> ImportResult:
    """Turn a participants report into attendance of every enrolled learner; list who matched no one.

    Matching is by registrant id first, then by email. Whoever matched no one is told apart by email, then by
    the provider's ids, and only by name when it has none. A re-import replaces the earlier automatic result.
    """
    session = await lock_session(db, session_id)
    if utc_now() < session.starts_at:  # a test meeting the day before says nothing of who attended
        raise DomainError(ErrorCode.SESSION_NOT_STARTED, "The session has not started: its meeting's report "
                          "records no attendance yet.", "sessionId")
    roster = (await db.execute(
        select(Enrollment.id, Enrollment.meeting_registrant_id, Person.email)
        .join(Person, Person.id == Enrollment.learner_id)
        .where(Enrollment.session_id == session.id, Enrollment.status == EnrollmentStatus.ENROLLED)
        .order_by(Enrollment.id))).all()
    by_registrant = {r.meeting_registrant_id: r.id for r in roster if r.meeting_registrant_id}
    by_email = {r.email.strip().lower(): r.id for r in roster}
    staff = {e.strip().lower() for e in (await db.scalars(
        select(Resource.email).join(Booking, Booking.resource_id == Resource.id)
        .where(Booking.session_id == session.id, Resource.email.is_not(None)))).all()}

    present: dict[int, Presence] = {}
    strangers: dict[str, Presence] = {}
    for segment in segments:
        email = (segment.email or "").strip().lower() or None
        enrollment_id = by_registrant.get(segment.registrant_id) if segment.registrant_id else None
        if enrollment_id is None and email:
            enrollment_id = by_email.get(email)
        if enrollment_id is None and email in staff:
            continue  # the instructors are expected, not unmatched
        if enrollment_id is not None:
            presence = present.setdefault(enrollment_id, Presence())
        else:
            presence = strangers.setdefault(_stranger_key(segment, email), Presence())
        presence.name = presence.name or segment.name
        presence.email = presence.email or email
        presence.spans.append((segment.joined_at, segment.left_at))

    records = []
    for row in roster:
        status, minutes = classify(present.get(row.id), session.starts_at, session.ends_at, rules)
        records.append(AttendanceRecord(enrollment_id=row.id, status=status, minutes_attended=minutes))
    if records:
        await record_attendance(db, actor, session.id, records, source=source)

    previous = (await db.scalars(select(UnmatchedParticipant).where(
        UnmatchedParticipant.session_id == session.id, UnmatchedParticipant.source == source))).all()
    await db.execute(delete(UnmatchedParticipant).where(
        UnmatchedParticipant.session_id == session.id, UnmatchedParticipant.source == source))
    listed = []
    for presence in strangers.values():
        minutes = presence.minutes(session.starts_at, session.ends_at)
        db.add(UnmatchedParticipant(session_id=session.id, source=source, name=presence.name, email=presence.email,
                                    minutes_attended=minutes))
        listed.append({"name": presence.name, "email": presence.email, "minutes": minutes})
    await db.flush()
    if listed or previous:
        record_change(db, actor, "attendance.unmatched", "Session", session.id,
                      {"source": source, "unmatched": [{"name": p.name, "email": p.email,
                                                        "minutes": p.minutes_attended} for p in previous]},
                      {"source": source, "unmatched": listed})
    return ImportResult(recorded=len(records), unmatched=len(listed))
