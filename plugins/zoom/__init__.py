"""The `zoom` plugin: meetings for VIRTUAL and HYBRID sessions, registrants, attendance from Zoom's report."""
from __future__ import annotations

from podium.plugin import hookimpl

from .client import ZoomClient
from .config import ZoomSettings
from .provider import ZoomProvider
from .routes import webhook_routes


@hookimpl
def podium_conferencing_providers(context):
    if not context.is_configured():
        return []
    return [ZoomProvider(ZoomClient(context.load_settings(ZoomSettings)))]


@hookimpl
def podium_routes(context):
    if not context.is_configured():
        return []
    return webhook_routes(context.load_settings(ZoomSettings), context)


@hookimpl
def podium_settings():
    return ZoomSettings
