"""`evaluationInvitation(token)`: what a learner's evaluation page needs, for the link's token alone."""
from __future__ import annotations

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from podium.core.models import EvaluationRequest as RequestRow
from podium.core.services.evaluations import token_hash

from ..scheduling.types import Session
from .types import EvaluationForm


@strawberry.type(description="A learner's evaluation link: the session, its course's form, and whether it was "
                              "answered.")
class EvaluationInvitation:
    session: Session
    form: EvaluationForm | None = strawberry.field(description="Null when the course's form was removed since.")
    responded: bool = strawberry.field(description="Answered already: a submit would be DUPLICATE.")


@strawberry.type
class EvaluationQueries:
    @strawberry.field(description="The session and form behind an evaluation link's token; null for an unknown "
                                  "token. Needs no bearer token.")
    async def evaluation_invitation(self, info: Info, token: str) -> EvaluationInvitation | None:
        if not 0 < len(token) <= 128:
            return None
        async with info.context.reading() as db:
            row = (await db.execute(select(RequestRow.session_id, RequestRow.responded_at)
                                    .where(RequestRow.token_hash == token_hash(token)))).first()
        if row is None:
            return None
        loaders = info.context.loaders
        session = await loaders.sessions.load(row.session_id)
        return EvaluationInvitation(session=session, form=await loaders.course_evaluation_forms.load(session.course.pk),
                                    responded=row.responded_at is not None)
