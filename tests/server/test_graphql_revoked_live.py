"""A WebSocket outlives its token: after revokeToken, the open subscription ends with UNAUTHENTICATED
(as the same token over HTTP is answered 401), instead of pushing the roster once more."""
from __future__ import annotations

import json
import time

import websockets

from tests.server import graph as g
from tests.server.test_graphql_live import _next_message, subscribe

ISSUE = """mutation($i: IssueTokenInput!) { issueToken(input: $i) { token tokenId errors { code } } }"""
REVOKE = """mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { errors { code } } }"""
WATCH = """subscription($id: ID!) { sessionChanged(sessionId: $id) { seatsTaken enrollments { totalCount } } }"""


async def test_a_revoked_token_ends_an_open_subscription(live):
    address, api = live
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead])
    coordinator = (await api.data(ISSUE, {"i": {"personId": await g.person(api), "role": "COORDINATOR"}}))["issueToken"]
    deadline = time.monotonic() + 30

    async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {coordinator['token']}"}}))
        assert (await _next_message(ws, deadline))["type"] == "connection_ack"
        await subscribe(ws, api, {"id": "1", "type": "subscribe", "payload": {"query": WATCH, "variables": {"id": session}}},
                        deadline)

        await g.enroll(api, session, await g.person(api))
        pushed = await _next_message(ws, deadline)
        assert pushed["payload"]["data"] == {"sessionChanged": {"seatsTaken": 1, "enrollments": {"totalCount": 1}}}

        assert (await api.data(REVOKE, {"i": {"tokenId": coordinator["tokenId"]}}))["revokeToken"]["errors"] == []
        await g.enroll(api, session, await g.person(api))
        pushed = await _next_message(ws, deadline)
        assert pushed["type"] == "next" and pushed["payload"]["data"] is None
        assert [e["extensions"]["code"] for e in pushed["payload"]["errors"]] == ["UNAUTHENTICATED"]
        assert await _next_message(ws, deadline) == {"id": "1", "type": "complete"}  # the subscription ended
