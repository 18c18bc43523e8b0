"""Input limits: how long a text, how many items in a list, which emails, timezones and session
spans Podium takes. Every service checks its input here, before it writes, so a refusal is the same
INVALID (or INVALID_TIME_RANGE) with the field on SQLite and on PostgreSQL, never a database error."""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from .errors import DomainError, ErrorCode
from .instants import EARLIEST, LATEST, require_range, utc_now
from .settings import Settings

T = TypeVar("T")

# --- the limits, one per kind of field ------------------------------------------------------

NAME = 200
"""Names and titles: a course, session, program, template, stage, person, venue, resource, qualification."""
CODE = 64
"""Short identifiers: a course code, a plugin or source name."""
REF = 200
"""References into outside systems: lmsActivityRef, lmsCourseRef, a venue's or a room's external id."""
NOTE = 500
"""Short free text: a cancellation or decision reason, a venue's address."""
DESCRIPTION = 10_000
"""Long free text, several lines: a course's description."""
URL = 2000
"""Addresses of outside calendars."""
EMAIL = 320
"""An email address (email-validator refuses longer ones anyway)."""
PHONE = 40
"""A phone number as typed, spaces and dashes included (E.164 itself is at most 16 characters)."""
LIST = 50
"""Items in one list: qualifications, features, stage activities, instructor, equipment and session ids."""
COHORT = 5000
"""Learners in one program change, attendance records in one call."""

NOT_PLACES = frozenset({
    "Factory", "localtime", "posixrules",
    "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "Etc/Greenwich", "Etc/UCT", "Etc/Universal", "Etc/Zulu",
    "GMT0", "GMT+0", "GMT-0", "Greenwich", "UCT", "Universal", "Zulu",
})
"""Names the tz database carries that are not a place's zone: a placeholder, a system file, or another
name for UTC (`UTC` and `Etc/UTC`, `GMT` and `Etc/GMT` are the ones to use)."""


# --- the checks --------------------------------------------------------------------------------

def text(value: Any, field: str, max_length: int = NAME, *, required: bool = True,
         multiline: bool = False) -> str | None:
    """Trimmed text of at most `max_length` characters, without control characters (a multiline text may
    have line breaks and tabs); empty is refused when `required`, else None."""
    value = value.strip() if isinstance(value, str) else ""
    if not value:
        if required:
            raise DomainError(ErrorCode.INVALID, f"{field} must not be empty.", field)
        return None
    if len(value) > max_length:
        raise DomainError(ErrorCode.INVALID, f"{field} is longer than {max_length} characters.", field)
    allowed = "\n\r\t" if multiline else ""
    if any(unicodedata.category(c) == "Cc" and c not in allowed for c in value):
        raise DomainError(ErrorCode.INVALID, f"{field} must not contain control characters.", field)
    return value


def items(values: Sequence[T] | None, field: str, max_items: int = LIST) -> list[T]:
    """A list of at most `max_items` items (None is an empty list)."""
    values = list(values or [])
    if len(values) > max_items:
        raise DomainError(ErrorCode.INVALID, f"{field} has more than {max_items} items.", field)
    return values


def phone(value: Any, field: str = "phone") -> str | None:
    """A phone number in international form (a + and the country code), stored as E.164 (+442079460958);
    blank is none. Checked with `phonenumbers`, so a number no country uses is refused."""
    raw = value.strip() if isinstance(value, str) else ""
    if not raw:
        return None
    refused = DomainError(ErrorCode.INVALID, f"{field} must be a phone number in international form, with + and "
                          "the country code (e.g. +44 20 7946 0958).", field)
    if len(raw) > PHONE:
        raise refused
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        raise refused from None
    if not phonenumbers.is_valid_number(number):
        raise refused
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: Any, field: str = "email") -> str:
    """A deliverable-looking address (RFC syntax, a real domain; no DNS lookup), lower-cased: two
    addresses that differ only in case are the same person."""
    raw = value.strip() if isinstance(value, str) else ""
    if len(raw) > EMAIL:
        raise DomainError(ErrorCode.INVALID, f"{field} is longer than {EMAIL} characters.", field)
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as error:
        shown = raw if len(raw) <= 80 else raw[:80] + "…"
        raise DomainError(ErrorCode.INVALID, f"{shown!r} is not an email address: {error}", field) from None
    return checked.normalized.lower()


@cache
def timezone_names() -> frozenset[str]:
    """The IANA zones Podium takes: those of the bundled tz database (the same on every machine, whatever
    the system has), without NOT_PLACES."""
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) - NOT_PLACES


def timezone(value: Any, field: str = "timezone") -> str:
    """An IANA timezone name such as Europe/Berlin (or UTC)."""
    name = value.strip() if isinstance(value, str) else ""
    if name not in timezone_names():
        shown = name if len(name) <= 64 else name[:64] + "…"
        hint = " Use UTC." if name in NOT_PLACES and name not in ("Factory", "localtime", "posixrules") else ""
        raise DomainError(ErrorCode.INVALID, f"{shown!r} is not an IANA timezone such as Europe/Berlin.{hint}",
                          field)
    return name


def _years_from(instant: datetime, years: int) -> datetime:
    """The same day and time `years` later (earlier when negative), clamped to the instants Podium takes."""
    year = instant.year + years
    if year <= EARLIEST.year:
        return EARLIEST
    if year >= LATEST.year:
        return LATEST
    try:
        return instant.replace(year=year)
    except ValueError:  # 29 February
        return instant.replace(year=year, day=28)


def latest_start(settings: Settings | None = None, now: datetime | None = None) -> datetime:
    """The latest instant a session may start: `schedule_horizon_years` from now."""
    return _years_from(now or utc_now(), (settings or Settings()).schedule_horizon_years)


def session_span(starts_at: datetime, ends_at: datetime, settings: Settings | None = None, *,
                 now: datetime | None = None, start_field: str = "startsAt",
                 end_field: str = "endsAt") -> tuple[datetime, datetime]:
    """A session's interval in UTC: at most `max_session_days` long, starting no earlier than
    `schedule_history_years` ago and no later than `schedule_horizon_years` ahead."""
    settings = settings or Settings()
    starts_at, ends_at = require_range(starts_at, ends_at, start_field, end_field)
    if ends_at - starts_at > timedelta(days=settings.max_session_days):
        raise DomainError(ErrorCode.INVALID_TIME_RANGE, f"A session lasts at most {settings.max_session_days} days.",
                          end_field)
    now = now or utc_now()
    earliest = _years_from(now, -settings.schedule_history_years)
    latest = latest_start(settings, now)
    if not earliest <= starts_at <= latest:
        raise DomainError(ErrorCode.INVALID_TIME_RANGE,
                          f"A session starts between {settings.schedule_history_years} year(s) ago and "
                          f"{settings.schedule_horizon_years} year(s) from now.", start_field)
    return starts_at, ends_at


# --- the free-slot search (services/free_slots.py) ----------------------------------------------

AVAILABILITY_WINDOW_DAYS = 42
"""The longest [from, to) one availability search covers: six weeks."""
AVAILABILITY_GRANULARITY = (5, 24 * 60)
"""Minutes between candidate starts: at least 5 (so at most 12,096 starts in a window), at most a day."""
AVAILABILITY_DURATION = (5, 24 * 60)
"""Minutes of one part of a searched session."""
AVAILABILITY_PARTS = 14
"""Parts (consecutive days) of one searched session."""
AVAILABILITY_SLOTS = (50, 200)
"""Slots one search returns: by default, and at most."""


def bounded(value: int | None, field: str, low: int, high: int, default: int | None = None) -> int:
    """A whole number within [low, high]; None takes `default` (refused when there is none)."""
    if value is None and default is not None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise DomainError(ErrorCode.INVALID, f"{field} must be a whole number from {low} to {high}.", field)
    return value


def availability_window(starts_at: datetime, ends_at: datetime) -> tuple[datetime, datetime]:
    """The [from, to) of a free-slot search, in UTC: at most AVAILABILITY_WINDOW_DAYS long."""
    starts_at, ends_at = require_range(starts_at, ends_at, "from", "to")
    if ends_at - starts_at > timedelta(days=AVAILABILITY_WINDOW_DAYS):
        raise DomainError(ErrorCode.INVALID, f"An availability search covers at most {AVAILABILITY_WINDOW_DAYS} "
                                             "days; search several windows.", "to")
    return starts_at, ends_at
