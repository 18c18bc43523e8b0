"""Running the real outbox dispatcher beside a test, and waiting for what it delivers."""
from __future__ import annotations

import asyncio
import inspect
import json
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from podium.core import hookimpl
from podium.core.models import OutboxMessage
from podium.core.outbox import Dispatcher
from podium.core.plugins import PluginContext, create_plugin_manager, load_plugins
from podium.core.settings import Settings

QUICK = dict(outbox_poll_seconds=0.1, outbox_backoff_seconds=0.05, outbox_backoff_max_seconds=0.5,
             outbox_timeout_seconds=5.0, outbox_lease_seconds=30.0)


def settings_from(env: dict[str, str], **fields) -> Settings:
    """Settings read from `env` as Podium would, with quick outbox timings unless told otherwise."""
    return replace(Settings.from_env(env), **{**QUICK, **fields})


def plugin_context(settings: Settings, plugin: str) -> PluginContext:
    """The context Podium would hand `plugin`'s hooks, for calling one of them directly."""
    return create_plugin_manager(replace(settings, plugins=(plugin,))).context(plugin)


@asynccontextmanager
async def dispatching(sessions, settings: Settings, extra=()):
    """The dispatcher running in the background, as inside `podium serve`, stopped cleanly afterwards."""
    plugins = (await load_plugins(settings, extra)).bind(sessions)
    dispatcher = Dispatcher(sessions, plugins, settings)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await task


async def eventually(check, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll `check` (sync or async) until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


def logbook(path: Path) -> list[dict]:
    """The logbook's complete lines: a line a running worker is appending right now may be read half
    written (a reader is not atomic with a writer's append), so text after the last newline waits."""
    if not path.exists():
        return []
    complete = path.read_text().rpartition("\n")[0]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]


async def outbox_rows(sessions, **where) -> list[OutboxMessage]:
    async with sessions() as db:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        return list((await db.scalars(query)).all())


class HeldChannel:
    """A notification channel whose deliveries wait until released, like a relay that takes the
    connection and never answers; it counts those under way and keeps what it delivered, so a
    second delivery of one message shows. Registered as a plugin of its own (`extra=[(name, it)]`)."""

    def __init__(self, name: str = "held") -> None:
        self.name = name
        self.under_way = 0
        self.release = asyncio.Event()
        self.delivered: list[str] = []

    async def deliver(self, notification) -> None:
        self.under_way += 1
        try:
            await self.release.wait()
        finally:
            self.under_way -= 1
        self.delivered.append(notification.idempotency_key)

    @asynccontextmanager
    async def released(self):
        """Let go at the end even if the test fails, so the dispatcher stops without waiting for a time-out."""
        try:
            yield
        finally:
            self.release.set()

    @hookimpl
    def podium_notification_channels(self):
        return [self]
