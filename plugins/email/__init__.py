"""The `email` channel: every notification as a mail over SMTP (STARTTLS, auth), with the `.ics` attached."""
from __future__ import annotations

from podium.plugin import hookimpl

from .provider import EmailChannel
from .config import EmailSettings


@hookimpl
def podium_notification_channels(context):
    if not context.is_configured():
        return []  # no PODIUM_EMAIL_* set: email stays off
    return [EmailChannel(context.load_settings(EmailSettings))]


@hookimpl
def podium_settings():
    return EmailSettings
