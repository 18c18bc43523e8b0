"""Series: a session repeated by an RFC 5545 RRULE on its own local clock, scheduled all or nothing.

Occurrences are built on the wall clock of the session's IANA timezone (python-dateutil expands the
rule from the first part's local start) and each part is converted to UTC on its own day, so a
weekly 09:00 Europe/Berlin stays 09:00 across daylight-saving changes. Every occurrence is an
ordinary session (its own enrolments and attendance), made by the same rule functions as one
scheduled by hand (rule 11): all of them, or none when any occurrence is refused.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits, working_hours
from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..ids import to_global_id
from ..instants import UTC, local_shift_spans, require_aware, utc_now, wall_clock_gap
from ..models import (
    BookingRole, Course, ResourceKind, SeriesOccurrence, SeriesRule, Session, SessionSeries, SessionStatus,
)
from ..settings import Settings
from . import availability, enrollment
from .locks import lock_resources, lock_session
from .records import get_or_404
from .scheduling import (
    Move, PartSpan, active_bookings, cancel_session, check_instructor_ids, check_move, check_plan, clash_summary,
    create_session, move_session, plan_session, require_scheduled, session_part_rows, session_parts,
    set_bookings_aside, staffing,
)
from .capacity import check_room_capacity

MAX_OCCURRENCES = 366
RULE_LENGTH = 500
MAX_INTERVAL = 1000
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
PARTS = {"FREQ", "COUNT", "UNTIL", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "BYWEEKNO",
         "BYYEARDAY", "WKST"}
"""The rule parts a series may use: the time of day comes from startsAt (no BYHOUR, BYMINUTE, BYSECOND)."""
CYCLE_YEARS = 400
"""The Gregorian calendar repeats every 400 years (weekdays and leap years alike)."""


@dataclass(frozen=True)
class Occurrence:
    """One session of a series: its number (from 1, in time order, skipped dates not counted) and its parts."""

    number: int
    parts: list[PartSpan]


def _invalid(message: str) -> DomainError:
    return DomainError(ErrorCode.INVALID, message, "recurrence")


def _rule(recurrence: str) -> tuple[str, dict[str, str]]:
    """The RRULE as one normalised line (`RRULE:…`) and its parts; INVALID unless it ends, within 366."""
    text = limits.text(recurrence, "recurrence", RULE_LENGTH)
    body = text[len("RRULE:"):] if text.upper().startswith("RRULE:") else text
    pairs: dict[str, str] = {}
    for item in (p for p in body.split(";") if p.strip()):
        key, _, value = item.partition("=")
        key = key.strip().upper()
        if key not in PARTS:
            raise _invalid(f"recurrence may not use {key[:20]!r}; it may use {', '.join(sorted(PARTS))}.")
        if key in pairs:
            raise _invalid(f"recurrence gives {key} twice.")
        pairs[key] = value.strip().upper()
    if pairs.get("FREQ") not in FREQUENCIES:
        raise _invalid("recurrence needs FREQ=DAILY, WEEKLY, MONTHLY or YEARLY, e.g. RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10.")
    if "COUNT" not in pairs and "UNTIL" not in pairs:
        raise _invalid("A series ends: give the rule a COUNT or an UNTIL.")
    if "COUNT" in pairs and "UNTIL" in pairs:
        raise _invalid("Give the rule a COUNT or an UNTIL, not both (RFC 5545).")
    if "COUNT" in pairs and not (pairs["COUNT"].isdigit() and 1 <= int(pairs["COUNT"]) <= MAX_OCCURRENCES):
        raise _invalid(f"COUNT is a number from 1 to {MAX_OCCURRENCES}: a series has at most {MAX_OCCURRENCES} "
                       "occurrences.")
    if "INTERVAL" in pairs and not (pairs["INTERVAL"].isdigit() and 1 <= int(pairs["INTERVAL"]) <= MAX_INTERVAL):
        raise _invalid(f"INTERVAL is a number from 1 to {MAX_INTERVAL}.")
    return "RRULE:" + ";".join(f"{k}={v}" for k, v in pairs.items()), pairs


def _until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL on the local wall clock: an instant in UTC (`…Z`) read on the zone's clock, a local date-time as
    it is, a date as the end of that local day (inclusive)."""
    try:
        if value.endswith("Z"):
            return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
        if "T" in value:
            return datetime.strptime(value, "%Y%m%dT%H%M%S")
        return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)
    except ValueError:
        raise _invalid("UNTIL is a date (20271231), a local date-time (20271231T170000) or UTC "
                       "(20271231T160000Z).") from None


def _expand(pairs: dict[str, str], first: datetime, zone: ZoneInfo, settings: Settings | None) -> list[datetime]:
    """The rule's occurrences as wall-clock times (naive, in `zone`) from `first`'s local start.

    python-dateutil walks period by period until an occurrence passes UNTIL or the year 9999, so a rule
    whose dates never come (the 30th of February) would walk 8,000 years. The walk is done 400·k years
    later (the same calendar), just far enough that the scheduling horizon still fits before 9999: a
    few hundred years at worst. What lies past the horizon is refused whatever the rule says."""
    local = first.astimezone(zone).replace(tzinfo=None)
    horizon = limits.latest_start(settings).astimezone(zone).replace(tzinfo=None)
    rule_parts = dict(pairs)
    if "UNTIL" in pairs:
        until = _until(pairs["UNTIL"], zone)
        if until > horizon + timedelta(days=1):
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"UNTIL is past the scheduling horizon "
                              f"({horizon.date().isoformat()}).", "recurrence")
    shift = max(0, (9999 - horizon.year - 1) // CYCLE_YEARS) * CYCLE_YEARS  # the horizon still before 9999
    if "UNTIL" in pairs:
        rule_parts["UNTIL"] = until.replace(year=until.year + shift).strftime("%Y%m%dT%H%M%S")
    try:
        rule = rrulestr("RRULE:" + ";".join(f"{k}={v}" for k, v in rule_parts.items()),
                        dtstart=local.replace(year=local.year + shift))
        if not isinstance(rule, rrule):
            raise ValueError("one RRULE only")
        found = [o.replace(year=o.year - shift) for o in islice(iter(rule), MAX_OCCURRENCES + 1)]
    except (ValueError, TypeError, OverflowError, IndexError, KeyError) as exc:
        raise _invalid(f"recurrence is not an RFC 5545 RRULE Podium can expand: {exc}.") from None
    if len(found) > MAX_OCCURRENCES:
        raise _invalid(f"A series has at most {MAX_OCCURRENCES} occurrences.")
    if not found:
        raise _invalid("The rule makes no occurrence before the scheduling horizon.")
    if "COUNT" in pairs and len(found) < int(pairs["COUNT"]):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"The rule makes {len(found)} of its {pairs['COUNT']} "
                          "occurrences before the scheduling horizon.", "recurrence")
    return found


def occurrences(recurrence: str, parts: list[PartSpan], timezone: str, except_dates: list[date] | None = None,
                settings: Settings | None = None) -> tuple[str, list[Occurrence]]:
    """The normalised rule and every occurrence's parts: each part moved by the occurrence's distance from the
    first on the local wall clock, then converted to UTC (a time the clock skips moves on by the gap)."""
    line, pairs = _rule(recurrence)
    zone = ZoneInfo(timezone)
    skipped = set(limits.items(except_dates, "exceptDates", MAX_OCCURRENCES))
    first_local = parts[0][0].astimezone(zone).replace(tzinfo=None)
    wall = _expand(pairs, parts[0][0], zone, settings)
    unknown = skipped - {o.date() for o in wall}
    if unknown:
        raise DomainError(ErrorCode.INVALID, f"exceptDates names a day the rule does not make: "
                          f"{min(unknown).isoformat()}.", "exceptDates")
    found: list[Occurrence] = []
    for number, local in enumerate((w for w in wall if w.date() not in skipped), 1):
        delta = local - first_local
        shifted = local_shift_spans(parts, zone, delta)
        try:
            shifted = session_parts(shifted[0][0], shifted[-1][1], shifted, settings)
        except DomainError as exc:
            raise DomainError(exc.code, f"Occurrence {number} ({local.date().isoformat()}): {exc.message}",
                              "recurrence") from None
        found.append(Occurrence(number, shifted))
    if not found:
        raise DomainError(ErrorCode.INVALID, "The rule makes no occurrence.", "recurrence")
    return line, found


SINGLE = "RRULE:FREQ=DAILY;COUNT=1"
"""The rule of an occurrence the series' pattern does not make from its own start: itself alone."""


@dataclass(frozen=True)
class Recurrence:
    """A rule of a series (a SeriesRule): DTSTART, DTEND, the RRULE and the local dates it leaves out (EXDATE),
    making the occurrences from `first` on."""

    first: int
    starts_at: datetime
    ends_at: datetime
    rule: str
    except_dates: tuple[date, ...] = ()


def _local_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time of `zone` as an instant (a time the clock skips moves on by the gap, as RFC 5545 says)."""
    return local.replace(tzinfo=zone).astimezone(UTC)


def _pattern(rule: str) -> tuple[dict[str, str], bool]:
    """A rule's parts without its end (COUNT, UNTIL): the pattern its rules repeat; and whether it ends by UNTIL."""
    pairs = _rule(rule)[1]
    return {k: v for k, v in pairs.items() if k not in ("COUNT", "UNTIL")}, "UNTIL" in pairs


def _walk(pattern: dict[str, str], start: datetime, zone: ZoneInfo, skip: set[date], keep: int,
          settings: Settings | None) -> list[tuple[int, datetime, bool]]:
    """The pattern's wall-clock instances from `start` on (raw index, local time, left out by `skip`), until `keep`
    are kept; none when it makes too few before the scheduling horizon."""
    try:
        wall = _expand({**pattern, "COUNT": str(min(MAX_OCCURRENCES, keep + len(skip)))}, start, zone, settings)
    except DomainError:
        return []
    return [(index, local, local.date() in skip) for index, local in enumerate(wall)]


def _ended(pattern: dict[str, str], until: bool, index: int, local: datetime, zone: ZoneInfo) -> str:
    """The pattern as a rule whose last instance is `local` (raw index `index`): COUNT, or UNTIL in UTC (to the
    second, rounded up so that the instance stays in)."""
    last = _local_utc(local, zone)
    last += timedelta(microseconds=-last.microsecond, seconds=1 if last.microsecond else 0)
    end = {"UNTIL": last.strftime("%Y%m%dT%H%M%SZ")} if until else {"COUNT": str(index + 1)}
    return "RRULE:" + ";".join(f"{k}={v}" for k, v in {**pattern, **end}.items())


def describe(made_rule: str, timezone: str, spans: list[tuple[int, datetime, datetime]], skip: set[date],
             settings: Settings | None = None) -> list[Recurrence]:
    """The rules that make exactly these occurrences ((number, start, end), numbers consecutive, in order): from
    the first one not yet described, the series' pattern (`made_rule` without its end) from its start, as far as
    it makes the next occurrences at their instants and lengths, `skip` left out (EXDATE); an occurrence the
    pattern does not make from its own start is a rule of its own (SINGLE). A rule ends by COUNT, or by UNTIL
    when `made_rule` does."""
    zone = ZoneInfo(timezone)
    pattern, until = _pattern(made_rule)
    found: list[Recurrence] = []
    at = 0
    while at < len(spans):
        number, start, end = spans[at]
        matched, last, left_out, pending = 0, None, [], []
        for index, local, skipped in _walk(pattern, start, zone, skip, len(spans) - at, settings):
            if at + matched == len(spans):
                break
            if skipped:
                pending.append(local.date())
                continue
            _, wanted_start, wanted_end = spans[at + matched]
            if _local_utc(local, zone) != wanted_start or wanted_end - wanted_start != end - start:
                break
            matched, last, left_out, pending = matched + 1, (index, local), left_out + pending, []
        if last is None:
            found.append(Recurrence(number, start, end, SINGLE))
            at += 1
            continue
        found.append(Recurrence(number, start, end, _ended(pattern, until, *last, zone), tuple(left_out)))
        at += matched
    return found


def truncated(rule: Recurrence, keep: int, timezone: str, settings: Settings | None = None) -> Recurrence:
    """A rule ended after its first `keep` occurrences (before the first occurrence a later rule takes over)."""
    zone = ZoneInfo(timezone)
    pattern, until = _pattern(rule.rule)
    walked = _walk(pattern, rule.starts_at, zone, set(rule.except_dates), keep, settings)
    kept = [(index, local) for index, local, skipped in walked if not skipped][:keep]
    if len(kept) < keep:  # its rule no longer makes them: leave it as it is
        return rule
    last = kept[-1]
    left_out = tuple(local.date() for index, local, skipped in walked if skipped and index < last[0])
    return replace(rule, rule=_ended(pattern, until, *last, zone), except_dates=left_out)


def _tagged(clashes: list[Clash], found: list[Occurrence], held: list[list[PartSpan]]) -> list[Clash]:
    """Each clash once per occurrence it stands in the way of, with the occurrence's number."""
    tagged = []
    for occurrence, intervals in zip(found, held):
        for clash in clashes:
            if any(clash.starts_at < end and clash.ends_at > start for start, end in intervals):
                tagged.append(replace(clash, occurrence=occurrence.number))
    return tagged


async def schedule_series(db: AsyncSession, actor: Actor, *, recurrence: str, starts_at: datetime,
                          ends_at: datetime, parts: list[PartSpan] | None = None,
                          except_dates: list[date] | None = None, dry_run: bool = False,
                          settings: Settings | None = None, allow_outside_hours: bool = False, **session: Any) -> tuple[SessionSeries | None,
                                                                                     list[Occurrence], list[Session]]:
    """Check every occurrence, then make them all (a SessionSeries and one session each), or none:
    RESOURCE_CONFLICT lists each clash with its occurrence. `dry_run`: check, and write nothing."""
    first = session_parts(starts_at, ends_at, parts, settings)
    timezone = limits.timezone(session.get("timezone"))
    # pure computation of up to half a second for a rule whose dates never come: off the event loop
    line, found = await asyncio.to_thread(occurrences, recurrence, first, timezone, except_dates, settings)
    plan = await plan_session(db, **session)
    held = [plan.held(o.parts) for o in found]
    for index in range(1, len(found)):
        if held[index][0][0] < held[index - 1][-1][1]:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"Occurrence {found[index].number} starts before "
                              f"occurrence {found[index - 1].number} ends (buffers included).", "recurrence")
    clashes = _tagged(await check_plan(db, plan, [p for o in found for p in o.parts]), found, held)
    if clashes:
        numbers = ", ".join(str(n) for n in sorted({c.occurrence for c in clashes}))
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, f"Occurrence(s) {numbers} clash: {clash_summary(clashes)}; "
                          "no session of the series was made.", "recurrence", conflicts=clashes)
    await availability.check_availability(db, actor, plan.resources, [h for intervals in held for h in intervals],
                                          allow_outside_hours=allow_outside_hours, field_name="recurrence")
    if dry_run:
        return None, found, []
    series = SessionSeries(rule=line, timezone=timezone, occurrences=len(found),
                           except_dates=sorted(d.isoformat() for d in set(except_dates or [])))
    db.add(series)
    await db.flush()
    db.add(_rule_row(series.id, Recurrence(1, found[0].parts[0][0], found[0].parts[-1][1], line,
                                           tuple(sorted(set(except_dates or []))))))
    made = []
    for o in found:
        facts = {"id": to_global_id("Series", series.id), "rule": line, "occurrence": o.number, "count": len(found)}
        session = await create_session(db, actor, plan, o.parts, series=facts)
        db.add(SeriesOccurrence(series_id=series.id, session_id=session.id, number=o.number))
        made.append(session)
    await db.flush()
    record_change(db, actor, "series.schedule", "SessionSeries", series.id, None,
                  {"rule": line, "timezone": timezone, "sessions": [s.id for s in made]})
    return series, found, made


def _rule_row(series_id: int, rule: Recurrence) -> SeriesRule:
    return SeriesRule(series_id=series_id, first_occurrence=rule.first, starts_at=rule.starts_at,
                      ends_at=rule.ends_at, rule=rule.rule, except_dates=[d.isoformat() for d in rule.except_dates])


async def series_rules(db: AsyncSession, series_id: int) -> list[Recurrence]:
    """A series' rules, in occurrence order."""
    return [Recurrence(r.first_occurrence, r.starts_at, r.ends_at, r.rule,
                       tuple(date.fromisoformat(d) for d in r.except_dates))
            for r in (await db.scalars(select(SeriesRule).where(SeriesRule.series_id == series_id)
                                       .order_by(SeriesRule.first_occurrence))).all()]


async def _describe_from(db: AsyncSession, series: SessionSeries, first: int,
                         settings: Settings) -> list[Recurrence]:
    """After occurrences from `first` on moved: the rule in force ends before `first`, and new rules describe
    every occurrence from `first` on as it is scheduled now (a cancelled one where it stayed). The rules after."""
    before = await series_rules(db, series.id)
    spans = [(n, s, e) for n, s, e in (await db.execute(
        select(SeriesOccurrence.number, Session.starts_at, Session.ends_at)
        .join(Session, Session.id == SeriesOccurrence.session_id)
        .where(SeriesOccurrence.series_id == series.id, SeriesOccurrence.number >= first)
        .order_by(SeriesOccurrence.number))).all()]
    kept = [r for r in before if r.first < first]
    if kept:
        kept[-1] = truncated(kept[-1], first - kept[-1].first, series.timezone, settings)
    skip = {date.fromisoformat(d) for d in series.except_dates or []}
    # pure computation (python-dateutil), up to one expansion per occurrence: off the event loop
    after = kept + await asyncio.to_thread(describe, series.rule, series.timezone, spans, skip, settings)
    await db.execute(delete(SeriesRule).where(SeriesRule.series_id == series.id))
    db.add_all([_rule_row(series.id, r) for r in after])
    await db.flush()
    return after


async def cancel_series(db: AsyncSession, actor: Actor, series_id: int, from_: datetime | None = None,
                        reason: str | None = None) -> tuple[SessionSeries, list[Session]]:
    """Cancel every SCHEDULED occurrence starting at or after `from_` (all of them when None), each as
    cancelSession would; the earlier ones stay."""
    series = await get_or_404(db, SessionSeries, series_id, "seriesId")
    query = (select(Session.id).join(SeriesOccurrence, SeriesOccurrence.session_id == Session.id)
             .where(SeriesOccurrence.series_id == series.id, Session.status == SessionStatus.SCHEDULED))
    if from_ is not None:
        query = query.where(Session.starts_at >= require_aware(from_, "from"))
    ids = (await db.scalars(query.order_by(Session.starts_at, Session.id))).all()
    cancelled = [await cancel_session(db, actor, sid, reason) for sid in ids]
    return series, cancelled


async def enroll_in_series(db: AsyncSession, actor: Actor, series_id: int, learner_id: int
                           ) -> list[enrollment.Enrolled]:
    """Enrol a learner in every occurrence still open for enrolment (`enrollment.open_for_enrolment_sql`), all
    or none: each through `enrollment.enroll` (a seat or the end of the waitlist, or PENDING_APPROVAL; audited
    and announced), the sessions locked one by one in id order, the one lock order, so that concurrent calls
    queue instead of deadlocking. An occurrence that closed between the read and its lock is left out, as a
    closed one is; ALREADY_ENROLLED (on learnerId, naming the occurrence) refuses the whole call; INVALID on
    seriesId when no occurrence is open. The enrolments in occurrence order."""
    series = await get_or_404(db, SessionSeries, series_id, "seriesId")
    numbered = dict((await db.execute(
        select(Session.id, SeriesOccurrence.number).join(SeriesOccurrence, SeriesOccurrence.session_id == Session.id)
        .where(SeriesOccurrence.series_id == series.id, enrollment.open_for_enrolment_sql(utc_now())))).all())
    made = []
    for session_id in sorted(numbered):
        try:
            made.append(await enrollment.enroll(db, actor, session_id, learner_id))
        except DomainError as error:
            if error.code is ErrorCode.SESSION_NOT_OPEN:  # checked under its lock: nothing was written for it
                continue
            if error.code is ErrorCode.ALREADY_ENROLLED:
                raise DomainError(error.code, f"Occurrence {numbered[session_id]}: {error.message}",
                                  error.field) from None
            raise
    if not made:
        raise DomainError(ErrorCode.INVALID, "No occurrence of the series is open for enrolment.", "seriesId")
    made.sort(key=lambda e: numbered[e.session_id])
    record_change(db, actor, "series.enroll", "SessionSeries", series.id, None,
                  {"learner_id": learner_id, "enrollments": [e.id for e in made]})
    return made


MAX_SHIFT_MINUTES = 366 * 24 * 60
"""The furthest a series moves at once: a year."""


@dataclass(frozen=True)
class SeriesMove:
    """How rescheduleSeries moves each occurrence, on the series' local wall clock."""

    start_time: str | None = None          # "HH:MM": each occurrence's first part starts then on its own date
    shift_minutes: int | None = None       # or: every part this many minutes later (earlier if negative)
    duration_minutes: int | None = None    # every part lasts this long (from its new start)
    instructor_ids: tuple[int, ...] | None = None  # re-staffed: these instructors (the first leads)
    room_id: int | None = None             # re-staffed: this room

    @property
    def restaffs(self) -> bool:
        return self.instructor_ids is not None or self.room_id is not None

    def checked(self) -> tuple[int | None, timedelta | None, timedelta | None]:
        """(start minute of the day, shift, duration), each None when not given; INVALID when nothing changes."""
        if (self.start_time is None and self.shift_minutes is None and self.duration_minutes is None
                and not self.restaffs):
            raise DomainError(ErrorCode.INVALID, "Give startTime, shiftMinutes, durationMinutes, instructorIds or "
                              "roomId: what changes.", "startTime")
        if self.instructor_ids is not None:
            check_instructor_ids(list(self.instructor_ids))
        if self.start_time is not None and self.shift_minutes is not None:
            raise DomainError(ErrorCode.INVALID, "Give startTime or shiftMinutes, not both.", "shiftMinutes")
        start = None
        if self.start_time is not None:
            start = working_hours.minute_of(self.start_time, "startTime")
            if start >= working_hours.DAY:
                raise DomainError(ErrorCode.INVALID, "startTime is a time of day from 00:00 to 23:59.", "startTime")
        shift = None
        if self.shift_minutes is not None:
            if not 0 < abs(self.shift_minutes) <= MAX_SHIFT_MINUTES:
                raise DomainError(ErrorCode.INVALID, f"shiftMinutes is from -{MAX_SHIFT_MINUTES} to "
                                  f"{MAX_SHIFT_MINUTES}, not 0.", "shiftMinutes")
            shift = timedelta(minutes=self.shift_minutes)
        duration = None
        if self.duration_minutes is not None:
            if self.duration_minutes <= 0:
                raise DomainError(ErrorCode.INVALID, "durationMinutes is at least 1.", "durationMinutes")
            duration = timedelta(minutes=self.duration_minutes)
        return start, shift, duration

    @property
    def field(self) -> str:
        return "startTime" if self.start_time is not None else "shiftMinutes" if self.shift_minutes is not None \
            else "durationMinutes" if self.duration_minutes is not None else \
            "instructorIds" if self.instructor_ids is not None else "roomId"


def _staffed(move_how: SeriesMove, session: Session, bookings: list, by_id: dict) -> tuple[list, list[BookingRole]]:
    """The resources and roles of a re-staffed occurrence: the new instructors (or its own, lead first), the
    new room (or its own), its equipment."""
    own = sorted(bookings, key=lambda b: (b.role is not BookingRole.LEAD_INSTRUCTOR, b.id))
    instructor_ids = list(move_how.instructor_ids) if move_how.instructor_ids is not None else list(dict.fromkeys(
        b.resource_id for b in own if b.role in (BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR)))
    room_id = move_how.room_id if move_how.room_id is not None else next(
        (b.resource_id for b in own if b.role is BookingRole.ROOM), None)
    equipment = sorted({b.resource_id for b in own if b.role is BookingRole.EQUIPMENT})
    room = by_id[room_id] if room_id is not None else None
    resources, roles = staffing([by_id[i] for i in instructor_ids], room, [by_id[e] for e in equipment])
    check_room_capacity(session.capacity, room, session.delivery_mode)
    return resources, roles


def _moved(session: Session, spans: list[PartSpan], start: int | None, shift: timedelta | None,
           duration: timedelta | None) -> list[PartSpan]:
    """An occurrence's parts moved on its local wall clock (a time the clock skips moves on by the gap)."""
    zone = ZoneInfo(session.timezone)
    delta = shift
    if start is not None:
        first = session.starts_at.astimezone(zone)
        target = datetime.combine(first.date(), time(start // 60, start % 60), zone)
        delta = wall_clock_gap(session.starts_at, target, zone)
    if delta:
        spans = local_shift_spans(spans, zone, delta)
    if duration is not None:
        spans = [(s, s + duration) for s, _ in spans]
    return spans


async def reschedule_series(db: AsyncSession, actor: Actor, series_id: int, how: SeriesMove, *,
                            settings: Settings, from_: datetime | None = None, from_occurrence: int | None = None,
                            dry_run: bool = False, allow_outside_hours: bool = False
                            ) -> tuple[SessionSeries, list[Occurrence], list[Session]]:
    """Move this and later occurrences (every SCHEDULED one numbered `from_occurrence` or more, or starting
    at or after `from_`; all of them when neither is given) on the series' local wall clock, all or none:
    each is checked as rescheduleSession checks one (records true, qualifications, rules 2 and 2b with the
    moving sessions' own bookings left out, working hours), RESOURCE_CONFLICT lists every clash with its
    occurrence; then each is moved as rescheduleSession moves one (audited, `session.rescheduled`, which
    tells the enrolled). `how.instructor_ids` / `how.room_id` re-staff them too: the rules are checked for
    the new resources (qualifications, the room's seats) and the bookings written anew for them (the old
    ones deleted; the audit entry keeps them). `dry_run`: check, and write nothing."""
    start, shift, duration = how.checked()
    if from_ is not None and from_occurrence is not None:
        raise DomainError(ErrorCode.INVALID, "Give from or fromOccurrence, not both.", "fromOccurrence")
    series = await get_or_404(db, SessionSeries, series_id, "seriesId")
    query = (select(SeriesOccurrence.number, Session.id).join(Session, SeriesOccurrence.session_id == Session.id)
             .where(SeriesOccurrence.series_id == series.id, Session.status == SessionStatus.SCHEDULED))
    if from_ is not None:
        query = query.where(Session.starts_at >= require_aware(from_, "from"))
    if from_occurrence is not None:
        if not 1 <= from_occurrence <= series.occurrences:
            raise DomainError(ErrorCode.NOT_FOUND, f"The series has occurrences 1 to {series.occurrences}.",
                              "fromOccurrence")
        query = query.where(SeriesOccurrence.number >= from_occurrence)
    numbered = {sid: number for number, sid in (await db.execute(query)).all()}
    if not numbered:
        raise DomainError(ErrorCode.INVALID, "No occurrence of the series still scheduled from there on.",
                          "fromOccurrence" if from_occurrence is not None else "from")
    sessions = [await lock_session(db, sid, "seriesId") for sid in sorted(numbered)]  # the one lock order
    for session in sessions:
        require_scheduled(session)
    sessions.sort(key=lambda s: numbered[s.id])
    found: list[tuple[Session, list]] = []
    for session in sessions:
        found.append((session, await active_bookings(db, session.id)))
    wanted = sorted({b.resource_id for _, bookings in found for b in bookings})
    locked = await lock_resources(db, {  # one statement, every resource in id order: the one lock order
        "seriesId": (wanted, None), "instructorIds": (list(how.instructor_ids or []), ResourceKind.INSTRUCTOR),
        "roomId": ([how.room_id] if how.room_id is not None else [], ResourceKind.ROOM)})
    by_id = {r.id: r for rs in locked.values() for r in rs}
    moves: list[Move] = []
    for session, bookings in found:
        current = await session_part_rows(db, session.id)
        spans = _moved(session, [(p.starts_at, p.ends_at) for p in current], start, shift, duration)
        try:
            spans = session_parts(spans[0][0], spans[-1][1], spans, settings)
        except DomainError as exc:
            raise DomainError(exc.code, f"Occurrence {numbered[session.id]}: {exc.message}", how.field) from None
        if how.restaffs:
            resources, roles = _staffed(how, session, bookings, by_id)
            moves.append(Move(session, current, spans, bookings, resources, roles))
        else:
            moves.append(Move(session, current, spans, bookings,
                              [by_id[rid] for rid in sorted({b.resource_id for b in bookings})]))
    for earlier, later in zip(moves, moves[1:]):
        if later.held[0][0] < earlier.held[-1][1]:
            raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"Occurrence {numbered[later.session.id]} would start "
                              f"before occurrence {numbered[earlier.session.id]} ends (buffers included).", how.field)
    courses = {c.id: c for c in (await db.scalars(select(Course).where(
        Course.id.in_({s.course_id for s in sessions})))).all()}
    moving = set(numbered)
    clashes = []
    for move in moves:
        for clash in await check_move(db, move, courses[move.session.course_id], moving):
            clashes.append(replace(clash, occurrence=numbered[move.session.id]))
    if clashes:
        numbers = ", ".join(str(n) for n in sorted({c.occurrence for c in clashes}))
        raise DomainError(ErrorCode.RESOURCE_CONFLICT, f"Occurrence(s) {numbers} clash: {clash_summary(clashes)}; "
                          "no occurrence was moved.", how.field, conflicts=clashes)
    for move in moves:
        await availability.check_availability(db, actor, move.resources, move.held,
                                              allow_outside_hours=allow_outside_hours, field_name=how.field)
    occurrences_found = [Occurrence(numbered[m.session.id], m.spans) for m in moves]
    if dry_run:
        return series, occurrences_found, []
    retimed = [numbered[m.session.id] for m in moves if m.spans != [(p.starts_at, p.ends_at) for p in m.current]]
    await set_bookings_aside(db, moves)
    moved = [await move_session(db, actor, move, settings) for move in moves]
    before = after = await series_rules(db, series.id)
    if retimed:  # else re-staffed only, at the same times: the recurrence stays as it is
        after = await _describe_from(db, series, min(retimed), settings)
    record_change(db, actor, "series.reschedule", "SessionSeries", series.id, {"rules": [r.rule for r in before]}, {
        "rules": [{"from_occurrence": r.first, "starts_at": r.starts_at.isoformat(), "rule": r.rule} for r in after],
        "start_time": how.start_time, "shift_minutes": how.shift_minutes, "duration_minutes": how.duration_minutes,
        "instructor_ids": list(how.instructor_ids) if how.instructor_ids is not None else None,
        "room_id": how.room_id, "sessions": [s.id for s in moved]})
    return series, occurrences_found, moved
