"""Inputs of proposeSchedule, applySchedulePlan and replan."""
from __future__ import annotations

from datetime import datetime

import strawberry

from ..scheduling.types import DeliveryMode


@strawberry.input(description="A span of time: from (inclusive) to (exclusive).")
class TimeWindowInput:
    from_: datetime = strawberry.field(name="from")
    to: datetime = strawberry.field(description="After from, at most 366 days later.")


@strawberry.input(description=(
    "One part of a planned session: fixed local times (startsAt and endsAt, e.g. 09:00-17:00 on each day) or "
    "a length (durationMinutes) at the start the solver chooses on the granularity's grid."))
class PlanPartInput:
    day: int = strawberry.field(default=0, description="Days after the session's first day (0 to 56), in order.")
    starts_at: str | None = strawberry.field(default=None, description='"HH:MM" on the session\'s local clock.')
    ends_at: str | None = strawberry.field(default=None, description='"HH:MM" after startsAt.')
    duration_minutes: int | None = strawberry.field(default=None, description="5 to 1440; default the course's "
                                                                              "duration.")


@strawberry.input(description="Sessions of one course to place.")
class ScheduleRequestInput:
    course_id: strawberry.ID
    count: int = strawberry.field(description="How many sessions, 1 to 2,000 (all requests together at most "
                                              "2,000).")
    window: TimeWindowInput = strawberry.field(description="Every part of each session lies inside it.")
    delivery_mode: DeliveryMode
    capacity: int | None = strawberry.field(default=None, description="Seats; default the course's.")
    parts: list[PlanPartInput] | None = strawberry.field(default=None, description=(
        "Each session's parts (at most 14); default one part of the course's duration."))
    venue_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Venues whose rooms may be used; default any. Ignored for VIRTUAL sessions."))
    learner_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "A cohort: no two of its sessions (of any request) at once; their local hours count in the objective."))
    timezone: str | None = strawberry.field(default=None, description=(
        "A VIRTUAL session's clock (IANA); in-person sessions keep their venue's. Default UTC."))
    preferred_instructor_ids: list[strawberry.ID] | None = strawberry.field(default=None, description=(
        "Instructors to prefer (the objective's preferredInstructors term)."))
    room_features: list[str] | None = strawberry.field(default=None, description=(
        "Features (equipment) the room must have, e.g. projector."))
    setup_minutes: int | None = None
    teardown_minutes: int | None = None
    title: str | None = None


@strawberry.input(description="How much each term of the objective counts, 0 to 1,000 (0 turns it off); see "
                              "README, \"Auto-scheduling\".")
class ObjectiveWeightsInput:
    cost: int = 1
    travel: int = 1
    spread: int = 1
    preferred_instructors: int = 1
    learner_local_time: int = 1


@strawberry.input
class ProposeScheduleInput:
    requests: list[ScheduleRequestInput] = strawberry.field(description="At most 500 requests.")
    objective: ObjectiveWeightsInput | None = None
    time_limit_seconds: float | None = strawberry.field(default=None, description=(
        "How long the solver may search: above 0, at most PODIUM_SOLVER_MAX_SECONDS; default 10 (or the cap)."))
    fix_existing: bool = strawberry.field(default=True, description=(
        "Existing sessions and bookings stay where they are (the only mode: use replan to move sessions)."))
    granularity_minutes: int | None = strawberry.field(default=None, description=(
        "Minutes between candidate starts of parts without fixed times, 5 to 1440; default 60."))


@strawberry.input
class ApplySchedulePlanInput:
    plan_id: strawberry.ID


@strawberry.input(description="Re-plan the sessions a resource holds in [from, to) while it is away.")
class ReplanInput:
    resource_id: strawberry.ID
    from_: datetime = strawberry.field(name="from")
    to: datetime
    reason: str | None = strawberry.field(default=None, description="Why (at most 500 characters); the audit "
                                                                   "and the moved sessions' notices carry it.")
    time_limit_seconds: float | None = None
