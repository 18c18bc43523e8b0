"""Rule 5: instants are aware and stored in UTC; timezones are IANA names."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DomainError, ErrorCode

UTC = timezone.utc
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)
"""Instants Podium accepts: wide for any training calendar, narrow enough that a buffer, a reminder
offset or a timezone shift can never run off the end of Python's years 1 to 9999."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, field: str) -> datetime:
    """Refuse an instant without an offset, or one outside the years 1900 to 2999 (UTC); return it in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "Give the time with an offset, e.g. 2027-03-02T09:00:00+01:00.", field)
    try:
        instant = value.astimezone(UTC)
    except OverflowError:
        instant = None
    if instant is None or not EARLIEST <= instant < LATEST:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{field} falls outside the years 1900 to 2999.", field)
    return instant


def require_range(starts_at: datetime, ends_at: datetime, start_field: str = "startsAt", end_field: str = "endsAt") -> tuple[datetime, datetime]:
    starts_at = require_aware(starts_at, start_field)
    ends_at = require_aware(ends_at, end_field)
    if ends_at <= starts_at:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "endsAt must be after startsAt.", end_field)
    return starts_at, ends_at


def require_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):  # OSError: "Europe" is a folder, a long name too long
        shown = str(name) if len(str(name)) <= 64 else str(name)[:64] + "…"
        raise DomainError(ErrorCode.INVALID, f"{shown!r} is not an IANA timezone such as Europe/Berlin.", field) from None
    return name


def local_midnight(day: date, tz: str | ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins on the wall clock of `tz` (whole local days: budgets, reports)."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()


def wall_clock_gap(start: datetime, end: datetime, tz: ZoneInfo) -> timedelta:
    """How far apart two instants are on a wall clock in `tz`: a week across a daylight-saving change is 7 days."""
    return end.astimezone(tz).replace(tzinfo=None) - start.astimezone(tz).replace(tzinfo=None)


def local_shift(instant: datetime | None, tz: ZoneInfo, delta: timedelta) -> datetime | None:
    """The instant `delta` later on a wall clock in `tz` (None stays None)."""
    if instant is None:
        return None
    local = instant.astimezone(tz).replace(tzinfo=None) + delta
    return local.replace(tzinfo=tz).astimezone(UTC)


def local_shift_spans(spans: list[tuple[datetime, datetime]], tz: ZoneInfo, delta: timedelta
                      ) -> list[tuple[datetime, datetime]]:
    """Each (start, end) `delta` later on a wall clock in `tz`. A start the clock skips that day (02:30 when
    the clocks go from 02:00 to 03:00) moves on by the gap, as RFC 5545 says, and its end with it, so the span
    keeps its length (03:30-04:30, not an empty 03:30-03:30)."""
    moved = []
    for start, end in spans:
        wanted = start.astimezone(tz).replace(tzinfo=None) + delta
        new_start = wanted.replace(tzinfo=tz).astimezone(UTC)
        skipped = new_start.astimezone(tz).replace(tzinfo=None) - wanted  # > 0 only in a gap
        moved.append((new_start, local_shift(end, tz, delta + max(skipped, timedelta(0)))))
    return moved
