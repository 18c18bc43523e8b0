"""The plugin contract: every hook a plugin may implement (API.md "Plugin contract").

Hooks are called with keyword arguments; an implementation takes any subset and may be `async def`.
Specs only ever gain arguments.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("podium")
hookimpl = pluggy.HookimplMarker("podium")


@hookspec
def podium_notification_channels():
    """Return notification channel objects: `name` and `async deliver(notification)`."""


@hookspec
def podium_conferencing_providers():
    """Return conferencing provider objects that create, update and delete meetings and report participants."""


@hookspec
def podium_venue_sources():
    """Return venue source objects that list venues, rooms and the rooms' busy times."""


@hookspec
def podium_lms_connectors():
    """Return LMS connector objects that enrol learners, read completion and push attendance back."""


@hookspec
def podium_routes():
    """Return Starlette routes, mounted under `/plugins/<plugin name>/`."""


@hookspec
def podium_event(event):
    """Receive one committed domain event (`id`, `type`, `occurred_at`, `payload`), at least once, after commit."""
