"""Against a real uvicorn on 127.0.0.1: 300 concurrent enrolments, and the sessionChanged subscription."""
from __future__ import annotations

import asyncio
import json
import time

import websockets

from podium.core.ids import to_global_id
from tests import builders as b
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN


async def test_300_concurrent_enrolments_into_25_seats(live, sessions):
    _, api = live
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=25)
    learners = [to_global_id("Person", pk) for pk in await b.people(sessions, 300)]

    responses = await asyncio.gather(*(api.raw(g.ENROLL, {"i": {"sessionId": session, "learnerId": learner}})
                                       for learner in learners))

    assert [r.status_code for r in responses if r.status_code != 200] == []
    results = [r.json()["data"]["enroll"] for r in responses]
    assert all(r["errors"] == [] for r in results)
    statuses = [r["enrollment"]["status"] for r in results]
    assert statuses.count("ENROLLED") == 25 and statuses.count("WAITLISTED") == 275
    assert sorted(r["enrollment"]["waitlistPosition"] for r in results if r["enrollment"]["waitlistPosition"]) == \
        list(range(1, 276))
    final = await api.data("""query($id: ID!) { node(id: $id) { ... on Session { seatsTaken seatsLeft waitlistCount
        enrollments(status: ENROLLED, first: 100) { totalCount } } } }""", {"id": session})
    assert final["node"] == {"seatsTaken": 25, "seatsLeft": 0, "waitlistCount": 275,
                             "enrollments": {"totalCount": 25}}


async def _next_message(ws, deadline: float) -> dict:
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no message before the deadline"
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] != "ping":
            return message
        await ws.send(json.dumps({"type": "pong"}))


async def subscribe(ws, api, message: dict, deadline: float) -> None:
    """Send a subscribe and wait until the server listens on its event bus (one more listener)."""
    bus = api.app.state.podium.bus
    before = len(bus.listeners)
    await ws.send(json.dumps(message))
    while len(bus.listeners) <= before:
        assert time.monotonic() < deadline, "the subscription never registered"
        await asyncio.sleep(0.01)


async def test_session_changed_pushes_seat_counts_and_status(live):
    address, api = live
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=1)
    a, b = await g.person(api), await g.person(api)
    deadline = time.monotonic() + 30

    async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}))
        assert (await _next_message(ws, deadline))["type"] == "connection_ack"
        await subscribe(ws, api, {"id": "1", "type": "subscribe", "payload": {
            "query": "subscription($id: ID!) { sessionChanged(sessionId: $id) { id status seatsTaken seatsLeft "
                     "waitlistCount startsAt endsAt } }", "variables": {"id": session}}}, deadline)

        first = await g.enroll(api, session, a)
        pushed = await _next_message(ws, deadline)
        assert pushed["type"] == "next" and pushed["id"] == "1"
        assert pushed["payload"]["data"]["sessionChanged"] | {"startsAt": None, "endsAt": None} == {
            "id": session, "status": "SCHEDULED", "seatsTaken": 1, "seatsLeft": 0, "waitlistCount": 0,
            "startsAt": None, "endsAt": None}

        await g.enroll(api, session, b)
        pushed = await _next_message(ws, deadline)
        assert pushed["payload"]["data"]["sessionChanged"]["waitlistCount"] == 1

        await api.data(g.CANCEL_ENROLLMENT, {"i": {"enrollmentId": first["enrollment"]["id"]}})
        pushed = await _next_message(ws, deadline)
        assert pushed["payload"]["data"]["sessionChanged"] | {"startsAt": None, "endsAt": None} == {
            "id": session, "status": "SCHEDULED", "seatsTaken": 1, "seatsLeft": 0, "waitlistCount": 0,
            "startsAt": None, "endsAt": None}, "the waitlisted learner took the freed seat"

        starts_at, ends_at = g.at(days=9), g.at(days=9, hour=11)
        moved = await api.data("""mutation($i: RescheduleSessionInput!) { rescheduleSession(input: $i) {
            errors { code } } }""", {"i": {"sessionId": session, "startsAt": starts_at.isoformat(),
                                           "endsAt": ends_at.isoformat()}})
        assert moved["rescheduleSession"]["errors"] == []
        pushed = await _next_message(ws, deadline)
        assert {k: pushed["payload"]["data"]["sessionChanged"][k] for k in ("startsAt", "endsAt")} == {
            "startsAt": starts_at.isoformat(), "endsAt": ends_at.isoformat()}

        await api.data("""mutation($i: CancelSessionInput!) { cancelSession(input: $i) { errors { code } } }""",
                       {"i": {"sessionId": session}})
        pushed = await _next_message(ws, deadline)
        assert pushed["payload"]["data"]["sessionChanged"]["status"] == "CANCELLED"

        await ws.send(json.dumps({"id": "2", "type": "subscribe", "payload": {
            "query": 'subscription { sessionChanged(sessionId: "U2Vzc2lvbjo5OTk=") { id } }'}}))
        refused = await _next_message(ws, deadline)
        assert refused["id"] == "2" and refused["type"] in ("error", "next")
        errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
        assert "No session" in errors[0]["message"]


async def test_only_graphql_transport_ws_is_spoken(live):
    """The legacy graphql-ws protocol is not served: a client asking only for it is turned away."""
    address, _ = live
    try:
        async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-ws"]) as ws:
            await asyncio.wait_for(ws.recv(), 10)
        refused = None
    except (websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed,
            websockets.exceptions.InvalidHandshake) as exc:
        refused = exc
    assert refused is not None, "a graphql-ws connection was accepted"
