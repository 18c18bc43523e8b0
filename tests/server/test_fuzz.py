"""Schema-driven fuzzing (hypothesis-graphql) of every root Query and Mutation field, as ADMIN, a
LEARNER and anonymous, on both databases, through the app over HTTP: strings run past every input
limit (200 and 10,000 characters), IDs are real ones or junk, instants valid or not. Whatever the
request, the server never answers 5xx and never `INTERNAL`. Examples are derandomized, so a run is
reproducible; PODIUM_FUZZ_EXAMPLES raises the number per field for a deeper local run."""
from __future__ import annotations

import asyncio
import os
from datetime import datetime, timedelta, timezone

import graphql
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, queries

from podium.core.settings import Settings
from podium.schema import schema
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

EXAMPLES_PER_FIELD = int(os.environ.get("PODIUM_FUZZ_EXAMPLES", "6"))
SDL = graphql.build_schema(schema.as_str())
QUERY_FIELDS = sorted(SDL.query_type.fields)
MUTATION_FIELDS = sorted(SDL.mutation_type.fields)
LIMITS = (200, 201, 10_000, 10_001)  # names/titles/refs, descriptions: at and past each limit
PROGRAM = """mutation($i: CreateProgramInput!) { createProgram(input: $i) { program { id } errors { code } } }"""


def _node(value: str) -> graphql.StringValueNode:
    return graphql.StringValueNode(value=value)


def _strings() -> st.SearchStrategy[str]:
    short = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
    long = st.tuples(st.characters(codec="utf-8", exclude_characters="\x00"), st.sampled_from(LIMITS)) \
        .map(lambda pair: pair[0] * pair[1])
    emails = st.sampled_from(["<script>@x.example", "a@b", "ADA@Example.com", "x" * 250 + "@example.com"])
    zones = st.sampled_from(["Europe/London", "localtime", "Factory", "posixrules", "America", "UTC", "Etc/GMT+5"])
    return st.one_of(short, short, long, emails, zones)


def _instants() -> st.SearchStrategy[str]:
    now = datetime.now(timezone.utc)
    aware = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                         timezones=st.just(timezone.utc)).map(datetime.isoformat)
    near = st.integers(-400, 2_000).map(lambda days: (now + timedelta(days=days)).isoformat())
    return st.one_of(near, near, near, aware, st.sampled_from(["2030-01-01T09:00:00", "not a time", "2031-02-30T00:00:00Z"]))


def _scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return {
        "String": _strings().map(_node),
        "ID": st.one_of(*[st.sampled_from(ids)] * 3, _strings()).map(_node),  # mostly real ones: deeper paths
        "DateTime": _instants().map(_node),
        "Date": st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2030-13-01", "x"])).map(_node),
    }


async def _world(api: Api) -> tuple[list[str], str]:
    """Real objects to aim at: a course, people, a room, a session with an enrolment, a program."""
    course = await g.course(api)
    instructor, room = await g.instructor(api), await g.room(api)
    learner, other = await g.person(api), await g.person(api)
    session = await g.session(api, course, [instructor])
    enrolled = await g.enroll(api, session, learner)
    program = (await api.data(PROGRAM, {"i": {"templateKey": "flipped", "courseId": course,
                                              "liveSessionIds": [await g.session(api, course, [instructor],
                                                                                 starts_at=g.at(days=9))],
                                              "learnerIds": [other]}}))["createProgram"]["program"]["id"]
    token = await g.token(api, learner, "LEARNER")
    return [course, instructor, room, learner, other, session, enrolled["enrollment"]["id"], program], token


def _failure(response: httpx.Response) -> str | None:
    """What is wrong with an answer from our side: a 5xx, or an INTERNAL error."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}: {response.text[:500]}"
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} without a JSON body: {response.text[:200]}"
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    return f"INTERNAL: {body['errors']}" if "INTERNAL" in codes else None


@pytest.mark.parametrize("role", ["ADMIN", "LEARNER", "anonymous"])
def test_fuzzed_root_fields_never_fail_on_our_side(database_url, role):
    loop = asyncio.new_event_loop()
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test", timeout=60)
    try:
        ids, learner_token = loop.run_until_complete(_world(Api(client)))
        token = {"ADMIN": ADMIN_TOKEN, "LEARNER": learner_token, "anonymous": None}[role]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        scalars = _scalars(ids)
        fields = [(queries, name) for name in QUERY_FIELDS] + [(mutations, name) for name in MUTATION_FIELDS]
        for make, name in fields:
            @settings(max_examples=EXAMPLES_PER_FIELD, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(document=make(SDL, fields=[name], custom_scalars=scalars, allow_x00=False))
            def never_fails(document: str) -> None:
                response = loop.run_until_complete(client.post("/graphql", json={"query": document},
                                                               headers=headers))
                failure = _failure(response)
                assert failure is None, f"{role} {name}:\n{document[:2000]}\n{failure}"

            never_fails()
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(app.state.podium.engine.dispose())
        loop.close()
