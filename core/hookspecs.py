"""The plugin contract: every hook a plugin may implement (the guide: docs/plugins.md).

Hooks are called with keyword arguments; an implementation takes any subset and may be `async def`.
Specs only ever gain arguments. `settings` is the running `podium.core.settings.Settings`; a plugin
reads its own typed settings from it with `podium.core.plugin_settings.load_plugin_settings`.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("podium")
hookimpl = pluggy.HookimplMarker("podium")


@hookspec
def podium_notification_channels(settings):
    """Return notification channel objects (`name`, `async deliver(notification)`); called once at start-up."""


@hookspec
def podium_conferencing_providers(settings):
    """Return conferencing provider objects that create, update and delete meetings and report participants."""


@hookspec
def podium_venue_sources(settings):
    """Return venue source objects that list venues, rooms and the rooms' busy times."""


@hookspec
def podium_lms_connectors(settings):
    """Return LMS connector objects that enrol learners, read completion and push attendance back."""


@hookspec
def podium_routes(settings):
    """Return Starlette routes, mounted under `/plugins/<plugin name>/`."""


@hookspec
def podium_event(event, settings):
    """Receive one committed domain event (`id`, `type`, `occurred_at`, `payload`), at least once, after commit.

    Delivered through the outbox, per plugin, in commit order per session; `event.id` is the idempotency key.
    Raise to have it retried with backoff.
    """


@hookspec
def podium_receives_events(settings):
    """Return False when this plugin's settings leave it idle: it then gets no `podium_event`, and no outbox
    row is written for it. Called once at start-up; a plugin without this hook receives every event."""
