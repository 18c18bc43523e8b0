"""The `email` channel: every notification as a mail over SMTP (STARTTLS, auth), with the `.ics` attached."""
from __future__ import annotations

from podium.core import hookimpl
from podium.core.plugin_settings import is_configured, load_plugin_settings

from .channel import EmailChannel
from .config import EmailSettings


@hookimpl
def podium_notification_channels(settings):
    if not is_configured("email", settings.env):
        return []  # no PODIUM_EMAIL_* set: email stays off
    return [EmailChannel(load_plugin_settings(EmailSettings, "email", settings.env))]
