"""Moodle as the LMS of blended programs: enrol learners, read completion, push attendance back."""
from podium.plugin import hookimpl

from .config import SETTINGS_NAME, MoodleConfig
from .provider import MoodleConnector


@hookimpl
def podium_lms_connectors(context):
    if not context.is_configured(SETTINGS_NAME):
        return []  # no PODIUM_MOODLE_* set: the connector stays off
    return [MoodleConnector(context.load_settings(MoodleConfig, SETTINGS_NAME))]


@hookimpl
def podium_settings():
    return SETTINGS_NAME, MoodleConfig
