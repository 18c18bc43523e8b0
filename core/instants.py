"""Rule 5: instants are aware and stored in UTC; timezones are IANA names."""
from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DomainError, ErrorCode

UTC = timezone.utc


def utc_now() -> datetime:
    return datetime.now(UTC)


def require_aware(value: datetime, field: str) -> datetime:
    """Refuse an instant without an offset, or one that is not in the years 1 to 9999 in UTC; return it in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "Give the time with an offset, e.g. 2027-03-02T09:00:00+01:00.", field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"{field} falls outside the years 1 to 9999 in UTC.",
                          field) from None


def require_range(starts_at: datetime, ends_at: datetime, start_field: str = "startsAt", end_field: str = "endsAt") -> tuple[datetime, datetime]:
    starts_at = require_aware(starts_at, start_field)
    ends_at = require_aware(ends_at, end_field)
    if ends_at <= starts_at:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, "endsAt must be after startsAt.", end_field)
    return starts_at, ends_at


def require_timezone(name: str, field: str = "timezone") -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise DomainError(ErrorCode.INVALID, f"{name!r} is not an IANA timezone such as Europe/Berlin.", field) from None
    return name


def local_date(instant: datetime, tz: str) -> date:
    return instant.astimezone(ZoneInfo(tz)).date()
