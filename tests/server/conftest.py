"""The real app over HTTP: httpx through ASGITransport, or a real uvicorn on 127.0.0.1."""
from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from podium.core import hookimpl
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.core.lms_double import LmsDouble
from tests.dispatching import settings_from
from tests.live_server import serve
from tests.server import programs_world as w

ADMIN_TOKEN = "test-admin-token-0123456789abcdefghij"


class Api:
    """POST /graphql and return the JSON; every answer must be an HTTP 200 with a JSON body."""

    def __init__(self, client: httpx.AsyncClient, app=None) -> None:
        self.client = client
        self.app = app  # the app served, for waiting on what the server has registered

    async def raw(self, query: str, variables: dict | None = None, token: str | None = ADMIN_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}},
                                      headers=headers)

    async def __call__(self, query: str, variables: dict | None = None, token: str | None = ADMIN_TOKEN) -> dict:
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict | None = None, token: str | None = ADMIN_TOKEN) -> dict:
        body = await self(query, variables, token)
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def app(database_url):
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    yield app
    await app.state.podium.engine.dispose()


@pytest.fixture
async def api(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
        yield Api(client)


@pytest.fixture
async def live(database_url):
    """A real uvicorn serving a fresh app; yields (host:port, Api over real HTTP)."""
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    with serve(app, lifespan="on") as url:
        address = url.removeprefix("http://")
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        async with httpx.AsyncClient(base_url=f"http://{address}", limits=limits, timeout=120) as client:
            yield address, Api(client, app)
    await asyncio.sleep(0)


class StoryPlugins:
    """A program's outside world for the story tests: an LMS double and a channel that records."""

    def __init__(self) -> None:
        self.lms = LmsDouble(name="testlms")
        self.channel = w.Recorder()

    @hookimpl
    def podium_lms_connectors(self):
        return [self.lms]

    @hookimpl
    def podium_notification_channels(self):
        return [self.channel]


@contextlib.asynccontextmanager
async def running_app(database_url: str, **settings):
    """The app with its lifespan (dispatcher running), the `StoryPlugins` registered, and a client:
    yields (api, plugins, the app's sessionmaker)."""
    plugins = StoryPlugins()
    app = create_app(settings_from({"PODIUM_PLUGINS": ""}, database_url=database_url, admin_token=ADMIN_TOKEN,
                                   **settings), extra_plugins=[("story", plugins)])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            yield Api(client), plugins, app.state.podium.sessions


@pytest.fixture
async def story(database_url):
    """The app with its lifespan (dispatcher running), an LMS double and a recording channel."""
    async with running_app(database_url, reminder_hours=0) as running:
        yield running


@pytest.fixture
async def told(database_url):
    """The app with its outbox running and a channel that records what it is given."""
    async with running_app(database_url) as (api, plugins, sessions):
        yield api, plugins.channel, sessions
