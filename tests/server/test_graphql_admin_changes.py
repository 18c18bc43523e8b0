"""revokeToken and retryOutboxMessage: an admin's alone, audited, and noticeable at once."""
from __future__ import annotations

from sqlalchemy import select

from podium.core.models import AuditEntry
from tests.core.test_outbox import FlakyPlugin
from tests.dispatching import dispatching, eventually, outbox_rows, settings_from
from tests.server import graph

ISSUE = """mutation($i: IssueTokenInput!) { issueToken(input: $i) { token tokenId errors { code } } }"""
REVOKE = """mutation($i: RevokeTokenInput!) { revokeToken(input: $i) { tokenId revokedAt
  errors { code field message } } }"""
RETRY = """mutation($id: Int!) { retryOutboxMessage(input: {id: $id}) {
  message { id status attempts failing } errors { code field message } } }"""
ME = """{ me { name } resources { totalCount } }"""


async def _audit(sessions, action: str) -> list[AuditEntry]:
    async with sessions() as db:
        return list((await db.scalars(select(AuditEntry).where(AuditEntry.action == action))).all())


async def test_a_revoked_token_is_refused_at_once(app, api):
    person = await graph.person(api, name="Ada")
    issued = (await api.data(ISSUE, {"i": {"personId": person, "role": "COORDINATOR"}}))["issueToken"]
    other = await graph.token(api, person, "LEARNER")
    assert (await api.data(ME, token=issued["token"]))["me"] == {"name": "Ada"}

    revoked = (await api.data(REVOKE, {"i": {"tokenId": issued["tokenId"]}}))["revokeToken"]
    assert revoked["errors"] == [] and revoked["tokenId"] == issued["tokenId"] and revoked["revokedAt"]
    response = await api.raw(ME, token=issued["token"])
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.data(ME, token=other))["me"] == {"name": "Ada"}  # only that token

    by_value = (await api.data(REVOKE, {"i": {"token": other}}))["revokeToken"]
    assert by_value["errors"] == [] and (await api.raw("{ me { name } }", token=other)).status_code == 401
    [entry] = [e for e in await _audit(app.state.podium.sessions, "token.revoke") if e.after["role"] == "LEARNER"]
    assert entry.actor == "api:admin-token" and entry.before == {"revoked_at": None}
    assert len(await _audit(app.state.podium.sessions, "token.revoke")) == 2

    again = (await api.data(REVOKE, {"i": {"tokenId": issued["tokenId"]}}))["revokeToken"]
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("INVALID", ["input", "tokenId"])]
    for bad, code, field in (({"token": "pdm_nothing"}, "NOT_FOUND", "token"),
                             ({"tokenId": person}, "NOT_FOUND", "tokenId"),
                             ({}, "INVALID", "tokenId"),
                             ({"tokenId": issued["tokenId"], "token": other}, "INVALID", "tokenId")):
        answer = (await api.data(REVOKE, {"i": bad}))["revokeToken"]
        assert [(e["code"], e["field"]) for e in answer["errors"]] == [(code, ["input", field])], bad
        assert answer["tokenId"] is None
    assert len(await _audit(app.state.podium.sessions, "token.revoke")) == 2


async def test_an_admin_retries_a_dead_message_and_it_is_delivered(app, api):
    sessions = app.state.podium.sessions
    flaky = FlakyPlugin()
    course = await graph.course(api)
    lead = await graph.instructor(api, email="lead@example.com")
    async with dispatching(sessions, settings_from({}, plugins=(), outbox_max_attempts=1), extra=[("flaky", flaky)]):
        await graph.session(api, course, [lead])
        [dead] = await eventually(lambda: outbox_rows(sessions, status="DEAD"), what="the notification to die")

        learner = await graph.person(api)
        for role in ("LEARNER", "INSTRUCTOR", "COORDINATOR"):
            refused = (await api.data(RETRY, {"id": dead.id}, token=await graph.token(api, learner, role)))
            assert [e["code"] for e in refused["retryOutboxMessage"]["errors"]] == ["FORBIDDEN"]
        assert (await outbox_rows(sessions, id=dead.id))[0].status.value == "DEAD"

        flaky.channel.working = True
        retried = (await api.data(RETRY, {"id": dead.id}))["retryOutboxMessage"]
        assert retried["errors"] == []
        assert retried["message"]["id"] == dead.id and retried["message"]["attempts"] == 0
        await eventually(lambda: flaky.channel.delivered, what="the retried delivery")
    assert flaky.channel.delivered == [dead.idempotency_key]
    [entry] = await _audit(sessions, "outbox.retry")
    assert (entry.target_id, entry.before["status"], entry.after["status"]) == (dead.id, "DEAD", "PENDING")

    delivered = (await api.data(RETRY, {"id": dead.id}))["retryOutboxMessage"]
    assert [(e["code"], e["field"]) for e in delivered["errors"]] == [("INVALID", ["input", "id"])]
    missing = (await api.data(RETRY, {"id": 999_999}))["retryOutboxMessage"]
    assert [e["code"] for e in missing["errors"]] == ["NOT_FOUND"] and missing["message"] is None
    assert len(await _audit(sessions, "outbox.retry")) == 1
