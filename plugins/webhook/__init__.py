"""The `webhook` plugin: every domain event POSTed as JSON to one URL, signed with HMAC-SHA256."""
from __future__ import annotations

from podium.core import hookimpl
from podium.core.plugin_settings import is_configured, load_plugin_settings

from .config import WebhookSettings
from .client import send_event


@hookimpl
def podium_receives_events(settings):
    """Without `PODIUM_WEBHOOK_*` settings there is nowhere to send events: no outbox rows for them."""
    return is_configured("webhook", settings.env)


@hookimpl
async def podium_event(event, settings):
    await send_event(load_plugin_settings(WebhookSettings, "webhook", settings.env), event)


@hookimpl
def podium_notification_channels(settings):
    """Nothing to contribute; checks the settings at start-up so a typo stops Podium before it serves."""
    if is_configured("webhook", settings.env):
        load_plugin_settings(WebhookSettings, "webhook", settings.env)
    return []
