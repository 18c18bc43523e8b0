"""programTemplates, programs, certifications, expiringCertifications; and a program's journeys
and readiness. Who sees what: staff everything; an instructor the programs whose live sessions
they teach; a learner the programs they are in, and only their own journey and certifications."""
from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from podium.core.errors import DomainError
from podium.core.instants import utc_now
from podium.core.models import Certification as CertificationRow
from podium.core.models import Program as ProgramRow
from podium.core.models import ProgramLearner
from podium.core.services import journeys as journey_service
from podium.core.services import programs as program_service

from ..errors import ClientError
from ..permissions import (
    own_certifications, require_session_staff, require_signed_in, require_staff, visible_programs, within_program,
)
from ..relay import connection, encode_cursor, id_after, instant_after, page_size, query_id
from .dataloaders import build_programs
from .types import (
    Certification, CertificationConnection, LearnerJourneyConnection, ProgramConnection, ProgramTemplate,
    ReadinessEntry, certification_from, journey_from, template_from,
)

MAX_EXPIRING = 1000


async def journey_connection(info: Info, program_id: int, first: int | None,
                             after: str | None) -> LearnerJourneyConnection:
    """Journeys paged by the cohort's order of joining; one page is computed in a fixed number of statements."""
    context = info.context
    size, after_id = page_size(first), id_after(after)
    where = [ProgramLearner.program_id == program_id, *within_program(context.caller, ProgramLearner.learner_id)]
    query = select(ProgramLearner.id, ProgramLearner.learner_id).where(*where)
    if after_id is not None:
        query = query.where(ProgramLearner.id > after_id)
    async with context.reading() as db:
        rows = (await db.execute(query.order_by(ProgramLearner.id).limit(size + 1))).all()
        page = rows[:size]
        found = {j.learner_id: j for j in await journey_service.journeys(db, program_id, [r.learner_id for r in page])}

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(select(func.count()).select_from(ProgramLearner).where(*where))

    return connection([journey_from(found[learner_id], pk, program_id) for pk, learner_id in page],
                      len(rows) > size, after, lambda j: encode_cursor(j.pk), count_total)


async def person_journey_connection(info: Info, person_id: int, first: int | None,
                                    after: str | None) -> LearnerJourneyConnection:
    """A person's journeys, one per program they are in, in the order they joined: the programs the
    caller may see, and within them what `within_program` allows. One journey computation per program
    on the page."""
    context = info.context
    require_signed_in(context.caller, "journeys")
    size, after_id = page_size(first), id_after(after)
    where = [ProgramLearner.learner_id == person_id, *within_program(context.caller, ProgramLearner.learner_id)]
    query = visible_programs(context.caller, select(ProgramLearner.id, ProgramLearner.program_id)
                             .join(ProgramRow, ProgramRow.id == ProgramLearner.program_id).where(*where))
    count_query = visible_programs(context.caller, select(func.count()).select_from(ProgramLearner)
                                   .join(ProgramRow, ProgramRow.id == ProgramLearner.program_id).where(*where))
    if after_id is not None:
        query = query.where(ProgramLearner.id > after_id)
    async with context.reading() as db:
        rows = (await db.execute(query.order_by(ProgramLearner.id).limit(size + 1))).all()
        page = []
        for pk, program_id in rows[:size]:
            journey, = await journey_service.journeys(db, program_id, [person_id])
            page.append(journey_from(journey, pk, program_id))

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(count_query)

    return connection(page, len(rows) > size, after, lambda j: encode_cursor(j.pk), count_total)


async def certification_connection(info: Info, person_id: int | None, first: int | None,
                                   after: str | None) -> CertificationConnection:
    """Certifications oldest first, of one person or everyone: staff see any, everyone else their own."""
    context = info.context
    require_signed_in(context.caller, "certifications")
    size, after_id = page_size(first), id_after(after)
    where = [] if person_id is None else [CertificationRow.person_id == person_id]
    where += own_certifications(context.caller)
    query = select(CertificationRow).where(*where)
    if after_id is not None:
        query = query.where(CertificationRow.id > after_id)
    async with context.reading() as db:
        rows = (await db.scalars(query.order_by(CertificationRow.id).limit(size + 1))).all()

    async def count_total() -> int:
        async with context.reading() as db:
            return await db.scalar(select(func.count()).select_from(CertificationRow).where(*where))

    return connection([certification_from(r) for r in rows[:size]], len(rows) > size, after,
                      lambda c: encode_cursor(c.pk), count_total)


async def program_readiness(info: Info, program_id: int, session_global_id: str) -> list[ReadinessEntry]:
    """For staff and the session's instructors: the roster's readiness is theirs to see."""
    caller = info.context.caller
    session_id = query_id(session_global_id, "Session", "sessionId")
    async with info.context.reading() as db:
        await require_session_staff(db, caller, session_id, "readiness")
        try:
            entries = await journey_service.readiness(db, program_id, session_id)
        except DomainError as error:
            raise ClientError(error.message, error.code) from None
    return [ReadinessEntry(learner_pk=e.learner_id, ready=e.ready, missing_stages=list(e.missing_stages))
            for e in entries]


async def program_certifications(info: Info, program_id: int) -> list[Certification]:
    caller = info.context.caller
    query = select(CertificationRow).where(CertificationRow.program_id == program_id,
                                           *within_program(caller, CertificationRow.person_id))
    async with info.context.reading() as db:
        rows = (await db.scalars(query.order_by(CertificationRow.id))).all()
    return [certification_from(r) for r in rows]


async def certification_node(info: Info, pk: int) -> Certification | None:
    """`node(id:)` for a certification: staff see any, everyone else their own."""
    caller = info.context.caller
    query = select(CertificationRow).where(CertificationRow.id == pk, *own_certifications(caller))
    async with info.context.reading() as db:
        row = await db.scalar(query)
    return certification_from(row) if row else None


@strawberry.type
class ProgramQueries:
    @strawberry.field(description='Built in: "flipped", "sandwich", "ongoing-blend"; then the organisation\'s own.')
    async def program_templates(self, info: Info) -> list[ProgramTemplate]:
        require_signed_in(info.context.caller, "program templates")
        async with info.context.reading() as db:
            return [template_from(t) for t in await program_service.list_templates(db)]

    @strawberry.field(description="In the order programs were created; what the caller may see.")
    async def programs(self, info: Info, first: int | None = None, after: str | None = None) -> ProgramConnection:
        context = info.context
        size, after_id = page_size(first), id_after(after)
        query = visible_programs(context.caller, select(ProgramRow))
        count_query = visible_programs(context.caller, select(func.count()).select_from(ProgramRow))
        if after_id is not None:
            query = query.where(ProgramRow.id > after_id)
        async with context.reading() as db:
            rows = (await db.scalars(query.order_by(ProgramRow.id).limit(size + 1))).all()
            programs = await build_programs(db, rows[:size])
        for program in programs:
            context.loaders.programs.prime(program.pk, program)

        async def count_total() -> int:
            async with context.reading() as db:
                return await db.scalar(count_query)

        return connection(programs, len(rows) > size, after, lambda p: encode_cursor(p.pk), count_total)

    @strawberry.field(description="Certifications, oldest first; a learner or instructor sees only their own.")
    async def certifications(self, info: Info, person_id: strawberry.ID | None = None, first: int | None = None,
                             after: str | None = None) -> CertificationConnection:
        person = None if person_id is None else query_id(person_id, "Person", "personId")
        return await certification_connection(info, person, first, after)

    @strawberry.field(description="Recertification: who holds a certification expiring within `withinDays` days "
                                  "that no later one outlasts; soonest first, the first 1,000. Staff only.",
                      deprecation_reason="Use certificationsExpiring: the same certifications, paged.")
    async def expiring_certifications(self, info: Info, within_days: int) -> list[Certification]:
        require_staff(info.context.caller, "expiring certifications")
        async with info.context.reading() as db:
            try:
                rows = await journey_service.expiring_certifications(db, within_days)
            except DomainError as error:
                raise ClientError(error.message, error.code) from None
        return [certification_from(r) for r in rows[:MAX_EXPIRING]]

    @strawberry.field(description="Recertification: who holds a certification expiring within `withinDays` days "
                                  "that no later one outlasts; soonest expiry first, paged. Staff only.")
    async def certifications_expiring(self, info: Info, within_days: int, first: int | None = None,
                                      after: str | None = None) -> CertificationConnection:
        context = info.context
        require_staff(context.caller, "expiring certifications")
        size, position = page_size(first), instant_after(after)
        now = utc_now()  # one instant for the page and its count
        async with context.reading() as db:
            try:
                rows = await journey_service.expiring_certifications(db, within_days, now, after=position,
                                                                     limit=size + 1)
            except DomainError as error:
                raise ClientError(error.message, error.code) from None

        async def count_total() -> int:
            async with context.reading() as db:
                return await db.scalar(select(func.count()).select_from(CertificationRow).where(
                    *journey_service.expiring_filter(within_days, now)))

        return connection([certification_from(r) for r in rows[:size]], len(rows) > size, after,
                          lambda c: encode_cursor(c.expires_at.isoformat(), c.pk), count_total)
