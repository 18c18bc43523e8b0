"""Nothing a client sends produces a 500 or an unexplained error: odd IDs, cursors and text are refused clearly."""
from __future__ import annotations

import asyncio
import base64
import json

import pytest
import websockets

from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN


def gid(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("node_id", ["!!!", gid("Session:x"), gid("Session:99999999999999999999"), gid("Session:-1"),
                                     gid("Nothing:1"), ""])
async def test_ids_that_name_nothing_are_null(api, node_id):
    answer = await api.data("query($id: ID!) { node(id: $id) { id } }", {"id": node_id})
    assert answer == {"node": None}


@pytest.mark.parametrize("cursor", ["garbage", base64.urlsafe_b64encode(b"99999999999999999999").decode(),
                                    base64.urlsafe_b64encode(b"2030-01-01T00:00:00|1").decode(),
                                    base64.urlsafe_b64encode(b"2030-01-01T00:00:00+00:00|99999999999999").decode(),
                                    base64.urlsafe_b64encode(b"9999-12-31T20:00:00-05:00|1").decode()])
async def test_cursors_this_api_did_not_give_out_are_refused(api, cursor):
    for query in ("query($a: String) { sessions(after: $a) { totalCount } }",
                  "query($a: String) { courses(after: $a) { totalCount } }"):
        body = await api(query, {"a": cursor})
        assert body["data"] is None
        assert body["errors"][0]["message"] == "after is not a cursor this connection gave out."


async def test_control_characters_in_names_are_refused_and_nothing_is_written(api):
    answer = await api.data("""mutation { createCourse(input: {code: "A\\u0007B", title: "T", durationMinutes: 60,
        defaultCapacity: 5}) { course { id } errors { code field message } } }""")
    assert answer["createCourse"]["course"] is None
    assert answer["createCourse"]["errors"][0]["code"] == "INVALID"
    assert answer["createCourse"]["errors"][0]["field"] == ["input", "code"]
    assert (await api.data("{ courses { totalCount } }", token=ADMIN_TOKEN))["courses"]["totalCount"] == 0


async def test_a_nul_in_text_is_a_400_on_every_database(api):
    literal = """mutation { createCourse(input: {code: "NUL-1", title: "T", durationMinutes: 60,
        defaultCapacity: 5, description: "a\\u0000b"}) { course { id } } }"""
    variable = """mutation($d: String) { createCourse(input: {code: "NUL-2", title: "T", durationMinutes: 60,
        defaultCapacity: 5, description: $d}) { course { id } } }"""
    for query, variables in ((literal, {}), (variable, {"d": "a\x00b"})):
        response = await api.raw(query, variables)
        assert response.status_code == 400
        assert "NUL" in response.json()["errors"][0]["message"]
    # The six characters backslash-u-0-0-0-0 in a variable are just text.
    answer = await api.data(variable, {"d": "a\\u0000b"})
    assert answer["createCourse"]["course"]["id"]


OUT_OF_YEARS = ["9999-12-31T20:00:00-05:00", "0001-01-01T01:00:00+05:00",  # beyond Python's years in UTC
                "3000-01-01T00:00:00+00:00", "1899-12-31T23:59:59+00:00"]  # beyond the years Podium takes


@pytest.mark.parametrize("instant", OUT_OF_YEARS)
async def test_an_instant_outside_the_years_1900_to_2999_is_a_time_range_error(api, instant):
    course, lead = await g.course(api), await g.instructor(api)
    for field, values in (("startsAt", {"startsAt": instant, "endsAt": "2999-12-31T23:00:00+00:00"}),
                          ("endsAt", {"startsAt": "1900-01-01T00:00:00+00:00", "endsAt": instant})):
        answer = await api.data(g.SCHEDULE, {"i": {**g.schedule_input(course, [lead]), **values}})
        assert answer["scheduleSession"]["session"] is None
        assert [(e["code"], e["field"]) for e in answer["scheduleSession"]["errors"]] == \
            [("INVALID_TIME_RANGE", ["input", field])]
    room = await g.room(api)
    for query, variables in (
            ("query($t: DateTime) { sessions(filter: {from: $t}) { totalCount } }", {"t": instant}),
            ("query($t: DateTime) { sessions(filter: {to: $t}) { totalCount } }", {"t": instant}),
            ("query($id: ID!, $t: DateTime!) { node(id: $id) { ... on Resource { bookings(from: $t, "
             "to: \"2999-12-31T23:00:00+00:00\") { startsAt } } } }", {"id": room, "t": instant})):
        body = await api(query, variables)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_TIME_RANGE"], body


@pytest.mark.parametrize("timezone", ["Europe", "a" * 300])
async def test_a_folder_or_an_overlong_name_is_not_a_timezone(api, timezone):
    answer = await api.data(g.PERSON, {"i": {"name": "P", "email": "p@example.com", "timezone": timezone}})
    assert answer["createPerson"]["person"] is None
    assert [(e["code"], e["field"]) for e in answer["createPerson"]["errors"]] == [("INVALID", ["input", "timezone"])]
    assert (await api.data("{ people { totalCount } }"))["people"]["totalCount"] == 0


async def test_a_lone_surrogate_in_the_variables_is_a_400_and_nothing_is_written(api):
    body = '{"query": %s, "variables": {"i": {"code": "S-1", "title": "\\ud800", "durationMinutes": 60,' \
           ' "defaultCapacity": 5}}}' % json.dumps(g.COURSE)
    response = await api.client.post("/graphql", content=body, headers={"content-type": "application/json",
                                                                         "authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 400
    assert "surrogate" in response.json()["errors"][0]["message"]
    assert (await api.data("{ courses { totalCount } }"))["courses"]["totalCount"] == 0


async def test_json_nested_past_the_parser_is_a_400(api):
    body = '{"query": "{ courses { totalCount } }", "variables": {"a": %s}}' % ("[" * 5000 + "]" * 5000)
    response = await api.client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_subscription_among_several_operations_is_a_400(api):
    session = gid("Session:1")
    query = f'subscription S {{ sessionChanged(sessionId: "{session}") {{ id }} }} query Q {{ courses {{ totalCount }} }}'
    response = await api.raw(query)
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]


async def test_an_int_literal_of_five_thousand_digits_is_a_validation_error(api):
    body = await api("{ courses(first: 1%s) { totalCount } }" % ("0" * 5000))
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("Expected value of type 'Int'"), body
    assert "extensions" not in body["errors"][0] or body["errors"][0]["extensions"].get("code") != "INTERNAL"


async def _ws(address: str, token: str):
    ws = await websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"])
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
    assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    return ws


async def test_over_websocket_odd_text_and_payloads_are_refused_and_nothing_is_written(live):
    address, api = live
    async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        # a token that is no text: refused as the protocol refuses a connection, not a crash
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer \ud800"}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4403
    async with await _ws(address, ADMIN_TOKEN) as ws:
        for n, title in enumerate(["\ud800", "a\x00b"]):
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": {"query": g.COURSE, "variables": {
                "i": {"code": f"W-{n}", "title": title, "durationMinutes": 60, "defaultCapacity": 5}}}}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (answer["id"], answer["type"]) == (str(n), "error")
            assert answer["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
    for payload in ({"query": "{ courses { totalCount } }", "variables": [1]}, {"query": 5}, None):
        async with await _ws(address, ADMIN_TOKEN) as ws:
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd.code == 4400
    assert (await api.data("{ courses { totalCount } }"))["courses"]["totalCount"] == 0
