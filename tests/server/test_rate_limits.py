"""Rate limits: each token (each client IP without one) spends its queries' cost from a bucket; an
empty bucket, or too many wrong tokens from one IP, is HTTP 429 RATE_LIMITED with Retry-After.
In memory by default, in Redis (shared between processes) when PODIUM_REDIS_URL is set."""
from __future__ import annotations

import secrets
import uuid
from contextlib import asynccontextmanager

import httpx
import pytest

from podium.core.settings import Settings
from podium.server.app import create_app

COURSES = "{ courses { edges { node { id } } } }"  # costs 41
REDIS_URL = "redis://127.0.0.1:6379/0"


@asynccontextmanager
async def podium(database_url: str, **settings):
    """An app with these settings, and a way to call it as a given client IP."""
    app = create_app(Settings(database_url=database_url, **settings))
    clients: list[httpx.AsyncClient] = []

    async def call(query: str, token: str | None = None, ip: str = "10.0.0.1") -> httpx.Response:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(ip, 1234)), base_url="http://podium.test")
        clients.append(client)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.post("/graphql", json={"query": query}, headers=headers)

    try:
        yield call
    finally:
        for client in clients:
            await client.aclose()
        await app.state.podium.engine.dispose()


def _limited(response: httpx.Response) -> dict:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["RATE_LIMITED"]
    assert body["errors"][0]["extensions"]["retryAfter"] == retry_after
    return body


def _served(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return body


def _unique_ip() -> str:
    return "10.{}.{}.{}".format(*secrets.token_bytes(3))


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_a_token_spends_its_own_points(database_url, storage):
    token, other = uuid.uuid4().hex, f"other-{uuid.uuid4().hex}"  # fresh keys: Redis outlives the test
    async with podium(database_url, admin_token=token, rate_limit_points=100,
                      redis_url=REDIS_URL if storage == "redis" else None) as call:
        ip = _unique_ip()
        _served(await call(COURSES, token, ip))
        _served(await call(COURSES, token, ip))  # 82 of 100 points
        body = _limited(await call(COURSES, token, ip))
        assert body["data"] is None and body["errors"][0]["extensions"]["cost"] == 41
        _limited(await call(COURSES, token, _unique_ip()))  # the token's bucket, from wherever it calls
        _served(await call(COURSES, None, ip))  # anonymous callers of that IP have their own bucket
        assert (await call(COURSES, other, ip)).status_code != 429  # a wrong token spends nobody's points


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_anonymous_callers_spend_their_ip_points(database_url, storage):
    async with podium(database_url, anonymous_rate_limit_points=50,
                      redis_url=REDIS_URL if storage == "redis" else None) as call:
        ip = _unique_ip()
        _served(await call(COURSES, ip=ip))
        _limited(await call(COURSES, ip=ip))
        _served(await call(COURSES, ip=_unique_ip()))


async def test_processes_sharing_redis_share_the_buckets(database_url):
    token = uuid.uuid4().hex
    settings = dict(admin_token=token, rate_limit_points=100, redis_url=REDIS_URL)
    async with podium(database_url, **settings) as first, podium(database_url, **settings) as second:
        _served(await first(COURSES, token))
        _served(await second(COURSES, token))
        _limited(await first(COURSES, token))
        _limited(await second(COURSES, token))


async def test_redis_not_answering_lets_requests_through(database_url, caplog):
    async with podium(database_url, rate_limit_points=100, anonymous_rate_limit_points=50,
                      redis_url="redis://127.0.0.1:1/0") as call:
        for _ in range(3):
            _served(await call(COURSES))
    assert "rate limit storage unavailable" in caplog.text


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_many_wrong_tokens_from_one_ip_get_429(database_url, storage):
    admin = uuid.uuid4().hex
    async with podium(database_url, admin_token=admin, auth_failure_limit=5,
                      redis_url=REDIS_URL if storage == "redis" else None) as call:
        guesser = _unique_ip()
        for _ in range(5):
            assert (await call(COURSES, secrets.token_urlsafe(24), guesser)).status_code != 429
        limited = _limited(await call(COURSES, secrets.token_urlsafe(24), guesser))
        assert "sign-ins" in limited["errors"][0]["message"]
        _limited(await call(COURSES, admin, guesser))  # even a right token, from that IP, for the period
        _served(await call(COURSES, None, guesser))  # without a token it is an anonymous caller
        _served(await call(COURSES, admin, _unique_ip()))  # others sign in as before

