"""The plugin kernel: which plugins load, misspelt hooks, routes, typed settings that keep secrets."""
from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from podium.core import hookimpl
from podium.core.plugin_settings import PluginSettingsError, describe, load_plugin_settings, secret
from podium.core.plugins import PluginError, create_plugin_manager, load_plugins
from podium.server.app import create_app
from tests.dispatching import settings_from


def test_bundled_and_installed_plugins_load_unless_limited():
    everything = create_plugin_manager(settings_from({}))
    assert {"email", "webhook", "logbook"} <= set(everything.loaded)
    assert everything.loaded["email"].source == "bundled"
    limited = create_plugin_manager(settings_from({"PODIUM_PLUGINS": "webhook"}))
    assert list(limited.loaded) == ["webhook"]


def test_naming_a_plugin_that_is_not_installed_is_refused():
    with pytest.raises(PluginError, match="not installed: smoke_signals"):
        create_plugin_manager(settings_from({"PODIUM_PLUGINS": "email,smoke_signals"}))


class Misspelt:
    @hookimpl
    def podium_evnt(self, event):
        pass


def test_a_misspelt_hook_is_caught_at_start_up():
    with pytest.raises(PluginError, match="podium_evnt"):
        create_plugin_manager(settings_from({}, plugins=()), extra=[("misspelt", Misspelt())])


class Pinger:
    @hookimpl
    async def podium_routes(self):
        async def ping(request):
            return PlainTextResponse("pong")
        return [Route("/ping", ping)]


async def test_plugin_routes_are_mounted_under_their_name(database_url):
    app = create_app(settings_from({"PODIUM_DATABASE_URL": database_url}, plugins=(), outbox_in_serve=False),
                     extra_plugins=[("pinger", Pinger())])
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://podium") as client:
            answer = await client.get("/plugins/pinger/ping")
            assert (answer.status_code, answer.text) == (200, "pong")
            assert (await client.get("/ping")).status_code == 404


@dataclass(frozen=True)
class AcmeSettings:
    api_key: str = secret()
    region: str = "eu"
    retries: int = 3
    sandbox: bool = False


def test_plugin_settings_are_typed_and_secrets_never_shown():
    config = load_plugin_settings(AcmeSettings, "acme-sms", {"PODIUM_ACME_SMS_API_KEY": "k-123456",
                                                             "PODIUM_ACME_SMS_RETRIES": "5",
                                                             "PODIUM_ACME_SMS_SANDBOX": "yes"})
    assert (config.api_key, config.region, config.retries, config.sandbox) == ("k-123456", "eu", 5, True)
    assert "k-123456" not in repr(config)
    assert describe(config) == {"api_key": "***", "region": "eu", "retries": "5", "sandbox": "True"}
    with pytest.raises(PluginSettingsError) as caught:
        load_plugin_settings(AcmeSettings, "acme-sms", {"PODIUM_ACME_SMS_RETRIES": "many",
                                                        "PODIUM_ACME_SMS_SANDBOX": "perhaps"})
    message = str(caught.value)
    assert "PODIUM_ACME_SMS_API_KEY is required" in message
    assert "PODIUM_ACME_SMS_RETRIES" in message and "'many'" in message
    assert "PODIUM_ACME_SMS_SANDBOX" in message


async def test_a_half_configured_email_channel_stops_start_up():
    with pytest.raises(PluginError, match="PODIUM_EMAIL_FROM_ADDRESS is required"):
        await load_plugins(settings_from({"PODIUM_PLUGINS": "email", "PODIUM_EMAIL_HOST": "smtp.example.com",
                                          "PODIUM_EMAIL_PASSWORD": "hunter2-hunter2"}))


async def test_an_unconfigured_channel_stays_idle():
    plugins = await load_plugins(settings_from({"PODIUM_PLUGINS": "email,webhook"}))
    assert plugins.channels == {}
