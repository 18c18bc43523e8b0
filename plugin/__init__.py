"""Podium's public API for plugins: everything a plugin may import, and the only module it should.

What is named here stays stable within a major version (names and arguments are only ever added);
everything else under `podium.*` is private and may change in any release. The guide, with every
name below, is docs/plugins.md.
"""
from podium.core.errors import DomainError, ErrorCode
from podium.core import hookspecs as _hookspecs
from podium.core.outbox import QueuedMessage
from podium.core.plugin_settings import PluginSettingsError, describe, is_configured, load_plugin_settings, secret
from podium.core.plugins import OutboxTopic, PluginContext, PluginError, start_plugins
from podium.core.providers import (
    Attachment, AttendanceRules, BusyTime, CompletionReport, ConferencingProvider, LmsConnector,
    MeetingGone, MeetingInfo, MeetingSpec, NoParticipantsReport, Notification, NotificationChannel, ParticipantSegment,
    Registrant, RoomRecord, VenueRecord, VenueSource,
)
from podium.core.services.journeys import ATTENDED as _ATTENDED

hookimpl = _hookspecs.hookimpl
"""Marks a plugin's function (or method) as a hook implementation: `@hookimpl` above `def podium_<hook>(...)`."""

ATTENDED_STATUSES: frozenset[str] = frozenset(status.value for status in _ATTENDED)
"""The attendance statuses that complete a program's live stage (PRESENT, LATE): what an LMS connector
marks complete when it pushes attendance back."""

__all__ = [
    # hooks and the context they are handed
    "hookimpl", "PluginContext", "OutboxTopic", "QueuedMessage",
    # settings
    "secret", "load_plugin_settings", "is_configured", "describe",
    # notification channels
    "NotificationChannel", "Notification", "Attachment",
    # conferencing
    "ConferencingProvider", "MeetingSpec", "MeetingInfo", "Registrant", "ParticipantSegment", "AttendanceRules",
    "NoParticipantsReport", "MeetingGone",
    # venue sources
    "VenueSource", "VenueRecord", "RoomRecord", "BusyTime",
    # LMS connectors
    "LmsConnector", "CompletionReport", "ATTENDED_STATUSES",
    # a plugin's own tests
    "start_plugins",
    # errors
    "PluginError", "PluginSettingsError", "DomainError", "ErrorCode",
]
