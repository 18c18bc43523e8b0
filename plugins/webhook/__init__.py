"""The `webhook` plugin: every domain event POSTed as JSON to one URL, signed with HMAC-SHA256."""
from __future__ import annotations

from podium.plugin import hookimpl

from .config import WebhookSettings
from .client import send_event


@hookimpl
def podium_receives_events(context):
    """Without `PODIUM_WEBHOOK_*` settings there is nowhere to send events: no outbox rows for them.
    Checks the settings at start-up too, so a typo stops Podium before it serves."""
    if not context.is_configured():
        return False
    context.load_settings(WebhookSettings)
    return True


@hookimpl
async def podium_event(event, context):
    await send_event(context.load_settings(WebhookSettings), event)


@hookimpl
def podium_settings():
    return WebhookSettings
