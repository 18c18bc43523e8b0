"""scheduleSession, rescheduleSession, cancelSession, changeSessionCapacity: staff only; clashes come back
as `conflicts`."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.models import DeliveryMode as CoreDeliveryMode
from podium.core.services import enrollment, scheduling

from ..budgets.warnings import budget_warnings
from ..changes import attempt_then_load
from ..errors import UserError, Warning
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import (
    CancelSessionInput, ChangeSessionCapacityInput, RescheduleSessionInput, ScheduleSessionInput, SessionPartInput,
    UpdateSessionInput,
)
from .types import Conflict, Session


def _spans(parts: list[SessionPartInput] | None) -> list[tuple] | None:
    return None if parts is None else [(p.starts_at, p.ends_at) for p in parts]


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
    conflicts = [Conflict(resource_pk=c.resource_id, starts_at=c.starts_at, ends_at=c.ends_at)
                 for c in (error.conflicts if error else [])]
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
                db, actor, course_id=decode_id(input.course_id, "Course", "courseId"),
                starts_at=input.starts_at, ends_at=input.ends_at, timezone=input.timezone,
                delivery_mode=CoreDeliveryMode(input.delivery_mode),
                instructor_ids=[decode_id(i, "Resource", "instructorIds") for i in input.instructor_ids],
                capacity=input.capacity,
                room_id=decode_id(input.room_id, "Resource", "roomId") if input.room_id is not None else None,
                equipment_ids=[decode_id(i, "Resource", "equipmentIds") for i in input.equipment_ids or []],
                title=input.title, requires_approval=bool(input.requires_approval), join_url=input.join_url,
                setup_minutes=input.setup_minutes or 0, teardown_minutes=input.teardown_minutes or 0,
                settings=info.context.plugins.settings, parts=_spans(input.parts),
                allow_outside_hours=bool(input.allow_outside_hours))).id
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
