"""A bearer token Podium does not accept is answered 401 UNAUTHENTICATED, never taken as anonymous;
tokens expire; every answer carries X-Request-ID."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
import websockets

from podium.core.instants import utc_now
from podium.core.settings import Settings, SettingsError
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN

ISSUE = """mutation($i: IssueTokenInput!) { issueToken(input: $i) { token tokenId expiresAt errors { code field } } }"""
REVOKE = """mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { errors { code } } }"""
ME = "{ me { name } }"


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-request-id"]
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unknown_revoked_and_malformed_tokens_are_401_and_no_header_is_anonymous(api):
    person = await g.person(api, name="Ada")
    issued = (await api.data(ISSUE, {"i": {"personId": person, "role": "LEARNER"}}))["issueToken"]
    assert (await api.data(ME, token=issued["token"]))["me"] == {"name": "Ada"}
    assert (await api.data(REVOKE, {"i": {"tokenId": issued["tokenId"]}}))["revokeToken"]["errors"] == []

    for token in ("pdm_unknown", issued["token"], "x" * 600):
        assert_unauthenticated(await api.raw(ME, token=token))
    for header in ("Basic YWRhOnNlY3JldA==", "Bearer", "Bearer  ", ADMIN_TOKEN):  # not 'Bearer <token>'
        assert_unauthenticated(await api.client.post("/graphql", json={"query": ME},
                                                     headers={"Authorization": header}))
    # a mutation with a bad token changes nothing: the request is refused before it runs
    response = await api.raw(g.COURSE, {"i": {"code": "BAD-1", "title": "T", "durationMinutes": 60,
                                              "defaultCapacity": 5}}, token="pdm_unknown")
    assert_unauthenticated(response)
    assert (await api.data("{ courses { totalCount } }"))["courses"]["totalCount"] == 0

    anonymous = await api.client.post("/graphql", json={"query": ME})
    assert anonymous.status_code == 200 and anonymous.json()["data"] == {"me": None}


async def test_tokens_expire_after_their_days(api, monkeypatch):
    person = await g.person(api, name="Ada")
    default = (await api.data(ISSUE, {"i": {"personId": person, "role": "LEARNER"}}))["issueToken"]
    lasts = datetime.fromisoformat(default["expiresAt"]) - utc_now()
    assert timedelta(days=364) < lasts <= timedelta(days=365)
    for days in (0, 3651):
        refused = (await api.data(ISSUE, {"i": {"personId": person, "role": "LEARNER",
                                              "expiresInDays": days}}))["issueToken"]
        assert refused["token"] is None and refused["errors"] == [{"code": "INVALID", "field": ["input", "expiresInDays"]}]

    short = (await api.data(ISSUE, {"i": {"personId": person, "role": "LEARNER", "expiresInDays": 1}}))["issueToken"]
    assert (await api.data(ME, token=short["token"]))["me"] == {"name": "Ada"}
    later = utc_now() + timedelta(days=2)
    monkeypatch.setattr("podium.schema.access.callers.utc_now", lambda: later)  # two days pass
    assert_unauthenticated(await api.raw(ME, token=short["token"]))
    assert (await api.data(ME, token=default["token"]))["me"] == {"name": "Ada"}


async def test_a_bad_token_closes_a_websocket_as_the_protocol_refuses_and_none_is_anonymous(live):
    address, _ = live
    url = f"ws://{address}/graphql"
    for payload, headers in (({"Authorization": "Bearer pdm_unknown"}, {}), ({"Authorization": "Basic eA=="}, {}),
                             ({}, {"Authorization": "Bearer pdm_unknown"})):
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"], additional_headers=headers) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd.code == 4403
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ME}}))
        assert json.loads(await ws.recv())["payload"]["data"] == {"me": None}


async def test_every_answer_carries_a_request_id(api, app):
    client = api.client
    answers = {
        "200": await client.post("/graphql", json={"query": ME}),
        "400": await client.post("/graphql", content=b"[1", headers={"content-type": "application/json"}),
        "401": await api.raw(ME, token="pdm_unknown"),
        "413": await client.post("/graphql", content=b" " * (app.state.podium.settings.max_body_bytes + 1),
                                 headers={"content-type": "application/json"}),
        "healthz": await client.get("/healthz"),
        "readyz": await client.get("/readyz"),
        "404": await client.get("/nowhere"),
    }
    assert {name: r.status_code for name, r in answers.items()} == {
        "200": 200, "400": 400, "401": 401, "413": 413, "healthz": 200, "readyz": 200, "404": 404}
    ids = [r.headers.get("x-request-id") for r in answers.values()]
    assert all(ids) and len(set(ids)) == len(ids)
    # the id in an error body is the one in the header; a proxy's own id is kept
    unavailable_id = answers["401"].headers["x-request-id"]
    assert len(unavailable_id) == 16
    echoed = await client.get("/healthz", headers={"X-Request-ID": "edge-1234.abc"})
    assert echoed.headers["x-request-id"] == "edge-1234.abc"
    odd = await client.get("/healthz", headers={"X-Request-ID": "x" * 100})
    assert odd.headers["x-request-id"] != "x" * 100


def test_a_short_admin_token_refuses_to_start():
    with pytest.raises(SettingsError, match="at least 32 characters.*secrets.token_urlsafe"):
        Settings.from_env({"PODIUM_ADMIN_TOKEN": "secret"})
    with pytest.raises(SettingsError):
        Settings(admin_token="a")
    assert Settings.from_env({"PODIUM_ADMIN_TOKEN": "s" * 32}).admin_token == "s" * 32


async def test_tokens_of_requests_arriving_together_are_read_together_each_answered_as_its_own(app, api):
    """30 people ask at once with their own tokens, beside revoked and unknown ones: each valid token
    is its own person, each other one 401, and the tokens took fewer reads than requests."""
    from sqlalchemy import event

    people = []
    for n in range(30):
        person = await g.person(api, name=f"Learner {n}")
        people.append((f"Learner {n}", (await api.data(ISSUE, {"i": {"personId": person, "role": "LEARNER"}}))
                       ["issueToken"]))
    revoked = [issued for _, issued in people[:5]]
    for issued in revoked:
        assert (await api.data(REVOKE, {"i": {"tokenId": issued["tokenId"]}}))["revokeToken"]["errors"] == []
    reads = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if "FROM api_token" in statement:
            reads.append(statement)

    engine = app.state.podium.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        asks = [(name, issued["token"]) for name, issued in people] + [(None, f"pdm_unknown_{n}") for n in range(5)]
        answers = await asyncio.gather(*(api.raw(ME, token=token) for _, token in asks))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for (name, token), answer in zip(asks, answers):
        if name is None or any(token == issued["token"] for issued in revoked):
            assert_unauthenticated(answer)
        else:
            assert answer.status_code == 200 and answer.json()["data"] == {"me": {"name": name}}, answer.text
    assert 1 <= len(reads) < len(asks), len(reads)
    # revoked now, refused by the very next request
    name, issued = people[5]
    assert (await api.data(ME, token=issued["token"]))["me"] == {"name": name}
    assert (await api.data(REVOKE, {"i": {"tokenId": issued["tokenId"]}}))["revokeToken"]["errors"] == []
    assert_unauthenticated(await api.raw(ME, token=issued["token"]))
