"""The `zoom` plugin: meetings for VIRTUAL and HYBRID sessions, registrants, attendance from Zoom's report."""
from __future__ import annotations

from podium.core import hookimpl
from podium.core.plugin_settings import is_configured, load_plugin_settings

from .client import ZoomClient
from .config import ZoomSettings
from .provider import ZoomProvider
from .routes import webhook_routes


@hookimpl
def podium_conferencing_providers(settings):
    if not is_configured("zoom", settings.env):
        return []
    return [ZoomProvider(ZoomClient(load_plugin_settings(ZoomSettings, "zoom", settings.env)))]


@hookimpl
def podium_routes(settings):
    if not is_configured("zoom", settings.env):
        return []
    return webhook_routes(load_plugin_settings(ZoomSettings, "zoom", settings.env))
