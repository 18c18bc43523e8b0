"""The plugin contract: every hook a plugin may implement (the guide: docs/plugins.md, whose hook
reference is rendered from these docstrings).

Hooks are called with keyword arguments; an implementation takes any subset and may be `async def`.
Specs only ever gain arguments. `settings` is the running `Settings`; `context` is the plugin's own
`PluginContext` (settings, database, its providers, the outbox). A plugin imports what it needs from
`podium.plugin`.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("podium")
hookimpl = pluggy.HookimplMarker("podium")


@hookspec
def podium_notification_channels(settings, context):
    """Return notification channel objects (`NotificationChannel`: `name`, `async deliver(notification)`,
    and optionally `kinds`, the set of notification kinds it wants); called once at start-up.

    Example: `return [SmsChannel(context.load_settings(SmsSettings))] if context.is_configured() else []`
    """


@hookspec
def podium_conferencing_providers(settings, context):
    """Return conferencing provider objects (`ConferencingProvider`) that create, update and delete
    meetings and report participants; called once at start-up. A session's meeting goes to the provider
    it names (`scheduleSession(conferencing:)`), else its course's default, else `PODIUM_DEFAULT_CONFERENCING`.
    """


@hookspec
def podium_venue_sources(settings, context):
    """Return venue source objects (`VenueSource`) that list venues, rooms and the rooms' busy times;
    called once at start-up."""


@hookspec
def podium_lms_connectors(settings, context):
    """Return LMS connector objects (`LmsConnector`) that enrol learners, read completion and push
    attendance back; called once at start-up. A program names one in `lmsConnector`, by the connector's
    name or its plugin's."""


@hookspec
def podium_routes(settings, context):
    """Return Starlette routes, mounted under `/plugins/<plugin name>/`; called once at start-up.

    A route reaches the database through the `context` it closes over:
    `async with context.changing() as db: ...`. Answer quickly and leave slow work to the outbox.
    """


@hookspec
def podium_outbox_topics(settings, context):
    """Return `OutboxTopic`s, the plugin's own background work: each `name` (`<plugin>.<what>`) with its
    `perform(message)` and optional `on_dead(message, error)`; called once at start-up. Queue work with
    `context.call_plugin(db, topic=..., payload=..., idempotency_key=...)`; it gets the same retries,
    backoff, time-out, fairness and per-`ordering_key` order as core work.
    """


@hookspec
def podium_event(event, settings, context):
    """Receive one committed domain event (`id`, `type`, `occurred_at`, `payload`), at least once, after commit.

    Delivered through the outbox, per plugin, in commit order per session; `event.id` is the idempotency key.
    Raise to have it retried with backoff.
    """


@hookspec
def podium_receives_events(settings, context):
    """Return False when this plugin's settings leave it idle: it then gets no `podium_event`, and no outbox
    row is written for it. Called once at start-up; a plugin without this hook receives every event."""


@hookspec
def podium_settings(settings, context):
    """Return the plugin's settings dataclass (fields made with `secret()` are masked), or
    `(prefix, dataclass)` when its variables are `PODIUM_<PREFIX>_*` rather than named after the plugin.

    `podium plugins` shows every field's value from it and whether the plugin is configured; it is
    called there even when another hook fails, so an operator sees each plugin's settings at once.
    """
