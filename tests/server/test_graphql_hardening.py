"""Nothing a client sends produces a 500: malformed requests are 4xx with GraphQL errors, abusive
documents are refused before they run."""
from __future__ import annotations

import json

import pytest

from tests.server.conftest import ADMIN_TOKEN


def _refused(body: dict, needle: str) -> None:
    assert body.get("data") is None, body
    assert any(needle in e["message"] for e in body["errors"]), body["errors"]


async def test_malformed_json_is_a_400_with_graphql_errors(api):
    response = await api.client.post("/graphql", content=b'{"query": "{ courses', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize("body, content_type", [
    (b"[]", "application/json"),
    (b'"just a string"', "application/json"),
    (b'{"query": 42}', "application/json"),
    (b'{"variables": {}}', "application/json"),
    (b'{"query": "{ courses { totalCount } }", "variables": "nope"}', "application/json"),
    (b"query=%7Bcourses%7D", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"{ courses { totalCount } }", "text/plain"),
])
async def test_odd_bodies_are_client_errors_never_500(api, body, content_type):
    response = await api.client.post("/graphql", content=body, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500 or (response.status_code == 200 and response.json().get("errors")), \
        (response.status_code, response.text)
    assert "errors" in response.json()


async def test_unknown_field_and_wrong_variable_types_are_graphql_errors(api):
    _refused(await api("{ courses { edges { node { tuition } } } }"), "Cannot query field 'tuition'")
    _refused(await api("query($n: Int) { courses(first: $n) { totalCount } }", {"n": "many"}), "Int cannot represent")
    _refused(await api('mutation { enroll(input: {sessionId: "x"}) { errors { code } } }'), "learnerId")


async def test_a_depth_bomb_is_refused_every_time(api):
    bomb = "{ sessions { edges { node { course { sessions { edges { node { course { sessions { edges { node {" \
           " course { sessions { edges { node { id } } } } } } } } } } } } } } } }"
    for _ in range(2):  # the second time comes from the validation cache
        _refused(await api(bomb), "exceeds maximum operation depth")


async def test_fifty_aliases_are_refused(api):
    aliases = " ".join(f"a{i}: courses {{ totalCount }}" for i in range(50))
    _refused(await api(f"{{ {aliases} }}"), "aliases")


async def test_too_many_tokens_are_refused(api):
    fields = " ".join("__typename" for _ in range(3000))
    _refused(await api(f"{{ {fields} }}"), "token")


async def test_a_thousand_per_page_is_refused(api):
    body = await api("{ sessions(first: 1000) { totalCount } }")
    _refused(body, "first must be between 0 and 100")
    assert body["errors"][0]["extensions"]["code"] == "INVALID"


async def test_a_body_over_the_limit_is_refused_with_413(app, api):
    limit = app.state.podium.settings.max_body_bytes
    query = "{ courses { totalCount } }" + " " * limit
    response = await api.client.post("/graphql", content=json.dumps({"query": query}),
                                     headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_an_unexpected_failure_is_masked_with_a_request_id(api, app, caplog):
    """The caller sees a request id and nothing of the cause; the log has the cause under that id."""
    await app.state.podium.engine.dispose()
    app.state.podium.engine.sync_engine.pool._creator = lambda *a: (_ for _ in ()).throw(RuntimeError("db gone"))
    response = await api.raw("{ sessions { totalCount } }", token=None)
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error." and error["extensions"]["code"] == "INTERNAL"
    text = response.text
    assert "db gone" not in text
    request_id = response.headers.get("x-request-id") or response.json()["errors"][0]["extensions"]["requestId"]
    assert request_id and request_id in text
    logged = [r for r in caplog.records if r.name == "podium.graphql" and request_id in r.getMessage()]
    assert logged and "db gone" in (logged[0].exc_text or "") + str(logged[0].exc_info), caplog.text


async def test_graphiql_opens_in_a_browser(api):
    response = await api.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_the_bootstrap_token_is_admin_and_a_wrong_token_is_refused(api):
    assert (await api.data("{ resources { totalCount } }", token=ADMIN_TOKEN))["resources"]["totalCount"] == 0
    response = await api.raw("{ resources { totalCount } }", token="not-a-token")
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_subscription_over_plain_http_is_told_where_to_go(api):
    response = await api.raw('subscription { sessionChanged(sessionId: "U2Vzc2lvbjox") { id } }')
    assert response.status_code == 400
    assert "WebSocket" in response.json()["errors"][0]["message"]
