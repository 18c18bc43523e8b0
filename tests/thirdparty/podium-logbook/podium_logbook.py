"""A third-party Podium plugin: a `logbook` channel and a `podium_event` receiver that append JSON lines.

Settings: PODIUM_LOGBOOK_PATH (the file; unset, the plugin stays idle), PODIUM_LOGBOOK_DELAY_SECONDS
(a pause per delivery, to make a batch last long enough to be interrupted).
"""
from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass

from podium.plugin import hookimpl, is_configured, load_plugin_settings

__version__ = "1.2.0"


@dataclass(frozen=True)
class LogbookSettings:
    path: str
    delay_seconds: float = 0.0


def _append(path: str, record: dict) -> None:
    """One write() per line with O_APPEND: whole lines even when the process is killed."""
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class LogbookChannel:
    name = "logbook"

    def __init__(self, config: LogbookSettings) -> None:
        self.config = config

    async def deliver(self, notification) -> None:
        await asyncio.sleep(self.config.delay_seconds)
        _append(self.config.path, {"what": "notification", "kind": notification.kind, "to": notification.to,
                                   "subject": notification.subject, "key": notification.idempotency_key,
                                   "attachments": [a.filename for a in notification.attachments],
                                   "pid": os.getpid()})


def _config(settings) -> LogbookSettings | None:
    if not is_configured("logbook", settings.env):
        return None
    return load_plugin_settings(LogbookSettings, "logbook", settings.env)


@hookimpl
def podium_notification_channels(settings):
    config = _config(settings)
    return [LogbookChannel(config)] if config else []


@hookimpl
def podium_receives_events(settings):
    return _config(settings) is not None


@hookimpl
async def podium_event(event, settings):
    config = _config(settings)
    await asyncio.sleep(config.delay_seconds)
    _append(config.path, {"what": "event", "id": event.id, "type": event.type, "payload": event.payload,
                          "pid": os.getpid()})
