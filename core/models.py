"""The tables. Rules live in core/services; this module only says what is stored."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, CheckConstraint, Date, DateTime, Enum, ForeignKey, Index, String, Text,
    UniqueConstraint, event,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from .instants import UTC, utc_now
from .text_search import fold, search_text


class UTCDateTime(TypeDecorator):
    """timestamptz on PostgreSQL, naive UTC text on SQLite; always aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def enum_column(enum_cls: type[enum.Enum]) -> Enum:
    return Enum(enum_cls, name=enum_cls.__name__.lower(), native_enum=False, length=24, validate_strings=True)


class ResourceKind(str, enum.Enum):
    INSTRUCTOR = "INSTRUCTOR"
    ROOM = "ROOM"
    EQUIPMENT = "EQUIPMENT"


class DeliveryMode(str, enum.Enum):
    IN_PERSON = "IN_PERSON"
    VIRTUAL = "VIRTUAL"
    HYBRID = "HYBRID"


class ProgramStatus(str, enum.Enum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"


class SessionStatus(str, enum.Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"


class BookingRole(str, enum.Enum):
    LEAD_INSTRUCTOR = "LEAD_INSTRUCTOR"
    CO_FACILITATOR = "CO_FACILITATOR"
    ROOM = "ROOM"
    EQUIPMENT = "EQUIPMENT"


class EnrollmentStatus(str, enum.Enum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    ENROLLED = "ENROLLED"
    WAITLISTED = "WAITLISTED"
    CANCELLED = "CANCELLED"


class AttendanceStatus(str, enum.Enum):
    PRESENT = "PRESENT"
    LATE = "LATE"
    LEFT_EARLY = "LEFT_EARLY"
    ABSENT = "ABSENT"
    EXCUSED = "EXCUSED"


class MeetingStatus(str, enum.Enum):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class Role(str, enum.Enum):
    ADMIN = "ADMIN"
    COORDINATOR = "COORDINATOR"
    INSTRUCTOR = "INSTRUCTOR"
    LEARNER = "LEARNER"


STAFF_ROLES = (Role.ADMIN, Role.COORDINATOR)
"""The roles that may do everything: checked by schema/permissions.py (and, for program templates, the service)."""


class OutboxStatus(str, enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    DEAD = "DEAD"


class RateUnit(str, enum.Enum):
    """How a resource's cost rate applies to the time it is booked (core/services/costs.py)."""

    HOURLY = "HOURLY"
    DAILY = "DAILY"  # per day started, a day being up to 8 booked hours
    PER_SESSION = "PER_SESSION"


class CostCategory(str, enum.Enum):
    INSTRUCTOR = "INSTRUCTOR"
    VENUE = "VENUE"
    EQUIPMENT = "EQUIPMENT"
    MATERIALS = "MATERIALS"
    CATERING = "CATERING"
    TRAVEL = "TRAVEL"
    OTHER = "OTHER"


class BudgetScope(str, enum.Enum):
    COURSE = "COURSE"
    PROGRAM = "PROGRAM"
    VENUE = "VENUE"
    EVERYTHING = "EVERYTHING"


class QuestionKind(str, enum.Enum):
    """What an evaluation question asks for (core/services/evaluations.py)."""

    RATING_1_5 = "RATING_1_5"
    NPS_0_10 = "NPS_0_10"
    TEXT = "TEXT"
    YES_NO = "YES_NO"


class AssessmentKind(str, enum.Enum):
    PRE = "PRE"
    POST = "POST"


class StageKind(str, enum.Enum):
    SELF_PACED = "SELF_PACED"
    LIVE = "LIVE"
    ASSESSMENT = "ASSESSMENT"


class StageStatus(str, enum.Enum):
    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    OVERDUE = "OVERDUE"


# --- catalogue and people -------------------------------------------------------------

class Course(Base):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    duration_minutes: Mapped[int]
    default_capacity: Mapped[int]
    required_qualifications: Mapped[list[Any]] = mapped_column(default=list)
    certification_validity_days: Mapped[int | None]
    price_minor: Mapped[int | None] = mapped_column(BigInteger)  # per seat, minor units of the currency
    default_conferencing: Mapped[str | None] = mapped_column(String(64))  # a provider name or "manual"
    minimum_parts_attended: Mapped[int | None]  # of a multi-part session; None: every part (services/attendance.py)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    search_text: Mapped[str | None] = mapped_column(Text, info={"derived": True})  # code, title, description


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))     # E.164, e.g. +442079460958
    external_ids: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class ApiToken(Base):
    """A bearer token, stored only as its SHA-256."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CalendarFeed(Base):
    """The subscribable `.ics` of a person or a room. Its address is derived from `nonce` and the
    secret key; only the SHA-256 of that token is stored, to find the feed by."""

    __tablename__ = "calendar_feed"
    __table_args__ = (CheckConstraint("(person_id IS NULL) != (resource_id IS NULL)",
                                      name="ck_calendar_feed_one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), unique=True)
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Venue(Base):
    __tablename__ = "venue"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    city_key: Mapped[str | None] = mapped_column(String(200), index=True, info={"derived": True})  # the city folded


class VenueTravel(Base):
    """Minutes an instructor needs between two venues, the same either way: one row per pair, the lower venue
    id first. No row: no travel time (core/services/travel.py)."""

    __tablename__ = "venue_travel"
    __table_args__ = (UniqueConstraint("venue_a_id", "venue_b_id"),
                      CheckConstraint("venue_a_id < venue_b_id", name="ck_venue_travel_order"),
                      CheckConstraint("minutes > 0", name="ck_venue_travel_minutes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_a_id: Mapped[int] = mapped_column(ForeignKey("venue.id"))
    venue_b_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    minutes: Mapped[int]


class Resource(Base):
    """An instructor, a room or a piece of equipment: anything a session books."""

    __tablename__ = "resource"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ResourceKind] = mapped_column(enum_column(ResourceKind), index=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int | None]
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id"), index=True)
    cost_rate_minor: Mapped[int | None] = mapped_column(BigInteger)  # money: minor units of the currency
    cost_rate_unit: Mapped[RateUnit | None] = mapped_column(enum_column(RateUnit))
    features: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(200))
    calendar_url: Mapped[str | None] = mapped_column(Text)
    # [[weekday, start minute, end minute], ...] on the resource's own clock; null: its kind's default
    # (core/working_hours.py).
    weekly_hours: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)

    qualifications: Mapped[list["Qualification"]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="Qualification.name"
    )


class Qualification(Base):
    __tablename__ = "qualification"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[date | None] = mapped_column(Date)


class HoursException(Base):
    """One local date on which a resource keeps other hours than its weekly ones (none: closed)."""

    __tablename__ = "hours_exception"
    __table_args__ = (UniqueConstraint("resource_id", "on_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    on_date: Mapped[date] = mapped_column(Date)
    hours: Mapped[list[Any]] = mapped_column(default=list)  # [[start minute, end minute], ...]


class TimeOff(Base):
    """A span in which a resource is not to be booked (leave, maintenance); the reason is for staff."""

    __tablename__ = "time_off"
    __table_args__ = (Index("ix_time_off_resource_time", "resource_id", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- sessions, bookings, enrolments ----------------------------------------------------

class Session(Base):
    """One live occurrence of a course, in one or more parts (SessionPart); `starts_at` is the first
    part's start and `ends_at` the last part's end."""

    __tablename__ = "session"
    __table_args__ = (Index("ix_session_starts_at_id", "starts_at", "id"), Index("ix_session_ends_at", "ends_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    delivery_mode: Mapped[DeliveryMode] = mapped_column(enum_column(DeliveryMode))
    status: Mapped[SessionStatus] = mapped_column(enum_column(SessionStatus))
    capacity: Mapped[int]
    setup_minutes: Mapped[int] = mapped_column(default=0)
    teardown_minutes: Mapped[int] = mapped_column(default=0)
    enrollment_cutoff_at: Mapped[datetime | None]
    requires_approval: Mapped[bool] = mapped_column(default=False)
    sequence: Mapped[int] = mapped_column(default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    meeting_provider: Mapped[str | None] = mapped_column(String(64))
    meeting_status: Mapped[MeetingStatus | None] = mapped_column(enum_column(MeetingStatus))
    meeting_join_url: Mapped[str | None] = mapped_column(Text)
    meeting_external_id: Mapped[str | None] = mapped_column(String(200))
    meeting_error: Mapped[str | None] = mapped_column(Text)
    price_minor: Mapped[int | None] = mapped_column(BigInteger)  # per seat; null: the course's price
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
    search_text: Mapped[str | None] = mapped_column(Text, info={"derived": True})  # the title

    course: Mapped[Course] = relationship(lazy="raise")
    bookings: Mapped[list["Booking"]] = relationship(lazy="raise", back_populates="session", order_by="Booking.id")
    parts: Mapped[list["SessionPart"]] = relationship(lazy="raise", order_by="SessionPart.position")


class SessionPart(Base):
    """One interval of a session (a day of a three-day course); every session has at least one.
    Its resources are booked for it alone (Booking.part_id); attendance is recorded per part."""

    __tablename__ = "session_part"
    __table_args__ = (UniqueConstraint("session_id", "position"), Index("ix_session_part_starts_at", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"))
    position: Mapped[int]  # 1-based, in time order
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class SessionSeries(Base):
    """A repeating session: an RFC 5545 RRULE expanded on the wall clock of `timezone`. Each occurrence is
    a session of its own (SeriesOccurrence), with its own enrolments and attendance; what is scheduled now
    is described by its SeriesRules."""

    __tablename__ = "session_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(Text)  # one line, "RRULE:…", as made: the pattern its SeriesRules follow
    timezone: Mapped[str] = mapped_column(String(64))
    occurrences: Mapped[int]  # how many sessions it made
    except_dates: Mapped[list[Any]] = mapped_column(default=list)  # ISO local dates left out
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class SeriesRule(Base):
    """One RFC 5545 recurrence of a series (DTSTART, DTEND, RRULE, EXDATEs on the series' clock): the
    occurrences from `first_occurrence` until the next rule's. A series made has one; rescheduleSeries ends
    the rule in force before the first occurrence it moves and adds rules for the rest."""

    __tablename__ = "series_rule"
    __table_args__ = (UniqueConstraint("series_id", "first_occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("session_series.id"))
    first_occurrence: Mapped[int]
    starts_at: Mapped[datetime]  # DTSTART: its first occurrence's start
    ends_at: Mapped[datetime]  # DTEND: its first occurrence's end (each occurrence lasts as long)
    rule: Mapped[str] = mapped_column(Text)  # one line, "RRULE:…", with COUNT or UNTIL
    except_dates: Mapped[list[Any]] = mapped_column(default=list)  # ISO local dates its RRULE makes but leaves out


class SeriesOccurrence(Base):
    """A session's place in its series."""

    __tablename__ = "series_occurrence"
    __table_args__ = (UniqueConstraint("series_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("session_series.id"))
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"), unique=True)
    number: Mapped[int]  # from 1, in time order


class Booking(Base):
    """A resource held for an interval that includes setup and teardown buffers.

    `session_id` is null for busy time imported from an outside calendar. On PostgreSQL an
    exclusion constraint (migration 0001) backs rule 2 for active session bookings.
    """

    __tablename__ = "booking"
    __table_args__ = (
        Index("ix_booking_resource_time", "resource_id", "starts_at", "ends_at"),
        UniqueConstraint("resource_id", "source", "external_uid"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    session_id: Mapped[int | None] = mapped_column(ForeignKey("session.id"), index=True)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("session_part.id"), index=True)  # null when imported
    role: Mapped[BookingRole] = mapped_column(enum_column(BookingRole))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=True)
    source: Mapped[str] = mapped_column(String(64), default="podium")
    external_uid: Mapped[str | None] = mapped_column(String(400))
    summary: Mapped[str | None] = mapped_column(Text)

    session: Mapped[Session | None] = relationship(lazy="raise", back_populates="bookings")
    resource: Mapped[Resource] = relationship(lazy="raise")


class Enrollment(Base):
    """A learner in a session; one row per pair, re-used when a cancelled learner enrols again."""

    __tablename__ = "enrollment"
    __table_args__ = (
        UniqueConstraint("session_id", "learner_id"),
        Index("ix_enrollment_session_status", "session_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(enum_column(EnrollmentStatus))
    waitlist_position: Mapped[int | None]
    reason: Mapped[str | None] = mapped_column(Text)
    meeting_registrant_id: Mapped[str | None] = mapped_column(String(200))
    meeting_join_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    session: Mapped[Session] = relationship(lazy="raise")
    learner: Mapped[Person] = relationship(lazy="raise")
    attendance: Mapped["Attendance | None"] = relationship(lazy="raise", uselist=False, back_populates="enrollment")


class Attendance(Base):
    """A learner's attendance of the whole session, derived from their PartAttendance rows by the rule in
    core/services/attendance.py (for a one-part session: that part's record)."""

    __tablename__ = "attendance"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    status: Mapped[AttendanceStatus] = mapped_column(enum_column(AttendanceStatus))
    minutes_attended: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(64), default="MANUAL")
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)

    enrollment: Mapped[Enrollment] = relationship(lazy="raise", back_populates="attendance")


# --- costs and budgets (core/services/costs.py, budgets.py) ------------------------------

class CourseCost(Base):
    """A cost per learner of every session of a course (materials, catering)."""

    __tablename__ = "course_cost"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    category: Mapped[CostCategory] = mapped_column(enum_column(CostCategory))
    description: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class SessionCost(Base):
    """A cost line entered by hand on one session; `incurred` ones stay when the session is cancelled."""

    __tablename__ = "session_cost"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"), index=True)
    category: Mapped[CostCategory] = mapped_column(enum_column(CostCategory))
    description: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    per_learner: Mapped[bool] = mapped_column(default=False)
    incurred: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Budget(Base):
    """An amount to spend on a scope over a period: whole days `period_from` to `period_to` (inclusive) on
    the budget's clock; `starts_at`/`ends_at` are that period as UTC instants (derived), which a session's
    start falls in."""

    __tablename__ = "budget"
    __table_args__ = (CheckConstraint("period_from <= period_to", name="ck_budget_period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    scope: Mapped[BudgetScope] = mapped_column(enum_column(BudgetScope))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("course.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"))
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venue.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- evaluations (core/services/evaluations.py) ----------------------------------------------

class EvaluationForm(Base):
    """A course's evaluation questionnaire: `questions` is a list of {key, kind, text, required}."""

    __tablename__ = "evaluation_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    questions: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class EvaluationRequest(Base):
    """An attended learner asked to evaluate a session (one per enrolment). The link's token is an HMAC of
    `nonce` under the secret key; only its SHA-256 is stored, to find the request by. `responded_at` is set
    once, by the one accepted answer; `reminded_at` once, by the one reminder (the job `remind_evaluations`)."""

    __tablename__ = "evaluation_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requested_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    responded_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]


class EvaluationAnswer(Base):
    """One answer of a response: `value` for RATING_1_5 (1-5), NPS_0_10 (0-10) and YES_NO (1 yes, 0 no);
    `text` for TEXT. The kind is kept with the answer, so a later change of the form changes no result."""

    __tablename__ = "evaluation_answer"
    __table_args__ = (UniqueConstraint("request_id", "question_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("evaluation_request.id"))
    question_key: Mapped[str] = mapped_column(String(64))
    kind: Mapped[QuestionKind] = mapped_column(enum_column(QuestionKind))
    value: Mapped[int | None]
    text: Mapped[str | None] = mapped_column(Text)


class AssessmentScore(Base):
    """A learner's knowledge check before (PRE) or after (POST) a session, in hundredths of a point of
    0-100 (exact: 87.5 is 8750)."""

    __tablename__ = "assessment_score"
    __table_args__ = (UniqueConstraint("enrollment_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"))
    kind: Mapped[AssessmentKind] = mapped_column(enum_column(AssessmentKind))
    score_hundredths: Mapped[int]
    source: Mapped[str] = mapped_column(String(64), default="MANUAL")
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class PartAttendance(Base):
    """A learner's attendance of one part of a session, as recorded (manually or by a plugin)."""

    __tablename__ = "part_attendance"
    __table_args__ = (UniqueConstraint("enrollment_id", "part_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"))
    part_id: Mapped[int] = mapped_column(ForeignKey("session_part.id"), index=True)
    status: Mapped[AttendanceStatus] = mapped_column(enum_column(AttendanceStatus))
    minutes_attended: Mapped[int | None]
    source: Mapped[str] = mapped_column(String(64), default="MANUAL")
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class UnmatchedParticipant(Base):
    """Someone a conferencing report saw who matches no enrolment: listed for review."""

    __tablename__ = "unmatched_participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("session.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    minutes_attended: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


# --- records: audit and outbox ---------------------------------------------------------

class AuditEntry(Base):
    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utc_now)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(64))
    target_id: Mapped[int | None]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class OutboxMessage(Base):
    """Work for outside the database, written in the same transaction as the change (rule 7)."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "deliver_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(100))
    target: Mapped[str | None] = mapped_column(String(100))
    ordering_key: Mapped[str | None] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(enum_column(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    deliver_after: Mapped[datetime] = mapped_column(default=utc_now)
    leased_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    delivered_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A mutation request's answer, stored in the transaction of its change, so a retry with the same
    key gets the answer instead of a second change (core/idempotency.py)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))  # whose key: SHA-256 of the caller's token, or "anonymous"
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request body that used the key
    answer: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


class PeriodicRun(Base):
    """One tick of a periodic job (core/services/periodic.py): at most one row per job and due time, so
    however many processes hold the tick in turn, its work is done once; `attempts` > 1 means a process
    died or failed holding it and another took it over."""

    __tablename__ = "periodic_run"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))  # the process that ran it last: host:pid:random
    attempts: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(default=utc_now)
    finished_at: Mapped[datetime | None] = mapped_column(index=True)
    summary: Mapped[str | None] = mapped_column(Text)


# --- blended programs -------------------------------------------------------------------

class ProgramTemplate(Base):
    __tablename__ = "program_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    stages: Mapped[list[Any]] = mapped_column(default=list)
    builtin: Mapped[bool] = mapped_column(default=False)


class Program(Base):
    __tablename__ = "program"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    template_key: Mapped[str] = mapped_column(String(64))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    lms_course_ref: Mapped[str | None] = mapped_column(String(200))
    lms_connector: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[ProgramStatus] = mapped_column(enum_column(ProgramStatus), default=ProgramStatus.ACTIVE,
                                                  server_default=ProgramStatus.ACTIVE.value)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))


class ProgramStage(Base):
    __tablename__ = "program_stage"
    __table_args__ = (UniqueConstraint("program_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
    kind: Mapped[StageKind] = mapped_column(enum_column(StageKind))
    title: Mapped[str] = mapped_column(String(200))
    offset_days: Mapped[int]
    required: Mapped[bool] = mapped_column(default=True)
    opens_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    session_id: Mapped[int | None] = mapped_column(ForeignKey("session.id"), index=True)
    lms_activity_ref: Mapped[str | None] = mapped_column(String(200))


class ProgramLearner(Base):
    __tablename__ = "program_learner"
    __table_args__ = (UniqueConstraint("program_id", "learner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("program.id"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("person.id"))


class StageProgress(Base):
    __tablename__ = "stage_progress"
    __table_args__ = (UniqueConstraint("stage_id", "learner_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stage_id: Mapped[int] = mapped_column(ForeignKey("program_stage.id"))
    learner_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    status: Mapped[StageStatus] = mapped_column(enum_column(StageStatus))
    completed_at: Mapped[datetime | None]


class Certification(Base):
    __tablename__ = "certification"
    __table_args__ = (UniqueConstraint("person_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)


# --- auto-scheduling (core/services/planning.py) ------------------------------------------------

class SchedulePlan(Base):
    """A proposed timetable (proposeSchedule) or re-plan (replan): what the solver found, kept until it
    expires or is applied; applying creates or changes the sessions through the scheduling rules."""

    __tablename__ = "schedule_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))            # PROPOSAL or REPLAN
    status: Mapped[str] = mapped_column(String(16))          # OPTIMAL, FEASIBLE, INFEASIBLE, UNKNOWN
    objective: Mapped[float | None]
    bound: Mapped[float | None]
    solve_seconds: Mapped[float]
    sessions: Mapped[list[Any]] = mapped_column(default=list)     # what applying makes or changes
    unplaced: Mapped[list[Any]] = mapped_column(default=list)
    requests: Mapped[list[Any]] = mapped_column(default=list)     # the requests as given (keys, courses)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    applied_at: Mapped[datetime | None]
    applied_session_ids: Mapped[list[Any] | None] = mapped_column(JSON)


# --- derived columns: kept in step on every write, whoever writes ---------------------------

@event.listens_for(Course, "before_insert")
@event.listens_for(Course, "before_update")
def _course_search_text(_mapper, _connection, course: Course) -> None:
    course.search_text = search_text(course.code, course.title, course.description)


@event.listens_for(Session, "before_insert")
@event.listens_for(Session, "before_update")
def _session_search_text(_mapper, _connection, session: Session) -> None:
    session.search_text = search_text(session.title)


@event.listens_for(Venue, "before_insert")
@event.listens_for(Venue, "before_update")
def _venue_city_key(_mapper, _connection, venue: Venue) -> None:
    venue.city_key = fold(venue.city) or None
