"""A fake Zoom on 127.0.0.1 per test, and the plugin's production client and provider pointed at it."""
from __future__ import annotations

import pytest

from podium.core.plugin_settings import load_plugin_settings
from podium.plugins.zoom.client import ZoomClient
from podium.plugins.zoom.config import ZoomSettings
from podium.plugins.zoom.provider import ZoomProvider
from tests.live_server import serve
from tests.plugins.zoom.fake_zoom import ACCOUNT_ID, CLIENT_ID, CLIENT_SECRET, FakeZoom, create_app

WEBHOOK_SECRET = "webhook-secret-token"


@pytest.fixture
def fake_zoom():
    zoom = FakeZoom()
    with serve(create_app(zoom)) as url:
        zoom.url = url
        yield zoom


def settings_for(url: str, **overrides) -> ZoomSettings:
    env = {"PODIUM_ZOOM_ACCOUNT_ID": ACCOUNT_ID, "PODIUM_ZOOM_CLIENT_ID": CLIENT_ID,
           "PODIUM_ZOOM_CLIENT_SECRET": CLIENT_SECRET, "PODIUM_ZOOM_API_BASE": f"{url}/v2",
           "PODIUM_ZOOM_OAUTH_BASE": url, "PODIUM_ZOOM_WEBHOOK_SECRET_TOKEN": WEBHOOK_SECRET,
           "PODIUM_ZOOM_BACKOFF_SECONDS": "0.05", "PODIUM_ZOOM_TIMEOUT_SECONDS": "5"}
    env.update({f"PODIUM_ZOOM_{k.upper()}": str(v) for k, v in overrides.items()})
    return load_plugin_settings(ZoomSettings, "zoom", env)


@pytest.fixture
async def zoom_client(fake_zoom):
    client = ZoomClient(settings_for(fake_zoom.url))
    yield client
    await client.aclose()


@pytest.fixture
def zoom_provider(zoom_client):
    return ZoomProvider(zoom_client)
