"""A plugin's own background work and routes, through its PluginContext: queued in a change, performed
by the outbox with retries, dead after the last attempt (on_dead told once), logged with the traceback."""
from __future__ import annotations

import logging

import httpx
import pytest
from sqlalchemy import select

from podium.core.models import OutboxMessage, OutboxStatus
from podium.core.plugins import PluginError, load_plugins
from podium.plugin import OutboxTopic, hookimpl
from podium.server.app import create_app
from tests.dispatching import eventually, settings_from


class Tally:
    """Counts through its own outbox topic; `tally.flaky` fails once, `tally.broken` always."""

    def __init__(self) -> None:
        self.counted: list[int] = []
        self.tries = 0
        self.dead: list[tuple[int, str]] = []

    @hookimpl
    def podium_outbox_topics(self):
        async def count(message):
            self.counted.append(message.payload["n"])

        async def flaky(message):
            self.tries += 1
            if self.tries == 1:
                raise ConnectionError("the tally service hung up")
            self.counted.append(message.payload["n"])

        def broken(message):
            raise ValueError(f"cannot count {message.payload['n']}")

        return [OutboxTopic("tally.count", count), OutboxTopic("tally.flaky", flaky),
                OutboxTopic("tally.broken", broken, on_dead=lambda message, error: self.dead.append(
                    (message.payload["n"], error)))]

    @hookimpl
    def podium_routes(self, context):
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def add(request):
            body = await request.json()
            async with context.changing() as db:
                await context.call_plugin(db, topic=f"tally.{body['topic']}", payload={"n": body["n"]},
                                          idempotency_key=body["key"], ordering_key="tally")
            return JSONResponse({"queued": True})
        return [Route("/add", add, methods=["POST"])]


async def test_a_plugin_queues_and_performs_its_own_work(database_url, caplog):
    tally = Tally()
    settings = settings_from({"PODIUM_DATABASE_URL": database_url}, plugins=(), outbox_max_attempts=3)
    app = create_app(settings, extra_plugins=[("tally", tally)])
    caplog.set_level(logging.WARNING, logger="podium.outbox")
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as http:
        for n, topic in ((1, "count"), (2, "flaky"), (3, "broken"), (4, "count")):
            assert (await http.post("/plugins/tally/add", json={"n": n, "topic": topic, "key": f"k{n}"})).status_code == 200
        # the same key again adds nothing
        await http.post("/plugins/tally/add", json={"n": 1, "topic": "count", "key": "k1"})
        await eventually(lambda: tally.dead, what="the broken call to die")
        await eventually(lambda: sorted(tally.counted) == [1, 2, 4], what="the tally")
        async with app.state.podium.sessions() as db:
            rows = {m.payload["n"]: m for m in (await db.scalars(select(OutboxMessage).where(
                OutboxMessage.target == "tally"))).all()}
    assert len(rows) == 4
    assert (rows[2].status, rows[2].attempts) == (OutboxStatus.DELIVERED, 2)
    assert (rows[3].status, rows[3].attempts) == (OutboxStatus.DEAD, 3)
    assert tally.dead == [(3, "ValueError: cannot count 3")]
    failures = [r for r in caplog.records if r.levelno == logging.WARNING and f"message {rows[2].id} " in r.getMessage()]
    assert failures and failures[0].exc_info is not None, "the failure is logged with its traceback"
    assert "the tally service hung up" in caplog.text and "Traceback" in caplog.text


class Squatter:
    @hookimpl
    def podium_outbox_topics(self):
        return [OutboxTopic("meeting.sync", lambda message: None)]


async def test_a_topic_not_named_after_its_plugin_stops_start_up():
    with pytest.raises(PluginError, match="squatter.*meeting.sync"):
        await load_plugins(settings_from({}, plugins=()), [("squatter", Squatter())])


async def test_a_context_gives_a_plugin_its_own_providers_and_nothing_of_others():
    class Room:
        name = "room-a"

        async def venues(self):
            return []

    class Owner:
        @hookimpl
        def podium_venue_sources(self):
            return [Room()]

    class Other:
        @hookimpl
        def podium_venue_sources(self):
            return []

    plugins = await load_plugins(settings_from({}, plugins=()), [("owner", Owner()), ("other", Other())])
    assert list(plugins.context("owner").providers("venue_sources")) == ["room-a"]
    assert plugins.context("other").providers("venue_sources") == {}
    with pytest.raises(PluginError, match="has not opened"):
        async with plugins.context("owner").changing():
            pass


async def test_a_channel_whose_kinds_is_not_a_set_of_kinds_stops_start_up():
    class Typo:
        name = "typo"
        kinds = "session.reminder"

        async def deliver(self, notification):
            pass

    class Plugin:
        @hookimpl
        def podium_notification_channels(self):
            return [Typo()]

    with pytest.raises(PluginError, match="channel 'typo' has `kinds`"):
        await load_plugins(settings_from({}, plugins=()), [("typo", Plugin())])
