"""What the core asks of plugin objects (docs/plugins.md, "Providers"): one small Protocol per kind.

Each provider has a `name`; its methods are `async`. The objects passed to them are plain data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


# --- notification channels ---------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """A file sent with a notification (a session invite carries its `.ics`)."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Notification:
    """One message for one person, as every channel receives it; `idempotency_key` is the same on every retry."""

    kind: str                  # e.g. "enrollment.confirmed", "session.rescheduled"
    to: str                    # the recipient's email
    name: str                  # the recipient's name
    subject: str
    text: str
    html: str
    idempotency_key: str
    attachments: tuple[Attachment, ...] = ()
    phone: str | None = None   # the recipient's phone number, E.164 (`Person.phone`); None when unknown


@runtime_checkable
class NotificationChannel(Protocol):
    """Delivers notifications (email, SMS, chat); `deliver` raises to have one retried. A channel with a
    `kinds` attribute (a set of notification kinds) receives only those; without it, every kind."""

    name: str

    async def deliver(self, notification: Notification) -> None: ...


# --- conferencing ------------------------------------------------------------------------

@dataclass(frozen=True)
class MeetingSpec:
    """The meeting a session needs: what a conferencing provider creates, finds or updates."""

    session_id: str            # global ID; providers store it on the meeting to find it again
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    idempotency_key: str


@dataclass(frozen=True)
class MeetingInfo:
    """A meeting the provider made or found: its id there, and the link to join it."""

    external_id: str
    join_url: str


@dataclass(frozen=True)
class Registrant:
    """One learner registered with a meeting, and their personal join link."""

    registrant_id: str
    join_url: str


@dataclass(frozen=True)
class ParticipantSegment:
    """One join/leave span; one person may have several."""

    name: str | None
    email: str | None
    registrant_id: str | None
    joined_at: datetime
    left_at: datetime
    participant_id: str | None = None     # the provider's own id of who joined, when it has one


@dataclass(frozen=True)
class AttendanceRules:
    """When a participant counts as late, as leaving early, or as absent altogether."""

    late_after_minutes: int = 10          # first joined more than this after the start: LATE
    left_early_minutes: int = 10          # last left more than this before the end: LEFT_EARLY
    present_min_percent: int = 50         # attended less than this share of the session: ABSENT
    report_delay_minutes: int = 15        # the report is asked for this long after the end (webhooks come sooner)


class MeetingGone(LookupError):
    """The provider no longer has the meeting (someone deleted it there): raised by `update_meeting`.
    Podium then makes a new one once and sends the learners their new links, or marks it FAILED."""


class NoParticipantsReport(LookupError):
    """The provider has no participants report for the meeting: nobody joined, or it has not ended (yet)."""


@runtime_checkable
class ConferencingProvider(Protocol):
    """Makes, moves and ends a session's online meeting, registers learners and reports who joined."""

    name: str
    attendance_rules: AttendanceRules     # how its participants report is judged (the plugin's settings)

    async def create_meeting(self, spec: MeetingSpec) -> MeetingInfo: ...

    async def find_meeting(self, spec: MeetingSpec) -> MeetingInfo | None: ...

    async def update_meeting(self, external_id: str, spec: MeetingSpec) -> None: ...

    async def delete_meeting(self, external_id: str) -> None: ...

    async def add_registrant(self, external_id: str, email: str, name: str) -> Registrant: ...

    async def remove_registrant(self, external_id: str, registrant_id: str, email: str) -> None:
        """Take a learner's registration back (their link stops working); done already is not an error."""

    async def participants(self, external_id: str) -> list[ParticipantSegment]:
        """Every join/leave span; raises NoParticipantsReport when the provider has no report."""


# --- venue systems -----------------------------------------------------------------------

@dataclass(frozen=True)
class RoomRecord:
    """A room as a venue system lists it."""

    external_id: str
    name: str
    capacity: int
    equipment: tuple[str, ...] = ()
    calendar_url: str | None = None


@dataclass(frozen=True)
class VenueRecord:
    """A venue, with its rooms, as a venue system lists it."""

    external_id: str
    name: str
    timezone: str
    address: str | None = None
    rooms: tuple[RoomRecord, ...] = ()


@dataclass(frozen=True)
class BusyTime:
    """A time a room is taken in its own calendar (a booking Podium did not make)."""

    uid: str                   # stable per occurrence, so a re-read updates instead of duplicating
    starts_at: datetime
    ends_at: datetime
    summary: str | None = None


@runtime_checkable
class VenueSource(Protocol):
    """Lists venues and rooms, and reads the rooms' busy times from their calendars."""

    name: str

    async def venues(self) -> list[VenueRecord]: ...

    async def busy_times(self, calendar_url: str, starts_at: datetime, ends_at: datetime,
                         timezone: str = "UTC") -> list[BusyTime]:
        """Busy times overlapping [starts_at, ends_at); all-day and floating times are read in `timezone`
        (the room's), since calendars publish them without an offset."""


# --- learning management systems ---------------------------------------------------------

@dataclass(frozen=True)
class CompletionReport:
    """What the LMS knows of one learner in one course."""

    activities: dict[str, datetime | None] = field(default_factory=dict)   # activity ref -> completed at
    course_completed_at: datetime | None = None     # optional; Podium judges completion from the stages


@runtime_checkable
class LmsConnector(Protocol):
    """Enrols a program's learners in an LMS course, reads their completion and pushes attendance back."""

    name: str

    async def find_user(self, email: str) -> str | None: ...

    async def enrol(self, course_ref: str, user_ref: str) -> None: ...

    async def completion(self, course_ref: str, user_ref: str) -> CompletionReport: ...

    async def push_attendance(self, course_ref: str, user_ref: str, session_title: str, status: str,
                              details: dict[str, Any] | None = None) -> None: ...

    # Optional: `async activities(course_ref) -> dict[str, str]` (activity ref -> name) lets createProgram
    # refuse a stage whose activity the course does not have; `async check()` serves `podium plugins --check`.
