"""Idempotency keys over HTTP, on SQLite and PostgreSQL: a retried mutation with its key gets the
answer it lost and changes nothing; another body with the key is refused; a fault stores nothing."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import text, update

from podium.core import idempotency
from podium.core.db import changing
from podium.core.instants import utc_now
from podium.core.models import IdempotencyKey
from podium.core.services import enrollment
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN


async def _post(api, query: str, variables: dict, key: str | None, token: str | None = ADMIN_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


async def _count(sessions, sql: str) -> int:
    async with sessions() as db:
        return (await db.execute(text(sql))).scalar_one()


async def _world(api, capacity: int = 5) -> tuple[str, list[str]]:
    course = await g.course(api)
    session = await g.session(api, course, [await g.instructor(api)], capacity=capacity)
    return session, [await g.person(api) for _ in range(3)]


def _enroll(session: str, learner: str) -> dict:
    return {"i": {"sessionId": session, "learnerId": learner}}


async def test_a_retry_with_the_key_gets_the_first_answer_and_changes_nothing(api, sessions):
    session, (learner, *_) = await _world(api)
    first = await _post(api, g.ENROLL, _enroll(session, learner), "enrol-1")
    again = await _post(api, g.ENROLL, _enroll(session, learner), "enrol-1")
    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["enroll"]["enrollment"]["status"] == "ENROLLED"
    assert again.json() == first.json()
    assert "idempotent-replayed" not in first.headers and again.headers["idempotent-replayed"] == "true"
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1
    assert await _count(sessions, "SELECT count(*) FROM audit_entry WHERE action LIKE 'enrol%'") == 1
    without_key = await _post(api, g.ENROLL, _enroll(session, learner), None)
    assert without_key.json()["data"]["enroll"]["errors"][0]["code"] == "ALREADY_ENROLLED"


async def test_the_key_with_another_body_is_refused(api, sessions):
    session, (learner, other, _) = await _world(api)
    await _post(api, g.ENROLL, _enroll(session, learner), "enrol-2")
    reused = await _post(api, g.ENROLL, _enroll(session, other), "enrol-2")
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1


async def test_keys_belong_to_their_caller(api, sessions):
    session, (learner, other, _) = await _world(api)
    learner_token, other_token = await g.token(api, learner, "LEARNER"), await g.token(api, other, "LEARNER")
    mine = await _post(api, g.ENROLL, _enroll(session, learner), "same-key", token=learner_token)
    theirs = await _post(api, g.ENROLL, _enroll(session, other), "same-key", token=other_token)
    assert mine.json()["data"]["enroll"]["errors"] == theirs.json()["data"]["enroll"]["errors"] == []
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 2


async def test_concurrent_retries_with_one_key_make_one_change(api, sessions):
    """The second request with a key in flight waits for the first and gets its answer."""
    session, (learner, *_) = await _world(api)
    answers = await asyncio.gather(*(_post(api, g.ENROLL, _enroll(session, learner), "burst") for _ in range(12)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    assert answers[0].json()["data"]["enroll"]["enrollment"]["status"] == "ENROLLED"
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1


async def test_a_key_that_is_not_printable_or_too_long_is_invalid(api, sessions):
    session, (learner, *_) = await _world(api)
    for key in ["k" * 256, "", "tab\there", "é-key"]:
        refused = await api.client.post("/graphql", json={"query": g.ENROLL, "variables": _enroll(session, learner)},
                                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}",
                                                 "Idempotency-Key": key.encode()})
        assert refused.status_code == 400, key
        assert refused.json()["errors"][0]["extensions"]["code"] == "INVALID"
    assert (await _post(api, g.ENROLL, _enroll(session, learner), "k" * 255)).status_code == 200
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1


async def test_a_fault_after_the_change_undoes_it_and_the_retry_makes_it(api, sessions, monkeypatch):
    session, (learner, *_) = await _world(api)
    real_enroll = enrollment.enroll

    async def enroll_then_fail(*args, **kwargs):
        await real_enroll(*args, **kwargs)
        raise RuntimeError("the disk went away")

    messages = await _count(sessions, "SELECT count(*) FROM outbox_message")
    monkeypatch.setattr(enrollment, "enroll", enroll_then_fail)
    failed = await _post(api, g.ENROLL, _enroll(session, learner), "after-fault")
    assert failed.status_code == 503 and failed.headers["retry-after"]
    assert failed.json()["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 0
    assert await _count(sessions, "SELECT count(*) FROM outbox_message") == messages
    monkeypatch.setattr(enrollment, "enroll", real_enroll)
    retried = await _post(api, g.ENROLL, _enroll(session, learner), "after-fault")
    assert retried.json()["data"]["enroll"]["enrollment"]["status"] == "ENROLLED"
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1


TWO_ENROLMENTS = """mutation($a: EnrollInput!, $b: EnrollInput!) {
  first: enroll(input: $a) { enrollment { id status } errors { code } }
  second: enroll(input: $b) { enrollment { id status } errors { code } } }"""


async def test_a_document_of_several_mutations_is_one_answer_and_a_refused_one_undoes_only_itself(api, sessions):
    session, (learner, *_) = await _world(api)
    variables = {"a": _enroll(session, learner)["i"], "b": _enroll(session, learner)["i"]}
    first = await _post(api, TWO_ENROLMENTS, variables, "two")
    data = first.json()["data"]
    assert data["first"]["enrollment"]["status"] == "ENROLLED"
    assert [e["code"] for e in data["second"]["errors"]] == ["ALREADY_ENROLLED"]
    assert (await _post(api, TWO_ENROLMENTS, variables, "two")).json() == first.json()
    assert await _count(sessions, "SELECT count(*) FROM enrollment") == 1
    assert await _count(sessions, "SELECT count(*) FROM audit_entry WHERE action LIKE 'enrol%'") == 1


async def test_a_key_on_a_query_is_ignored(api, sessions):
    answer = await _post(api, "query { sessions(first: 1) { edges { node { id } } } }", {}, "read-1")
    assert answer.status_code == 200 and "errors" not in answer.json()
    assert await _count(sessions, "SELECT count(*) FROM idempotency_key") == 0


async def test_keys_expire_after_24_hours_and_are_pruned(api, sessions):
    session, (learner, other, _) = await _world(api)
    await _post(api, g.ENROLL, _enroll(session, learner), "old-key")
    async with sessions() as db, changing(db):
        await db.execute(update(IdempotencyKey).values(created_at=utc_now() - timedelta(hours=24, minutes=1)))
    fresh = await _post(api, g.ENROLL, _enroll(session, other), "old-key")  # another body: fine once expired
    assert fresh.json()["data"]["enroll"]["enrollment"]["status"] == "ENROLLED"
    async with sessions() as db, changing(db):
        assert await idempotency.prune(db, utc_now() + timedelta(hours=23)) == 0
        assert await idempotency.prune(db, utc_now() + timedelta(hours=24, minutes=1)) == 1
    assert await _count(sessions, "SELECT count(*) FROM idempotency_key") == 0


async def test_a_document_refused_before_it_runs_stores_nothing(api, sessions):
    """Only an executed operation has an answer to keep; the key stays free for the corrected request."""
    session, (learner, *_) = await _world(api)
    refused = await _post(api, g.ENROLL.replace("status", "no_such_field", 1), _enroll(session, learner), "fix-me")
    assert refused.json()["data"] is None
    assert await _count(sessions, "SELECT count(*) FROM idempotency_key") == 0
    fixed = await _post(api, g.ENROLL, _enroll(session, learner), "fix-me")
    assert fixed.json()["data"]["enroll"]["enrollment"]["status"] == "ENROLLED"


async def test_a_portal_on_another_origin_may_send_a_key_and_read_the_replay_header(database_url):
    portal = "https://learn.example.com"
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, cors_origins=(portal,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as http:
        preflight = await http.options("/graphql", headers={
            "Origin": portal, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key"})
        assert preflight.status_code == 200
        answer = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"Origin": portal})
        assert "idempotent-replayed" in answer.headers["access-control-expose-headers"].lower()
    await app.state.podium.engine.dispose()
