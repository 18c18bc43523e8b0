"""The one domain error every service raises; the API turns it into a UserError."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field as dc_field


class ErrorCode(str, enum.Enum):
    """Why a change was refused: the `code` of a `DomainError` and of the API's errors."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    FORBIDDEN = "FORBIDDEN"
    DUPLICATE = "DUPLICATE"
    INVALID_TIME_RANGE = "INVALID_TIME_RANGE"
    RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
    QUALIFICATION_MISSING = "QUALIFICATION_MISSING"
    CAPACITY_EXCEEDS_ROOM = "CAPACITY_EXCEEDS_ROOM"
    ALREADY_ENROLLED = "ALREADY_ENROLLED"
    SESSION_NOT_OPEN = "SESSION_NOT_OPEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    UNAVAILABLE = "UNAVAILABLE"
    SESSION_NOT_STARTED = "SESSION_NOT_STARTED"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    OUTSIDE_AVAILABILITY = "OUTSIDE_AVAILABILITY"


class WarningCode(str, enum.Enum):
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"


@dataclass(frozen=True)
class DomainWarning:
    """Something a change should be told, that does not stop it (warnings are data: they change nothing)."""

    code: WarningCode
    message: str
    budget_id: int | None = None


@dataclass
class Clash:
    """One booking that stands in the way of a schedule or reschedule."""

    resource_id: int
    resource_name: str
    starts_at: object
    ends_at: object
    session_id: int | None = None
    occurrence: int | None = None  # the occurrence of a series it stands in the way of
    travel_minutes: int | None = None  # rule 2b: [starts_at, ends_at) is kept for travel between venues
    note: str | None = None  # why, in words, when the interval is not simply a booking


@dataclass
class DomainError(Exception):
    """A refused change: nothing was written. `field` names the offending input field."""

    code: ErrorCode
    message: str
    field: str | None = None
    conflicts: list[Clash] = dc_field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}" + (f" (field {self.field})" if self.field else "")
