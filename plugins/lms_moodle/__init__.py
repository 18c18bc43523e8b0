"""Moodle as the LMS of blended programs: enrol learners, read completion, push attendance back."""
from podium.core import hookimpl

from .config import MoodleConfig
from .provider import MoodleConnector


@hookimpl
def podium_lms_connectors():
    config = MoodleConfig.from_env()
    return [MoodleConnector(config)] if config is not None else []
