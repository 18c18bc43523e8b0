"""Inputs of the blended-program operations."""
from __future__ import annotations

import strawberry

from .types import StageKind


@strawberry.input
class StageActivityInput:
    stage_key: str
    lms_activity_ref: str = strawberry.field(description="The LMS activity (for Moodle, the course-module id).")


@strawberry.input
class CreateProgramInput:
    template_key: str
    course_id: strawberry.ID
    title: str | None = None
    live_session_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description=(
        "The live sessions, in order; [] (the default) when liveSeriesId gives them."))
    learner_ids: list[strawberry.ID]
    live_series_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "For a template whose LIVE stage repeats (ongoing-blend): a series (scheduleSeries) whose occurrences "
        "still open for enrolment are the live sessions, one LIVE stage each, every learner in every one. "
        "Instead of liveSessionIds."))
    lms_course_ref: str | None = strawberry.field(default=None,
                                                  description="The LMS course holding the self-paced stages.")
    lms_connector: str | None = strawberry.field(default=None, description=(
        'The LMS connector: its own name (e.g. "moodle") or its plugin\'s (e.g. "lms_moodle"); '
        "the program keeps the connector's name."))
    stage_activities: list[StageActivityInput] | None = strawberry.field(
        default=None, description="The LMS activity of each self-paced or assessment stage; by default its key.")


@strawberry.input
class SyncProgramProgressInput:
    program_id: strawberry.ID


@strawberry.input
class AddProgramLearnersInput:
    program_id: strawberry.ID
    learner_ids: list[strawberry.ID]


@strawberry.input
class CancelProgramInput:
    program_id: strawberry.ID
    reason: str
    cancel_enrollments: bool = strawberry.field(
        default=False, description="Also cancel the learners' enrolments in live sessions not yet started.")


@strawberry.input
class StageTemplateInput:
    key: str
    kind: StageKind
    title: str
    offset_days: int
    required: bool = True
    window_days: int | None = None
    repeat: bool = False


@strawberry.input
class CreateProgramTemplateInput:
    key: str
    name: str
    stages: list[StageTemplateInput]
