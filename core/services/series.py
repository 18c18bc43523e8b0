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
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .. import limits
from ..audit import Actor, record_change
from ..errors import Clash, DomainError, ErrorCode
from ..ids import to_global_id
from ..instants import UTC, local_shift, require_aware
from ..models import SeriesOccurrence, Session, SessionSeries, SessionStatus
from ..settings import Settings
from . import availability
from .records import get_or_404
from .scheduling import (
    PartSpan, cancel_session, check_plan, clash_summary, create_session, plan_session, session_parts,
)

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
        shifted = [(local_shift(s, zone, delta), local_shift(e, zone, delta)) for s, e in parts]
        try:
            shifted = session_parts(shifted[0][0], shifted[-1][1], shifted, settings)
        except DomainError as exc:
            raise DomainError(exc.code, f"Occurrence {number} ({local.date().isoformat()}): {exc.message}",
                              "recurrence") from None
        found.append(Occurrence(number, shifted))
    if not found:
        raise DomainError(ErrorCode.INVALID, "The rule makes no occurrence.", "recurrence")
    return line, found


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
