"""resetCalendarFeed: a new secret address for a feed; the old one stops answering at once."""
from __future__ import annotations

import strawberry
from strawberry.types import Info

from podium.core.errors import DomainError, ErrorCode
from podium.core.services import calendar_feeds

from ..changes import attempt
from ..errors import UserError
from ..permissions import check_staff
from ..relay import decode_id
from .urls import feed_url


@strawberry.input(description="Without resourceId: your own feed. With a room's resourceId: that room's "
                              "(admin or coordinator).")
class ResetCalendarFeedInput:
    resource_id: strawberry.ID | None = None


@strawberry.type
class ResetCalendarFeedPayload:
    calendar_feed_url: str | None = strawberry.field(description="The new address; the old one answers 404.")
    errors: list[UserError]


@strawberry.type
class CalendarMutations:
    @strawberry.mutation(description="A new secret address for your calendar feed, or a room's (staff); "
                                     "calendars subscribed to the old one stop updating.")
    async def reset_calendar_feed(self, info: Info, input: ResetCalendarFeedInput) -> ResetCalendarFeedPayload:
        caller, secret_key = info.context.caller, info.context.plugins.settings.secret_key

        async def work(db, actor):
            if input.resource_id is not None:
                check_staff(caller)
                room = decode_id(input.resource_id, "Resource", "resourceId")
                return await calendar_feeds.reset_feed(db, actor, secret_key, resource_id=room)
            if caller.person_id is None:
                raise DomainError(ErrorCode.FORBIDDEN, "Sign in as a person to have a calendar feed.")
            return await calendar_feeds.reset_feed(db, actor, secret_key, person_id=caller.person_id)

        token, errors, _ = await attempt(info, work)
        return ResetCalendarFeedPayload(calendar_feed_url=token and feed_url(info, token), errors=errors)
