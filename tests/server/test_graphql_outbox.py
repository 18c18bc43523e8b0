"""The `outbox` and `outboxCounts` queries: ADMINs see what is pending, failing and dead; nobody else does."""
from __future__ import annotations

import asyncio

from podium.core.models import OutboxStatus
from tests.core.test_outbox import FlakyPlugin, run_cli
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.server import graph

OUTBOX = """query($status: [OutboxStatus!], $failing: Boolean!, $first: Int, $after: String) {
  outboxCounts { pending failing delivered dead }
  outbox(status: $status, failing: $failing, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind topic target status attempts failing lastError idempotencyKey deliverAfter } } } }"""


async def test_admins_see_dead_and_pending_messages(app, api):
    sessions = app.state.podium.sessions
    flaky = FlakyPlugin()
    course = await graph.course(api)
    lead = await graph.instructor(api, email="lead@example.com")
    async with dispatching(sessions, settings_from({}, plugins=(), outbox_max_attempts=1), extra=[("flaky", flaky)]):
        await graph.session(api, course, [lead])
        await eventually(lambda: outbox_rows(sessions, status="DEAD"), what="the notification to die")
    await graph.session(api, course, [lead], starts_at=graph.at(days=20))   # its event stays pending

    data = await api.data(OUTBOX, {"status": ["DEAD"], "failing": False})
    # delivered: the first event; dead: its notification; pending: its reminder and the second event
    assert data["outboxCounts"] == {"pending": 2, "failing": 0, "delivered": 1, "dead": 1}
    [dead] = [e["node"] for e in data["outbox"]["edges"]]
    assert dead["kind"] == "notification" and dead["topic"] == "session.instructor_assigned"
    assert (dead["target"], dead["status"], dead["attempts"]) == ("flaky", "DEAD", 1)
    assert dead["lastError"] == "ConnectionError: relay unreachable"
    assert dead["idempotencyKey"].endswith(":flaky:lead@example.com:session.instructor_assigned")

    everything = await api.data(OUTBOX, {"failing": False, "first": 2})
    assert everything["outbox"]["totalCount"] == 4 and everything["outbox"]["pageInfo"]["hasNextPage"]
    ids = [e["node"]["id"] for e in everything["outbox"]["edges"]]
    assert ids == sorted(ids, reverse=True)                                  # newest first
    rest = await api.data(OUTBOX, {"failing": False, "after": everything["outbox"]["pageInfo"]["endCursor"]})
    assert [e["node"]["id"] for e in rest["outbox"]["edges"]] == [min(ids) - 1, min(ids) - 2]
    assert not rest["outbox"]["pageInfo"]["hasNextPage"]
    reminder = await api.data(OUTBOX, {"status": ["PENDING"], "failing": False})
    assert {e["node"]["kind"] for e in reminder["outbox"]["edges"]} == {"reminder", "event"}


async def test_only_admins_see_the_outbox(api):
    learner = await graph.person(api)
    for role in ("LEARNER", "COORDINATOR"):
        token = await graph.token(api, learner, role)
        body = await api(OUTBOX, {"failing": False}, token=token)
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api(OUTBOX, {"failing": False}, token=None)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_message_pending_after_a_failed_attempt_is_the_one_listed_as_failing(app, api, database_url):
    sessions = app.state.podium.sessions
    flaky = FlakyPlugin()
    course, lead = await graph.course(api), await graph.instructor(api)
    async with dispatching(sessions, settings_from({}, plugins=(), outbox_max_attempts=1), extra=[("flaky", flaky)]):
        await graph.session(api, course, [lead])
        await eventually(lambda: outbox_rows(sessions, status=OutboxStatus.DEAD), what="a notification to die")

    async def failed_once():
        return [m for m in await outbox_rows(sessions, status=OutboxStatus.PENDING) if m.attempts > 0]

    backing_off = settings_from({}, plugins=(), outbox_backoff_seconds=3600, outbox_backoff_max_seconds=3600)
    async with dispatching(sessions, backing_off, extra=[("flaky", flaky)]):
        await graph.session(api, course, [lead], starts_at=graph.at(days=20))
        await eventually(failed_once, what="a notification to fail once")
    [failing] = await failed_once()
    assert (failing.topic, failing.target) == ("session.instructor_assigned", "flaky")

    data = await api.data(OUTBOX, {"failing": True})
    # delivered: both events; dead: the first notification; pending: the second one and both reminders
    assert data["outboxCounts"] == {"pending": 3, "failing": 1, "delivered": 2, "dead": 1}
    [listed] = [e["node"] for e in data["outbox"]["edges"]]
    assert (listed["id"], listed["status"], listed["failing"]) == (failing.id, "PENDING", True)
    assert listed["attempts"] == failing.attempts and listed["lastError"] == "ConnectionError: relay unreachable"

    listing = await asyncio.to_thread(run_cli, database_url, "outbox", "list", "--failing")
    assert listing.exit_code == 0
    counts, *messages = listing.output.splitlines()
    assert counts == "pending: 3  delivered: 2  dead: 1  failing: 1"
    assert [m.split(" key=")[0].rsplit(" due ", 1)[0] for m in messages] == [
        f"#{failing.id} PENDING notification session.instructor_assigned -> flaky attempts={failing.attempts}"]
