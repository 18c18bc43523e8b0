"""`evaluationInvitation(token)`: what a learner's evaluation page needs, for the link's token alone."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.services.evaluations import request_for_token

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
        async with info.context.reading() as db:
            row = await request_for_token(db, token)
        if row is None:
            return None
        loaders = info.context.loaders
        session = await loaders.sessions.load(row.session_id)
        return EvaluationInvitation(session=session, form=await loaders.course_evaluation_forms.load(session.course.pk),
                                    responded=row.responded_at is not None)
