"""scheduleSession, rescheduleSession, cancelSession, changeSessionCapacity: staff only; clashes come back
as `conflicts`."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import DeliveryMode as CoreDeliveryMode
from podium.core.services import enrollment, scheduling, series

from ..budgets.warnings import budget_warnings
from ..changes import attempt, attempt_then_load
from ..errors import UserError, Warning
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import (
    CancelSeriesInput, CancelSessionInput, ChangeSessionCapacityInput, RescheduleSeriesInput, RescheduleSessionInput,
    ScheduleSeriesInput, ScheduleSessionInput, SessionPartInput, UpdateSessionInput,
)
from .types import Conflict, Series, SeriesOccurrence, Session, SessionPart


def _spans(parts: list[SessionPartInput] | None) -> list[tuple] | None:
    return None if parts is None else [(p.starts_at, p.ends_at) for p in parts]


def _session_fields(input: ScheduleSessionInput) -> dict:
    """What a session is, from a schedule input, as the services take it (not when: that is the caller's)."""
    return {"course_id": decode_id(input.course_id, "Course", "courseId"), "timezone": input.timezone,
            "delivery_mode": CoreDeliveryMode(input.delivery_mode),
            "instructor_ids": [decode_id(i, "Resource", "instructorIds") for i in input.instructor_ids],
            "capacity": input.capacity,
            "room_id": decode_id(input.room_id, "Resource", "roomId") if input.room_id is not None else None,
            "equipment_ids": [decode_id(i, "Resource", "equipmentIds") for i in input.equipment_ids or []],
            "title": input.title, "requires_approval": bool(input.requires_approval), "join_url": input.join_url,
            "setup_minutes": input.setup_minutes or 0, "teardown_minutes": input.teardown_minutes or 0,
            "conferencing": input.conferencing}


def conflict(clash) -> Conflict:
    return Conflict(resource_pk=clash.resource_id, starts_at=clash.starts_at, ends_at=clash.ends_at,
                    occurrence=clash.occurrence, travel_minutes=clash.travel_minutes)


@strawberry.type
class ScheduleSeriesPayload:
    series: Series | None = strawberry.field(description="Null in a dry run, or when refused.")
    sessions: list[Session] = strawberry.field(description="The sessions made, in time order (none in a dry run).")
    occurrences: list[SeriesOccurrence] = strawberry.field(description=(
        "Every occurrence made, or in a dry run that would be made; empty when refused."))
    errors: list[UserError]
    conflicts: list[Conflict] = strawberry.field(description="Every clash, each with the occurrence it is in "
                                                             "the way of; nothing was made.")


@strawberry.type
class RescheduleSeriesPayload:
    series: Series | None = strawberry.field(description="Null when refused.")
    sessions: list[Session] = strawberry.field(description="The sessions moved, in time order (none in a dry run).")
    occurrences: list[SeriesOccurrence] = strawberry.field(description=(
        "Each occurrence moved (or, in a dry run, that would move) with its new times; empty when refused."))
    errors: list[UserError]
    conflicts: list[Conflict] = strawberry.field(description="Every clash, each with the occurrence it is in "
                                                             "the way of; nothing was moved.")


def _occurrences(found) -> list[SeriesOccurrence]:
    return [SeriesOccurrence(occurrence=n, starts_at=parts[0][0], ends_at=parts[-1][1],
                             parts=[SessionPart(part=i + 1, starts_at=s, ends_at=e) for i, (s, e) in enumerate(parts)])
            for n, parts in found]


@strawberry.type
class CancelSeriesPayload:
    series: Series | None
    sessions: list[Session] = strawberry.field(description="The sessions this call cancelled.")
    errors: list[UserError]


@strawberry.type
class SessionPayload:
    session: Session | None
    errors: list[UserError]
    conflicts: list[Conflict]
    warnings: list[Warning] = strawberry.field(description=(
        "scheduleSession and rescheduleSession: BUDGET_EXCEEDED for each budget holding the session that is over "
        "after the change (which went through)."))


async def _payload(info: Info, work, warnings: list[Warning] | None = None) -> SessionPayload:
    session, errors, error = await attempt_then_load(info, work, "sessions")
    conflicts = [conflict(c) for c in (error.conflicts if error else [])]
    return SessionPayload(session=session, errors=errors, conflicts=conflicts,
                          warnings=(warnings or []) if session is not None else [])


@strawberry.type
class SchedulingMutations:
    @strawberry.mutation
    async def schedule_session(self, info: Info, input: ScheduleSessionInput) -> SessionPayload:
        warnings: list[Warning] = []

        async def work(db, actor):
            check_staff(info.context.caller)
            session = (await scheduling.schedule_session(
                db, actor, starts_at=input.starts_at, ends_at=input.ends_at, settings=info.context.plugins.settings,
                parts=_spans(input.parts), allow_outside_hours=bool(input.allow_outside_hours),
                **_session_fields(input))).id
            warnings.extend(await budget_warnings(info, db, [session]))
            return session

        return await _payload(info, work, warnings)

    @strawberry.mutation(description="Moves the session (every part, or one) and their bookings at once, or nothing; "
                                     "tells the enrolled.")
    async def reschedule_session(self, info: Info, input: RescheduleSessionInput) -> SessionPayload:
        warnings: list[Warning] = []

        async def work(db, actor):
            check_staff(info.context.caller)
            session = (await scheduling.reschedule_session(db, actor, decode_id(input.session_id, "Session", "sessionId"),
                                                           input.starts_at, input.ends_at,
                                                           settings=info.context.plugins.settings, part=input.part,
                                                           parts=_spans(input.parts),
                                                           allow_outside_hours=bool(input.allow_outside_hours))).id
            warnings.extend(await budget_warnings(info, db, [session]))
            return session

        return await _payload(info, work, warnings)

    @strawberry.mutation(description="Every occurrence of an RRULE as a session, checked as scheduleSession checks "
                                     "one; all of them or none.")
    async def schedule_series(self, info: Info, input: ScheduleSeriesInput) -> ScheduleSeriesPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            made, found, sessions = await series.schedule_series(
                db, actor, recurrence=input.recurrence, starts_at=input.starts_at, ends_at=input.ends_at,
                parts=_spans(input.parts), except_dates=input.except_dates, dry_run=bool(input.dry_run),
                allow_outside_hours=bool(input.allow_outside_hours),
                settings=info.context.plugins.settings, **_session_fields(input))
            return (made.id if made else None, [(o.number, o.parts) for o in found], [s.id for s in sessions])

        result, errors, error = await attempt(info, work)
        conflicts = [conflict(c) for c in (error.conflicts if error else [])]
        if result is None:
            return ScheduleSeriesPayload(series=None, sessions=[], occurrences=[], errors=errors, conflicts=conflicts)
        series_pk, found, session_pks = result
        made = await info.context.loaders.series.load(series_pk) if series_pk is not None else None
        sessions = [s for s in await info.context.loaders.sessions.load_many(session_pks) if s is not None]
        return ScheduleSeriesPayload(series=made, sessions=sessions, occurrences=_occurrences(found), errors=errors,
                                     conflicts=conflicts)

    @strawberry.mutation(description=(
        "Moves this and later occurrences of a series on its local wall clock, each checked as rescheduleSession "
        "checks one; all of them or none; tells the enrolled."))
    async def reschedule_series(self, info: Info, input: RescheduleSeriesInput) -> RescheduleSeriesPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            made, found, moved = await series.reschedule_series(
                db, actor, decode_id(input.series_id, "Series", "seriesId"),
                series.SeriesMove(
                    start_time=input.start_time, shift_minutes=input.shift_minutes,
                    duration_minutes=input.duration_minutes,
                    instructor_ids=None if input.instructor_ids is None else tuple(
                        decode_id(i, "Resource", "instructorIds") for i in input.instructor_ids),
                    room_id=None if input.room_id is None else decode_id(input.room_id, "Resource", "roomId")),
                settings=info.context.plugins.settings, from_=input.from_, from_occurrence=input.from_occurrence,
                dry_run=bool(input.dry_run), allow_outside_hours=bool(input.allow_outside_hours))
            return made.id, [(o.number, o.parts) for o in found], [s.id for s in moved]

        result, errors, error = await attempt(info, work)
        conflicts = [conflict(c) for c in (error.conflicts if error else [])]
        if result is None:
            return RescheduleSeriesPayload(series=None, sessions=[], occurrences=[], errors=errors, conflicts=conflicts)
        series_pk, found, session_pks = result
        sessions = [s for s in await info.context.loaders.sessions.load_many(session_pks) if s is not None]
        return RescheduleSeriesPayload(series=await info.context.loaders.series.load(series_pk), sessions=sessions,
                                       occurrences=_occurrences(found), errors=errors, conflicts=[])

    @strawberry.mutation(description="Cancels a series' occurrences from an instant on (all still scheduled by "
                                     "default), each as cancelSession would; the earlier ones stay.")
    async def cancel_series(self, info: Info, input: CancelSeriesInput) -> CancelSeriesPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            made, cancelled = await series.cancel_series(db, actor, decode_id(input.series_id, "Series", "seriesId"),
                                                         input.from_, input.reason)
            return made.id, [s.id for s in cancelled]

        result, errors, _ = await attempt(info, work)
        if result is None:
            return CancelSeriesPayload(series=None, sessions=[], errors=errors)
        sessions = [s for s in await info.context.loaders.sessions.load_many(result[1]) if s is not None]
        return CancelSeriesPayload(series=await info.context.loaders.series.load(result[0]), sessions=sessions,
                                   errors=errors)

    @strawberry.mutation(description="Changes only the fields sent, without moving the session: a meeting link "
                                     "entered by hand (seated learners' links follow).")
    async def update_session(self, info: Info, input: UpdateSessionInput) -> SessionPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            changes = {} if input.join_url is strawberry.UNSET else {"join_url": input.join_url}
            return (await scheduling.update_session(db, actor, decode_id(input.session_id, "Session", "sessionId"),
                                                    **changes)).id

        return await _payload(info, work)

    @strawberry.mutation(description="Frees every booking, cancels the meeting, tells every enrolled and waitlisted learner.")
    async def cancel_session(self, info: Info, input: CancelSessionInput) -> SessionPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await scheduling.cancel_session(db, actor, decode_id(input.session_id, "Session", "sessionId"),
                                                    input.reason)).id

        return await _payload(info, work)

    @strawberry.mutation(description="More seats go to the first waitlisted learners at once; fewer than are taken, "
                                     "or more than the room seats, is refused.")
    async def change_session_capacity(self, info: Info, input: ChangeSessionCapacityInput) -> SessionPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            return (await enrollment.change_capacity(db, actor, decode_id(input.session_id, "Session", "sessionId"),
                                                     input.capacity)).id

        return await _payload(info, work)
