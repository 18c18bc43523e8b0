"""Venue systems: venues and rooms from a JSON feed or file, rooms' busy times from iCalendar feeds."""
from podium.core import hookimpl

from .config import VenuesConfig
from .provider import VenueFeedSource


@hookimpl
def podium_venue_sources():
    return [VenueFeedSource(VenuesConfig.from_env())]
