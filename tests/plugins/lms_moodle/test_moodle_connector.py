"""The Moodle connector's production client against a fake Moodle over a real socket on 127.0.0.1."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from podium.core.plugin_settings import PluginSettingsError
from podium.core.providers import LmsConnector
from podium.core.settings import Settings
from podium.plugins import lms_moodle
from podium.plugins.lms_moodle.client import MoodleError
from podium.plugins.lms_moodle.config import MoodleConfig
from podium.plugins.lms_moodle.provider import MoodleConnector
from tests.dispatching import plugin_context
from tests.plugins.lms_moodle.fake_moodle import TOKEN, FakeMoodle
from tests.live_server import serve

T0 = 1_790_000_000   # a Unix time Moodle would send


def connector(moodle, token: str = TOKEN) -> MoodleConnector:
    return MoodleConnector(MoodleConfig(url=moodle.url, token=token))


def sent(moodle, wsfunction: str) -> dict[str, str]:
    """The raw form of the last call of that function, as Moodle received it."""
    for pairs in reversed(moodle.requests):
        if ("wsfunction", wsfunction) in pairs:
            return dict(pairs)
    raise AssertionError(f"{wsfunction} was never called")


async def test_finds_a_learner_by_email_and_enrols_them_as_a_student(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")
    lms = connector(moodle)

    assert await lms.find_user("Ada@Example.com") == str(user)
    assert await lms.find_user("nobody@example.com") is None
    await lms.enrol(str(course), str(user))

    assert moodle.enrolments == {(course, user): 5}
    form = sent(moodle, "enrol_manual_enrol_users")
    assert form["wstoken"] == TOKEN and form["moodlewsrestformat"] == "json"
    assert (form["enrolments[0][roleid]"], form["enrolments[0][userid]"], form["enrolments[0][courseid]"]) == (
        "5", str(user), str(course))
    first_lookup = dict(moodle.requests[0])
    assert (first_lookup["wsfunction"], first_lookup["field"], first_lookup["values[0]"]) == (
        "core_user_get_users_by_field", "email", "Ada@Example.com")


async def test_a_moodle_account_is_found_whatever_the_case_of_its_email(moodle):
    # Moodle compares emails exactly on PostgreSQL: Podium's lower-cased address alone would miss this account.
    ada = moodle.add_user("Ada@Example.com")
    moodle.add_user("adaxlovelace@example.com")
    lms = connector(moodle)

    assert await lms.find_user("ada@example.com") == str(ada)
    assert await lms.find_user("ada_lovelace@example.com") is None, "_ is a LIKE wildcard, not a match"
    assert await lms.find_user("  Ada@Example.com ") == str(ada)
    assert dict(moodle.requests[-1])["wsfunction"] == "core_user_get_users_by_field", "the exact address is enough"


async def test_a_course_may_be_named_by_its_short_name(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")
    await connector(moodle).enrol("FIRE-101", str(user))
    assert (course, user) in moodle.enrolments
    with pytest.raises(MoodleError, match="no Moodle course has the short name 'NOPE'"):
        await connector(moodle).enrol("NOPE", str(user))


async def test_reads_activity_completion_with_one_call_per_learner(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")
    reading, quiz, video = (moodle.add_activity(course, n) for n in ("Reading", "Quiz", "Video"))
    moodle.add_activity(course, "Forum", tracking=0)        # not tracked: Moodle leaves it out
    moodle.enrolments[(course, user)] = 5
    moodle.complete(reading, user, T0)
    moodle.complete(quiz, user, T0 + 60, state=3)           # COMPLETION_COMPLETE_FAIL is not done
    lms = connector(moodle)

    report = await lms.completion(str(course), str(user))
    assert report.activities == {str(reading): datetime.fromtimestamp(T0, timezone.utc), str(quiz): None,
                                 str(video): None}

    moodle.complete(quiz, user, T0 + 120, state=2)
    moodle.complete(video, user, T0 + 180)
    moodle.requests.clear()
    report = await lms.completion(str(course), str(user))
    assert report.activities[str(video)] == datetime.fromtimestamp(T0 + 180, timezone.utc)
    assert [dict(r)["wsfunction"] for r in moodle.requests] == ["core_completion_get_activities_completion_status"]
    assert report.course_completed_at is None, "course completion is Podium's to judge, not asked of Moodle"


async def test_a_course_without_completion_criteria_still_counts_its_activities(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("OPEN-1", completion_criteria=False)
    page = moodle.add_activity(course, "Welcome")
    moodle.enrolments[(course, user)] = 5
    moodle.complete(page, user, T0)
    report = await connector(moodle).completion(str(course), str(user))
    assert report.activities == {str(page): datetime.fromtimestamp(T0, timezone.utc)}
    assert report.course_completed_at is None


async def test_pushes_attendance_as_the_live_session_activitys_completion(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")
    live = moodle.add_activity(course, "Live workshop: Fire safety", modname="label", tracking=1)
    lms = connector(moodle)

    await lms.push_attendance(str(course), str(user), "Live workshop: Fire safety", "PRESENT")
    assert moodle.states[(live, user)]["state"] == 1 and moodle.states[(live, user)]["overrideby"] == 2
    await lms.push_attendance(str(course), str(user), "ignored title", "ABSENT", {"activity_ref": str(live)})
    assert moodle.states[(live, user)]["state"] == 0
    form = sent(moodle, "core_completion_override_activity_completion_status")
    assert (form["userid"], form["cmid"], form["newstate"]) == (str(user), str(live), "0")


async def test_pushing_to_an_activity_without_completion_tracking_is_a_clear_error(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")
    untracked = moodle.add_activity(course, "Live workshop", tracking=0)
    with pytest.raises(MoodleError) as caught:
        await connector(moodle).push_attendance(str(course), str(user), "Live workshop", "PRESENT")
    assert caught.value.errorcode == "completionnotenabled" and str(untracked) in str(caught.value)
    with pytest.raises(MoodleError, match="has no activity named 'Missing'"):
        await connector(moodle).push_attendance(str(course), str(user), "Missing", "PRESENT")


async def test_moodle_exceptions_become_clear_errors(moodle):
    user = moodle.add_user("ada@example.com")
    course = moodle.add_course("FIRE-101")

    with pytest.raises(MoodleError) as caught:
        await connector(moodle, token="wrong").find_user("ada@example.com")
    assert caught.value.errorcode == "invalidtoken"
    assert str(caught.value) == ("Moodle refused core_user_get_users_by_field: Invalid token - token not found "
                                 "[invalidtoken]")

    with pytest.raises(MoodleError) as caught:
        await connector(moodle).completion(str(course), "999")          # no such user
    assert caught.value.errorcode == "invalidrecord"

    moodle.assignable_roles = {3}
    with pytest.raises(MoodleError, match=r"permission to assign this role \(5\)") as caught:
        await connector(moodle).enrol(str(course), str(user))
    assert caught.value.errorcode == "wsusercannotassign" and moodle.enrolments == {}

    moodle.service_functions = {"core_user_get_users_by_field"}
    with pytest.raises(MoodleError) as caught:
        await connector(moodle).completion(str(course), str(user))
    assert (caught.value.exception, caught.value.errorcode) == ("webservice_access_exception", "accessexception")

    moodle.can_override_completion = False
    moodle.service_functions = None
    live = moodle.add_activity(course, "Live")
    with pytest.raises(MoodleError, match="Override activity completion status") as caught:
        await connector(moodle).push_attendance(str(course), str(user), "Live", "PRESENT", {"activity_ref": live})
    assert caught.value.errorcode == "nopermissions"


async def test_a_wrong_site_address_or_a_dead_site_is_a_clear_error(moodle):
    wrong = MoodleConnector(MoodleConfig(url=moodle.url + "/not-moodle", token=TOKEN))
    with pytest.raises(MoodleError, match="HTTP 404; is PODIUM_MOODLE_URL the site's root"):
        await wrong.find_user("ada@example.com")
    with serve(FakeMoodle().app()) as gone:
        pass
    with pytest.raises(MoodleError) as caught:
        await MoodleConnector(MoodleConfig(url=gone, token=TOKEN, timeout_seconds=2)).find_user("ada@example.com")
    assert caught.value.errorcode == "unreachable"
    with pytest.raises(MoodleError, match="must be a numeric id"):
        await connector(moodle).enrol("12", "ada@example.com")


def test_settings_come_from_the_environment_and_a_half_configuration_is_refused():
    settings = Settings.from_env({"PODIUM_MOODLE_URL": "https://lms.example.org/", "PODIUM_MOODLE_TOKEN": "t0k",
                                  "PODIUM_MOODLE_STUDENT_ROLE_ID": "7"})
    [found] = lms_moodle.podium_lms_connectors(context=plugin_context(settings, "lms_moodle"))
    assert found.name == "moodle" and isinstance(found, LmsConnector)
    config = found.config
    assert (config.url, config.token, config.student_role_id, config.timeout_seconds) == (
        "https://lms.example.org", "t0k", 7, 20)
    assert "t0k" not in repr(config)
    unconfigured = plugin_context(Settings.from_env({}), "lms_moodle")
    assert lms_moodle.podium_lms_connectors(context=unconfigured) == []      # not configured: off
    for env, complaint in (({"PODIUM_MOODLE_URL": "https://lms.example.org"}, "PODIUM_MOODLE_TOKEN is required"),
                           ({"PODIUM_MOODLE_TOKEN": "t"}, "PODIUM_MOODLE_URL is required"),
                           ({"PODIUM_MOODLE_URL": "lms.example.org", "PODIUM_MOODLE_TOKEN": "t"}, "http"),
                           ({"PODIUM_MOODLE_URL": "https://x.org", "PODIUM_MOODLE_TOKEN": "t",
                             "PODIUM_MOODLE_TIMEOUT_SECONDS": "soon"}, "PODIUM_MOODLE_TIMEOUT_SECONDS")):
        with pytest.raises(PluginSettingsError, match=complaint) as caught:
            lms_moodle.podium_lms_connectors(context=plugin_context(Settings.from_env(env), "lms_moodle"))
        assert "t0k" not in str(caught.value)
