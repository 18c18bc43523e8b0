"""createProgram, addProgramLearners, cancelProgram, syncProgramProgress, createProgramTemplate: staff only; the rules are the
programs and journeys services'."""
from __future__ import annotations

from typing import Any

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.services import journeys as journey_service
from podium.core.services import programs as program_service

from ..catalogue.types import Person
from ..enrollment.types import Enrollment
from ..changes import attempt
from ..errors import UserError, user_error
from ..permissions import check_staff
from ..relay import decode_id
from .inputs import (
    AddProgramLearnersInput, CancelProgramInput, CreateProgramInput, CreateProgramTemplateInput,
    SyncProgramProgressInput,
)
from .types import (
    Certification, Placement, Program, ProgramTemplate, certification_from, placement_from, template_from,
)


@strawberry.type(description="A learner the LMS failed on in syncProgramProgress, and what it said.")
class LmsFailure:
    learner: Person
    reason: str = strawberry.field(description="The LMS's answer, e.g. `MoodleError: Moodle refused "
                                               "core_completion_get_activities_completion_status: ... [nopermissions]`.")


@strawberry.type
class ProgramPayload:
    program: Program | None
    errors: list[UserError]
    placements: list[Placement] = strawberry.field(description="createProgram, addProgramLearners: where each "
                                                               "learner was placed.")
    waitlisted: list[Placement] = strawberry.field(description="createProgram, addProgramLearners: the placements "
                                                               "on a waitlist.")
    cancelled_enrollments: list[Enrollment] = strawberry.field(
        description="cancelProgram with cancelEnrollments: the enrolments it cancelled.")
    certified: list[Certification] = strawberry.field(description="syncProgramProgress: certifications issued now.")
    lms_not_found: list[Person] = strawberry.field(description="syncProgramProgress: learners the LMS does not know.")
    lms_failed: list[Person] = strawberry.field(description="syncProgramProgress: learners the LMS failed on; "
                                                            "the next sync tries again.")
    lms_failures: list[LmsFailure] = strawberry.field(
        default_factory=list, description="syncProgramProgress: each learner the LMS failed on, with why.")


@strawberry.type
class ProgramTemplatePayload:
    template: ProgramTemplate | None
    errors: list[UserError]


def lms_connectors(info: Info) -> dict[str, Any]:
    plugins = info.context.plugins
    return dict(plugins.providers.get("lms_connectors", {})) if plugins is not None else {}


async def _payload(info: Info, program_id: int | None, errors: list[UserError], **lists: Any) -> ProgramPayload:
    program = await info.context.loaders.programs.load(program_id) if program_id else None
    people = info.context.loaders.people
    return ProgramPayload(
        program=program, errors=errors, placements=lists.get("placements", []), waitlisted=lists.get("waitlisted", []),
        certified=lists.get("certified", []),
        cancelled_enrollments=[e for e in await info.context.loaders.enrollments.load_many(
            lists.get("cancelled_enrollments", [])) if e],
        lms_not_found=[p for p in await people.load_many(lists.get("not_found", [])) if p],
        lms_failed=[p for p in await people.load_many(lists.get("failed", [])) if p],
        lms_failures=[LmsFailure(learner=p, reason=reason) for p, reason in zip(
            await people.load_many(list(lists.get("failures", {}))), lists.get("failures", {}).values()) if p])


async def _lms_side(info: Info, input: CreateProgramInput) -> tuple[str | None, dict[str, str] | None]:
    """The program's LMS connector (named by itself or its plugin) and its course's activities, asked before
    any transaction opens; a connector without `activities()` lists none (then only missing ones are refused)."""
    connector = (input.lms_connector or "").strip()
    if not connector or info.context.plugins is None:
        return connector or None, None
    named = info.context.plugins.provider_name("lms_connectors", connector)
    if named is None:
        raise DomainError(ErrorCode.INVALID, f"No LMS connector {connector[:64]!r} is loaded (loaded: "
                          f"{', '.join(lms_connectors(info)) or 'none'}).", "lmsConnector")
    course_ref = (input.lms_course_ref or "").strip()
    listing = getattr(lms_connectors(info)[named], "activities", None)
    if listing is None or not course_ref or len(course_ref) > 200:
        return named, None
    try:
        return named, dict(await listing(course_ref))
    except Exception as exc:  # noqa: BLE001 - whatever the LMS said is what the coordinator must read
        raise DomainError(ErrorCode.INVALID, f"The LMS could not list course {course_ref[:200]!r}'s activities: "
                          f"{str(exc)[:500]}", "lmsCourseRef") from None


@strawberry.type
class ProgramMutations:
    @strawberry.mutation(description="Instantiate a template for a course and a cohort: the cohort is placed in the "
                                     "live sessions (split across parallel ones, the first filled first) and "
                                     "enrolled in the LMS course.")
    async def create_program(self, info: Info, input: CreateProgramInput) -> ProgramPayload:
        try:
            check_staff(info.context.caller)
            connector, lms_activities = await _lms_side(info, input)
        except DomainError as error:
            return await _payload(info, None, [user_error(error)])

        async def work(db, actor):
            activities: dict[str, str] = {}
            for index, item in enumerate(input.stage_activities or []):
                if item.stage_key in activities:
                    raise DomainError(ErrorCode.INVALID, f"Stage {item.stage_key!r} is listed twice.",
                                      f"stageActivities.{index}.stageKey")
                activities[item.stage_key] = item.lms_activity_ref.strip()
            created = await program_service.create_program(
                db, actor, template_key=input.template_key, title=input.title,
                course_id=decode_id(input.course_id, "Course", "courseId"),
                live_session_ids=[decode_id(s, "Session", f"liveSessionIds.{i}")
                                  for i, s in enumerate(input.live_session_ids)],
                live_series_id=(None if input.live_series_id is None
                                else decode_id(input.live_series_id, "Series", "liveSeriesId")),
                learner_ids=[decode_id(p, "Person", f"learnerIds.{i}") for i, p in enumerate(input.learner_ids)],
                lms_course_ref=input.lms_course_ref, lms_connector=connector or None, stage_activities=activities,
                settings=info.context.plugins.settings, lms_activities=lms_activities)
            return created.program.id, [placement_from(p) for p in created.placements]

        result, errors, _ = await attempt(info, work)
        program_id, placements = result or (None, [])
        return await _payload(info, program_id, errors, placements=placements,
                              waitlisted=[p for p in placements if p.waitlist_position is not None])

    @strawberry.mutation(description="Join learners to a program: placed in its open live sessions as createProgram "
                                     "places a cohort, and enrolled in the LMS course.")
    async def add_program_learners(self, info: Info, input: AddProgramLearnersInput) -> ProgramPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            added = await program_service.add_program_learners(
                db, actor, decode_id(input.program_id, "Program", "programId"),
                [decode_id(p, "Person", f"learnerIds.{i}") for i, p in enumerate(input.learner_ids)])
            return added.program.id, [placement_from(p) for p in added.placements]

        result, errors, _ = await attempt(info, work)
        program_id, placements = result or (None, [])
        return await _payload(info, program_id, errors, placements=placements,
                              waitlisted=[p for p in placements if p.waitlist_position is not None])

    @strawberry.mutation(description="Cancel a program: its pending reminders, summaries and syncs are dropped and "
                                     "its learners told; their live-session enrolments stand unless "
                                     "cancelEnrollments.")
    async def cancel_program(self, info: Info, input: CancelProgramInput) -> ProgramPayload:
        async def work(db, actor):
            check_staff(info.context.caller)
            done = await program_service.cancel_program(
                db, actor, decode_id(input.program_id, "Program", "programId"), input.reason,
                cancel_enrollments=input.cancel_enrollments)
            return done.program.id, done.cancelled_enrollments

        result, errors, _ = await attempt(info, work)
        program_id, cancelled = result or (None, [])
        return await _payload(info, program_id, errors, cancelled_enrollments=cancelled)

    @strawberry.mutation(description="Pull LMS completion for every learner, update the journeys (attendance "
                                     "completes LIVE stages) and certify who has completed.")
    async def sync_program_progress(self, info: Info, input: SyncProgramProgressInput) -> ProgramPayload:
        context = info.context
        try:
            check_staff(context.caller)
            program_id = decode_id(input.program_id, "Program", "programId")
            program = await context.loaders.programs.load(program_id)
            if program is None:
                raise DomainError(ErrorCode.NOT_FOUND, "No program with that id.", "programId")
            connector = None
            if program.lms_connector:
                connector = lms_connectors(info).get(program.lms_connector)
                if connector is None:
                    raise DomainError(ErrorCode.INVALID, f"The LMS connector {program.lms_connector!r} is not "
                                      "loaded.", "programId")
            async with context.reading() as db:
                pull = await journey_service.pull_completion(db, program_id, connector)
        except DomainError as error:
            return await _payload(info, None, [user_error(error)])

        async def work(db, actor):
            recorded = await journey_service.record_progress(db, actor, program_id, pull)
            return recorded.certified

        certified, errors, _ = await attempt(info, work)
        certifications = []
        if certified:
            async with context.reading() as db:
                certifications = [certification_from(c) for c in await journey_service.certifications(
                    db, program_id=program_id) if c.person_id in set(certified)]
        return await _payload(info, None if errors else program_id, errors, certified=certifications,
                              not_found=pull.not_found, failed=sorted(pull.failed),
                              failures=dict(sorted(pull.failed.items())))

    @strawberry.mutation(description="An organisation's own program template; ADMIN and COORDINATOR only.")
    async def create_program_template(self, info: Info, input: CreateProgramTemplateInput) -> ProgramTemplatePayload:
        async def work(db, actor):  # create_program_template checks the role
            stages = [{"key": s.key, "kind": s.kind.value, "title": s.title,
                       "offset_days": s.offset_days, "required": s.required, "window_days": s.window_days,
                       "repeat": s.repeat} for s in input.stages]
            return template_from(await program_service.create_program_template(
                db, actor, key=input.key, name=input.name, stages=stages))

        template, errors, _ = await attempt(info, work)
        return ProgramTemplatePayload(template=template, errors=errors)


