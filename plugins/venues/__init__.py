"""Venue systems: venues and rooms from a JSON feed or file, rooms' busy times from iCalendar feeds."""
from podium.plugin import hookimpl

from .config import SETTINGS_NAME, VenuesConfig
from .provider import VenueFeedSource


@hookimpl
def podium_venue_sources(context):
    # Always on: rooms' calendars are read even without a venue feed.
    return [VenueFeedSource(context.load_settings(VenuesConfig, SETTINGS_NAME))]


@hookimpl
def podium_settings():
    return SETTINGS_NAME, VenuesConfig
