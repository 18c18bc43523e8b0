"""Defaults that are safe to expose: introspection can be turned off (hints too), SQLite commits are
durable unless told otherwise, and `podium serve` refuses a guessable admin token."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import httpx
import pytest
from sqlalchemy import text

from podium.core.db import create_engine
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server.conftest import ADMIN_TOKEN

INTROSPECTION = "{ __schema { types { name } } }"
TYPE = '{ __type(name: "Session") { fields { name } } }'


async def _post(app, query: str, variables: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
        return await client.post("/graphql", json={"query": query, "variables": variables or {}},
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


async def test_introspection_and_hints_can_be_turned_off(database_url):
    on = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    off = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, introspection=False))
    try:
        assert "data" in (await _post(on, INTROSPECTION)).json()
        typo = (await _post(on, "{ sesions { totalCount } }")).json()["errors"][0]["message"]
        assert "Did you mean" in typo
        for query in (INTROSPECTION, TYPE):
            body = (await _post(off, query)).json()
            assert "data" not in body or body["data"] is None
            assert "introspection" in body["errors"][0]["message"].lower()
        for query, variables in (("{ sesions { totalCount } }", None),
                                 ("mutation($i: IssueTokenInput!) { issueToken(input: $i) { token } }",
                                  {"i": {"personId": "x", "role": "ADMINN"}})):
            messages = [e["message"] for e in (await _post(off, query, variables)).json()["errors"]]
            assert messages and not any("Did you mean" in m for m in messages), messages
        assert (await _post(off, "{ courses { totalCount } }")).json() == {"data": {"courses": {"totalCount": 0}}}
        assert "data" in (await _post(on, INTROSPECTION)).json()  # one app's setting is not the other's
    finally:
        await on.state.podium.engine.dispose()
        await off.state.podium.engine.dispose()


@pytest.mark.parametrize("setting, level", [(None, 2), ("NORMAL", 1)])
def test_sqlite_commits_are_durable_by_default(tmp_path, setting, level):
    env = {"PODIUM_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"}
    if setting:
        env["PODIUM_SQLITE_SYNCHRONOUS"] = setting
    settings = Settings.from_env(env)

    async def synchronous() -> int:
        engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
        async with engine.connect() as conn:
            value = await conn.scalar(text("PRAGMA synchronous"))
        await engine.dispose()
        return value

    assert asyncio.run(synchronous()) == level  # 2 is FULL, 1 NORMAL


def test_serve_refuses_a_short_admin_token(tmp_path):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}, "PODIUM_ADMIN_TOKEN": "secret"}
    done = subprocess.run([sys.executable, "-m", "podium.server.cli", "serve", "--port", "1"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert "PODIUM_ADMIN_TOKEN" in line and "secrets.token_urlsafe(32)" in line


def test_serve_refuses_a_database_behind_the_head_and_readyz_says_why(template_databases, tmp_path):
    """PostgreSQL at an older revision: `podium serve` stops with one line; an app on it is not ready."""
    import uuid

    from podium.core.migrate import upgrade
    from tests.conftest import pg_admin, pg_database_url

    if "postgresql" not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    name = f"podium_behind_{uuid.uuid4().hex[:10]}"
    url = pg_database_url(name)
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, "0002")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}, "PODIUM_DATABASE_URL": url}
        done = subprocess.run([sys.executable, "-m", "podium.server.cli", "serve", "--port", "1"], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stdout + done.stderr
        [line] = done.stderr.strip().splitlines()
        assert line.startswith("error:") and "podium db upgrade" in line and "0002" in line

        async def ready() -> httpx.Response:
            app = create_app(Settings(database_url=url, admin_token=ADMIN_TOKEN))
            try:
                async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://p.test") as client:
                    return await client.get("/readyz")
            finally:
                await app.state.podium.engine.dispose()

        answer = asyncio.run(ready())
        assert answer.status_code == 503 and "podium db upgrade" in answer.json()["reason"]
        upgrade(url)
        assert asyncio.run(ready()).status_code == 200
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
