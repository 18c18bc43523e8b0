"""Moodle as the LMS of blended programs: enrol learners, read completion, push attendance back."""
from podium.core import hookimpl
from podium.core.plugin_settings import is_configured, load_plugin_settings

from .config import SETTINGS_NAME, MoodleConfig
from .provider import MoodleConnector


@hookimpl
def podium_lms_connectors(settings):
    if not is_configured(SETTINGS_NAME, settings.env):
        return []  # no PODIUM_MOODLE_* set: the connector stays off
    return [MoodleConnector(load_plugin_settings(MoodleConfig, SETTINGS_NAME, settings.env))]
