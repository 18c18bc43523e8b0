"""A channel that declares the notification kinds it wants gets only those: an SMS channel with
kinds={"session.reminder"} texts reminders, to each learner's Person.phone, and nothing else."""
from __future__ import annotations

import httpx
from sqlalchemy import update

from podium.core.instants import utc_now
from podium.core.models import OutboxMessage
from podium.plugin import hookimpl
from podium.server.app import create_app
from tests.dispatching import eventually, settings_from
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

UPDATE_PERSON = """mutation($i: UpdatePersonInput!) { updatePerson(input: $i) { person { phone }
  errors { code field message } } }"""


class Texts:
    """An SMS channel as a vendor would write one: it wants reminders only."""

    name = "sms"
    kinds = {"session.reminder"}

    def __init__(self) -> None:
        self.sent: list[tuple[str, str | None, str]] = []

    async def deliver(self, notification):
        self.sent.append((notification.kind, notification.phone, notification.to))


class Everything:
    name = "everything"

    def __init__(self) -> None:
        self.kinds_seen: list[str] = []

    async def deliver(self, notification):
        self.kinds_seen.append(notification.kind)


class Channels:
    def __init__(self) -> None:
        self.sms, self.everything = Texts(), Everything()

    @hookimpl
    def podium_notification_channels(self):
        return [self.sms, self.everything]


async def test_an_sms_channel_gets_reminders_only_addressed_to_the_phone(database_url):
    channels = Channels()
    settings = settings_from({"PODIUM_DATABASE_URL": database_url, "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN},
                             plugins=(), reminder_hours=24)
    app = create_app(settings, extra_plugins=[("acme_sms", channels)])
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://podium.test") as client:
        api = Api(client)
        ada = await g.person(api, phone="+44 20 7946 0958", email="ada@example.com")
        bob = await g.person(api, email="bob@example.com")                       # no phone
        refused = await api.data(g.PERSON, {"i": {"name": "Cy", "email": "cy@example.com", "timezone": "UTC",
                                                  "phone": "12345"}})
        assert [(e["code"], e["field"][-1]) for e in refused["createPerson"]["errors"]] == [("INVALID", "phone")]
        changed = await api.data(UPDATE_PERSON, {"i": {"personId": bob, "phone": "+1 (650) 253-0000"}})
        assert changed["updatePerson"] == {"person": {"phone": "+16502530000"}, "errors": []}

        course, lead = await g.course(api), await g.instructor(api)
        session = await g.session(api, course, [lead], starts_at=g.at(days=5))
        for learner in (ada, bob):
            assert (await g.enroll(api, session, learner))["errors"] == []
        await eventually(lambda: channels.everything.kinds_seen.count("enrollment.confirmed") == 2,
                         what="the confirmations through the catch-all channel")
        assert channels.sms.sent == [], "no confirmation, no instructor notice by SMS"

        async with app.state.podium.sessions() as db, db.begin():        # time passes: the reminder is due
            await db.execute(update(OutboxMessage).where(OutboxMessage.kind == "reminder")
                             .values(deliver_after=utc_now()))
        app.state.podium.dispatcher.wake()
        await eventually(lambda: len(channels.sms.sent) == 2, what="two reminders by SMS")
        await eventually(lambda: channels.everything.kinds_seen.count("session.reminder") == 2,
                         what="the reminders through the catch-all channel too")
    assert sorted(channels.sms.sent) == [("session.reminder", "+16502530000", "bob@example.com"),
                                         ("session.reminder", "+442079460958", "ada@example.com")]
    assert "session.instructor_assigned" in channels.everything.kinds_seen
