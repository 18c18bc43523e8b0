"""proposeSchedule, applySchedulePlan, replan: staff only. The rules are core/services/planning.py's and,
when a plan is applied, core/services/scheduling.py's."""
from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from podium.core import limits
from podium.core.db import HELD
from podium.core.errors import DomainError
from podium.core.planning.problem import Weights, relative_gap
from podium.core.services import planning

from ..changes import attempt
from ..errors import UserError, user_error
from ..permissions import check_staff
from ..relay import decode_id, global_id
from ..scheduling.types import Session, SessionPart
from .inputs import ApplySchedulePlanInput, ProposeScheduleInput, ReplanInput
from .types import PlanConflict, PlanKind, PlannedSession, PlanStatus, SchedulePlan, UnplacedSession

DEADLINE_KEY = "podium.deadline"
"""Where the HTTP layer leaves the request's asyncio.timeout (schema/view.py): a solve extends it by its own
time limit, so PODIUM_REQUEST_TIMEOUT_SECONDS bounds the rest of the request, not the search."""


@strawberry.type
class SchedulePlanPayload:
    plan: SchedulePlan | None
    errors: list[UserError]


@strawberry.type
class ApplySchedulePlanPayload:
    plan: SchedulePlan | None
    sessions: list[Session] = strawberry.field(description="The sessions created (re-plan: changed), in the "
                                                           "plan's order; none when refused.")
    errors: list[UserError]
    conflicts: list[PlanConflict] = strawberry.field(description="Every session of the plan that no longer fits, "
                                                                 "and why; nothing was created.")


def plan_view(plan) -> SchedulePlan:
    request_index = {r["key"]: n for n, r in enumerate(plan.requests)}
    sessions = []
    for row in plan.sessions:
        parts = [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in row["parts"]]
        sessions.append(PlannedSession(
            request=request_index.get(row["request"], 0), starts_at=parts[0][0], ends_at=parts[-1][1],
            timezone=row["timezone"], parts=[SessionPart(part=i + 1, starts_at=a, ends_at=b)
                                             for i, (a, b) in enumerate(parts)],
            course_pk=row["course_id"], instructor_pks=list(row["instructor_ids"]), room_pk=row["room_id"],
            cost_minor=row["cost_minor"], session_pk=row.get("session_id")))
    unplaced = [UnplacedSession(request=request_index.get(u["request"], 0), reason=u["reason"],
                                course_pk=u["course_id"], session_pk=u.get("session_id")) for u in plan.unplaced]
    return SchedulePlan(id=global_id("SchedulePlan", plan.id), kind=PlanKind(plan.kind), status=PlanStatus(plan.status),
                        objective=plan.objective, bound=plan.bound,
                        gap=relative_gap(plan.objective, plan.bound), solve_seconds=plan.solve_seconds,
                        expires_at=plan.expires_at, applied_at=plan.applied_at, reason=plan.reason,
                        sessions=sessions, unplaced=unplaced)


def _ids(values, type_name: str, field: str) -> tuple[int, ...]:
    return tuple(decode_id(v, type_name, field) for v in values or ())


def _propose_input(input: ProposeScheduleInput) -> planning.ProposeInput:
    requests = []
    for index, r in enumerate(input.requests):
        where = f"requests.{index}"
        requests.append(planning.RequestInput(
            course_id=decode_id(r.course_id, "Course", f"{where}.courseId"), count=r.count,
            window_from=r.window.from_, window_to=r.window.to, delivery_mode=r.delivery_mode.value,
            capacity=r.capacity,
            parts=None if r.parts is None else [planning.PartInput(p.day, p.starts_at, p.ends_at, p.duration_minutes)
                                                for p in r.parts],
            venue_ids=_ids(r.venue_ids, "Venue", f"{where}.venueIds"),
            learner_ids=_ids(r.learner_ids, "Person", f"{where}.learnerIds"), timezone=r.timezone,
            preferred_instructor_ids=_ids(r.preferred_instructor_ids, "Resource", f"{where}.preferredInstructorIds"),
            room_features=tuple(r.room_features or ()), setup_minutes=r.setup_minutes or 0,
            teardown_minutes=r.teardown_minutes or 0, title=r.title))
    o = input.objective
    weights = Weights() if o is None else Weights(cost=o.cost, travel=o.travel, spread=o.spread,
                                                  preferred=o.preferred_instructors, local_time=o.learner_local_time)
    return planning.ProposeInput(requests=requests, weights=weights, time_limit_seconds=input.time_limit_seconds,
                                 fix_existing=input.fix_existing,
                                 granularity_minutes=60 if input.granularity_minutes is None
                                 else input.granularity_minutes)


def _extend_deadline(info: Info, seconds: float) -> None:
    scope = getattr(info.context.request, "scope", None) or {}
    deadline = scope.get(DEADLINE_KEY)
    if deadline is not None and deadline.when() is not None:
        deadline.reschedule(deadline.when() + seconds + 5)


def _gone(info: Info):
    """Has the client gone away? (HTTP: a disconnect message is waiting; otherwise never.)"""
    check = getattr(info.context.request, "is_disconnected", None)
    if check is None:
        return None

    async def gone() -> bool:
        try:
            return bool(await check())
        except Exception:  # noqa: BLE001 - a transport that cannot tell: keep solving
            return False
    return gone


async def _read(info: Info, load):
    """Load the problem in one read, then end the read: the solve holds no transaction open."""
    async with info.context.reading() as db:
        world = await load(db)
        if db.in_transaction() and not db.info.get(HELD):
            await db.commit()
    return world


async def _solve_and_store(info: Info, kind: str, load, seconds: float, reason: str | None = None
                           ) -> SchedulePlanPayload:
    try:
        world = await _read(info, load)
    except DomainError as error:
        return SchedulePlanPayload(plan=None, errors=[user_error(error)])
    _extend_deadline(info, seconds)
    settings = info.context.plugins.settings
    solution = await planning.solve_off_loop(world.problem, seconds, is_gone=_gone(info),
                                             concurrency=settings.solver_concurrency)

    async def work(db, actor):
        return plan_view(await planning.store_plan(db, actor, kind, world, solution, settings, reason))

    plan, errors, _ = await attempt(info, work)
    return SchedulePlanPayload(plan=plan, errors=errors)


@strawberry.type
class PlanningMutations:
    @strawberry.mutation(description="Proposes a timetable for the requests with the CP-SAT solver, within "
                                     "timeLimitSeconds; the plan is stored (see applySchedulePlan) and changes "
                                     "nothing yet. For an admin or a coordinator.")
    async def propose_schedule(self, info: Info, input: ProposeScheduleInput) -> SchedulePlanPayload:
        try:
            check_staff(info.context.caller)
            given = _propose_input(input)
            seconds = planning.check_input(given, info.context.plugins.settings)
        except DomainError as error:
            return SchedulePlanPayload(plan=None, errors=[user_error(error)])
        return await _solve_and_store(info, planning.PROPOSAL, lambda db: planning.load_proposal(db, given), seconds)

    @strawberry.mutation(description="Creates every session of a plan (re-plan: changes them) in one transaction "
                                     "through the scheduling rules, or none and the conflicts listed.")
    async def apply_schedule_plan(self, info: Info, input: ApplySchedulePlanInput) -> ApplySchedulePlanPayload:
        settings = info.context.plugins.settings

        async def work(db, actor):
            check_staff(info.context.caller)
            plan, made = await planning.apply_plan(db, actor, decode_id(input.plan_id, "SchedulePlan", "planId"),
                                                   settings)
            return plan_view(plan), made

        result, errors, error = await attempt(info, work)
        conflicts = []
        if isinstance(error, planning.PlanConflicts):
            for problem in error.problems:
                clashes = problem.error.conflicts or [None]
                for clash in clashes:
                    conflicts.append(PlanConflict(
                        plan_session=problem.number, code=problem.error.code, message=problem.error.message,
                        starts_at=clash.starts_at if clash else None, ends_at=clash.ends_at if clash else None,
                        resource_pk=clash.resource_id if clash else None))
        if result is None:
            return ApplySchedulePlanPayload(plan=None, sessions=[], errors=errors, conflicts=conflicts)
        plan, made = result
        sessions = [s for s in await info.context.loaders.sessions.load_many(made) if s is not None]
        return ApplySchedulePlanPayload(plan=plan, sessions=sessions, errors=errors, conflicts=conflicts)

    @strawberry.mutation(description="Proposes new instructors, rooms or times for the sessions a resource holds "
                                     "in [from, to), changing as few assignments and moving as few learners as it "
                                     "can; every other session stays. Apply it with applySchedulePlan.")
    async def replan(self, info: Info, input: ReplanInput) -> SchedulePlanPayload:
        try:
            check_staff(info.context.caller)
            resource_id = decode_id(input.resource_id, "Resource", "resourceId")
            reason = limits.text(input.reason, "reason", limits.NOTE, required=False, multiline=True)
            seconds = planning.time_limit(input.time_limit_seconds, info.context.plugins.settings)
        except DomainError as error:
            return SchedulePlanPayload(plan=None, errors=[user_error(error)])
        return await _solve_and_store(
            info, planning.REPLAN, lambda db: planning.load_replan(db, resource_id, input.from_, input.to), seconds,
            reason)
