"""Every operation is costed before it runs: over the caller's limit it is refused with its cost
and no SQL at all; every answer says what it cost."""
from __future__ import annotations

import asyncio
import json
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import websockets
from sqlalchemy import event

from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

# The audit's queries (issue 9): 30 aliases of sessions → enrollments → session → enrollments(first: 100)
# → learner as staff, and sessions → course → sessions → course → sessions without a token.
STAFF_BOMB = "{ " + " ".join(
    f"a{i}: sessions {{ edges {{ node {{ enrollments {{ edges {{ node {{ session {{ enrollments(first: 100) {{ "
    f"edges {{ node {{ learner {{ name }} }} }} }} }} }} }} }} }} }} }}" for i in range(30)) + " }"
ANONYMOUS_BOMB = ("{ sessions { edges { node { course { sessions { edges { node { course { sessions { edges { node {"
                  " title } } } } } } } } } } } }")

# 201 + 100 × (1 + 3n) each: n = 100 and 64 make 49,802 (under 50,000); 100 and 65 make 50,102.
ROSTERS = """query($n: Int, $m: Int) {
  a: sessions(first: 100) { edges { node { enrollments(first: $n) { edges { node { learner { name } } } } } } }
  b: sessions(first: 100) { edges { node { enrollments(first: $m) { edges { node { learner { name } } } } } } } }"""


@contextmanager
def sql_statements(app):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = app.state.podium.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _refused(body: dict, cost: int, limit: int) -> None:
    assert body["data"] is None, body
    assert [e["extensions"] for e in body["errors"]] == [{"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit}]
    assert body["extensions"]["cost"] == cost


async def test_the_audits_expensive_queries_are_refused_before_any_sql(app, api):
    course, lead = await g.course(api), await g.instructor(api)
    await g.session(api, course, [lead])
    with sql_statements(app) as statements:
        staff = await api(STAFF_BOMB)  # the bootstrap admin token: no SQL to sign in
        anonymous = await api(ANONYMOUS_BOMB, token=None)
        huge_page = await api("query($n: Int) { sessions(first: $n) { edges { node { id } } } }", {"n": 2**31 - 1})
    assert statements == []
    _refused(staff, 3_649_830, 50_000)
    _refused(anonymous, 17_681, 10_000)
    _refused(huge_page, 1 + 2 * (2**31 - 1), 50_000)
    assert "50000" in staff["errors"][0]["message"]


async def test_a_query_just_under_the_limit_completes_and_one_just_over_does_not(app, api):
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead])
    for n in range(3):
        await g.enroll(api, session, await g.person(api, name=f"Learner {n}"))
    under = await api(ROSTERS, {"n": 100, "m": 64})
    assert "errors" not in under, under
    assert under["extensions"]["cost"] == 49_802
    names = {e["node"]["learner"]["name"]
             for e in under["data"]["a"]["edges"][0]["node"]["enrollments"]["edges"]}
    assert names == {"Learner 0", "Learner 1", "Learner 2"}
    with sql_statements(app) as statements:
        _refused(await api(ROSTERS, {"n": 100, "m": 65}), 50_102, 50_000)
    assert statements == []


async def test_every_answer_reports_its_cost(api):
    assert (await api("{ courses { totalCount } }"))["extensions"] == {"cost": 1}
    page = await api("{ courses(first: 5) { pageInfo { hasNextPage } edges { node { id } } } }", token=None)
    assert page["extensions"]["cost"] == 1 + 1 + 5 + 5
    created = await api(g.COURSE, {"i": {"code": "C1", "title": "T", "durationMinutes": 60, "defaultCapacity": 5}})
    assert created["extensions"]["cost"] == 1 + 1 + 10  # payload, course, up to 10 errors


async def test_the_limits_come_from_the_settings(database_url):
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, max_query_cost=100,
                              max_anonymous_query_cost=10))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            _refused(await api("{ courses(first: 50) { edges { node { id } } } }"), 101, 100)
            _refused(await api("{ courses(first: 5) { edges { node { id } } } }", token=None), 11, 10)
            assert (await api("{ courses(first: 4) { edges { node { id } } } }", token=None))["extensions"] == \
                {"cost": 9}
    finally:
        await app.state.podium.engine.dispose()


async def test_aliases_multiply_and_fragments_count_where_they_are_spread(api):
    fragment = "fragment Page on SessionConnection { edges { node { course { id } } } }"
    body = await api("{ a: sessions(first: 10) { ...Page } b: sessions(first: 3) { ...Page } } " + fragment)
    assert body["extensions"]["cost"] == (1 + 10 * 3) + (1 + 3 * 3)


async def test_a_fragment_spread_twice_costs_once_and_doubling_chains_take_no_time(api):
    """`fragment L2 { ...L1 ...L1 }`, 60 levels: 2^60 spreads if expanded naively; execution merges them."""
    chain = " ".join(f"fragment L{i} on Query {{ ...L{i - 1} ...L{i - 1} }}" for i in range(1, 61))
    body = await api(f"query {{ ...L60 }} fragment L0 on Query {{ courses {{ edges {{ node {{ id }} }} }} }} {chain}")
    assert "errors" not in body, body
    assert body["extensions"]["cost"] == 1 + 20 + 20
    aliased = " ".join(f"fragment L{i} on Query {{ ...L{i - 1} ...L{i - 1} }}" for i in range(1, 61))
    body = await api(f"query {{ ...L60 }} fragment L0 on Query {{ c: courses {{ totalCount }} }} {aliased}")
    assert "aliases found" in body["errors"][0]["message"]  # counted through the spreads, without expanding them


async def test_circular_and_very_deep_fragments_are_refused_not_followed(api):
    circular = await api("query { ...A } fragment A on Query { ...B } fragment B on Query { courses { ...A } }")
    assert circular["data"] is None and "Cannot spread fragment 'A' within itself" in circular["errors"][0]["message"]
    nested = "fragment A on Course { sessions { edges { node { course { ...A } } } } }"
    body = await api(f"{{ courses {{ edges {{ node {{ ...A }} }} }} }} {nested}")
    assert body["data"] is None and body["errors"]

    def chain(levels: int) -> str:
        return ("query { ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(levels))
                + f" fragment F{levels} on Query {{ courses {{ totalCount }} }}")

    assert (await api(chain(60)))["extensions"]["cost"] == 1
    too_deep = await api(chain(250))
    assert too_deep["data"] is None and too_deep["errors"]


async def test_subscriptions_are_costed_too(live):
    address, api = live
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead])
    costly = ("subscription($id: ID!) { sessionChanged(sessionId: $id) { enrollments(first: 100) { edges { node {"
              " session { enrollments(first: 100) { edges { node { learner { name } } } } } } } } } }")
    async with websockets.connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))  # anonymous: 10,000 at most
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": costly,
                                                                             "variables": {"id": session}}}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), 30))
    errors = answer["payload"] if answer["type"] == "error" else answer["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["QUERY_TOO_COSTLY"], answer
    assert errors[0]["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 1 + 1 + 200 + 100 * (1 + 1 + 200 + 100),
                                       "limit": 10_000}


@pytest.mark.parametrize("days, allowed", [(92, True), (93, False)])
async def test_a_bookings_window_is_at_most_92_days(api, days, allowed):
    room = await g.room(api)
    start = g.at(days=1)
    body = await api("query($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { ... on Resource {"
                     " bookings(from: $from, to: $to) { startsAt } } } }",
                     {"id": room, "from": start.isoformat(), "to": (start + timedelta(days=days)).isoformat()})
    if allowed:
        assert "errors" not in body and body["data"]["node"]["bookings"] == []
    else:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID"]
        assert "92 days" in body["errors"][0]["message"]


async def test_heavy_operations_take_turns_and_cheap_ones_pass_them(api, monkeypatch):
    """Over the anonymous limit an operation is heavy: one runs at a time, a cheap one is not held up."""
    from podium.schema.scheduling import queries

    await g.room(api)
    started: list[str] = []
    release = asyncio.Event()

    async def held_bookings(info, resource, from_, to):
        started.append(info.path.prev.prev.prev.prev.key)  # the alias of the resources connection
        await release.wait()
        return []

    monkeypatch.setattr(queries, "resource_bookings", held_bookings)
    heavy = ('{ %s: resources(first: 100) { edges { node { bookings(from: "2030-01-01T00:00:00+00:00", '
             'to: "2030-01-02T00:00:00+00:00") { startsAt } } } } }')
    first = asyncio.create_task(api(heavy % "first"))
    while not started:
        await asyncio.sleep(0.01)
    second = asyncio.create_task(api(heavy % "second"))
    cheap = await asyncio.wait_for(api("{ courses { totalCount } }"), 30)
    assert cheap["data"] == {"courses": {"totalCount": 0}}
    assert started == ["first"]  # the second heavy one waits its turn
    release.set()
    answers = await asyncio.wait_for(asyncio.gather(first, second), 30)
    assert started == ["first", "second"]
    assert [a["extensions"]["cost"] for a in answers] == [1 + 100 + 100 + 100 * 200] * 2
