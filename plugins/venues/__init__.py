"""Venue systems: venues and rooms from a JSON feed or file, rooms' busy times from iCalendar feeds."""
from podium.core import hookimpl
from podium.core.plugin_settings import load_plugin_settings

from .config import SETTINGS_NAME, VenuesConfig
from .provider import VenueFeedSource


@hookimpl
def podium_venue_sources(settings):
    # Always on: rooms' calendars are read even without a venue feed.
    return [VenueFeedSource(load_plugin_settings(VenuesConfig, SETTINGS_NAME, settings.env))]
