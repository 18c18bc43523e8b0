"""The addresses of feeds and downloads, under PODIUM_PUBLIC_URL or the address the request came to."""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from strawberry.types import Info

from podium.core.models import CalendarFeed
from podium.core.services.calendar_feeds import feed_token, feed_token_for


def base_url(info: Info) -> str:
    settings = info.context.plugins.settings
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(info.context.request.base_url).rstrip("/")


def feed_url(info: Info, token: str) -> str:
    return f"{base_url(info)}/calendar/{token}.ics"


def session_ics_url(info: Info, global_id: str) -> str:
    return f"{base_url(info)}/calendar/sessions/{quote(global_id, safe='')}.ics"


async def calendar_feed_url(info: Info, *, person_id: int | None = None, resource_id: int | None = None) -> str:
    """The feed's URL; the feed is made (one write) the first time anyone asks for it."""
    context, secret_key = info.context, info.context.plugins.settings.secret_key
    owner = CalendarFeed.person_id == person_id if person_id is not None else CalendarFeed.resource_id == resource_id
    async with context.reading() as db:
        nonce = await db.scalar(select(CalendarFeed.nonce).where(owner))
    if nonce is not None:
        return feed_url(info, feed_token(secret_key, nonce))
    async with context.changing() as db:
        token = await feed_token_for(db, secret_key, person_id=person_id, resource_id=resource_id)
    return feed_url(info, token)
