"""The LMS connector the core calls: Moodle users, enrolments and completion through web services.

Refs are Moodle ids as text: a user ref is the user id; a course ref is the course id or its short
name; an activity ref is a course module id (the `id=` of /mod/<type>/view.php?id=…).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from podium.plugin import ATTENDED_STATUSES, CompletionReport

from .client import MoodleClient, MoodleError
from .config import MoodleConfig

FUNCTIONS = ("core_user_get_users_by_field", "core_user_get_users", "enrol_manual_enrol_users",
             "core_completion_get_activities_completion_status", "core_completion_override_activity_completion_status",
             "core_course_get_courses_by_field", "core_course_get_contents")
"""Every web service function the connector calls: the external service must offer them all."""
COMPLETE_STATES = {1, 2}          # COMPLETION_COMPLETE, COMPLETION_COMPLETE_PASS (3 is COMPLETE_FAIL)
# What completes a live stage is Podium's rule (journeys.ATTENDED); "COMPLETED" is a plain yes.
ATTENDED = ATTENDED_STATUSES | {"COMPLETED"}


def _moment(timestamp: Any) -> datetime:
    """Moodle times are Unix seconds; 0 means "not recorded"."""
    return datetime.fromtimestamp(int(timestamp), timezone.utc) if timestamp else datetime.now(timezone.utc)


def _whole_id(ref: str, what: str, wsfunction: str) -> int:
    if not str(ref).strip().isdigit():
        raise MoodleError(wsfunction, "invalidref", f"a Moodle {what} ref must be a numeric id, not {ref!r}")
    return int(ref)


class MoodleConnector:
    name = "moodle"

    def __init__(self, config: MoodleConfig, client: MoodleClient | None = None) -> None:
        self.config = config
        self.client = client or MoodleClient(config.url, config.token, timeout=config.timeout_seconds)
        self._course_ids: dict[str, int] = {}

    async def check(self) -> list[str]:
        """`podium plugins --check`: the token works (`core_webservice_get_site_info`), and the service has every
        function Podium calls; raises naming those it lacks."""
        info = await self.client.call("core_webservice_get_site_info")
        offered = {str(f.get("name")) for f in info.get("functions", [])}
        missing = sorted(set(FUNCTIONS) - offered)
        said = [f"site {info.get('sitename', '?')!r} (Moodle {info.get('release', '?')}) as {info.get('username', '?')}"]
        if missing:
            raise MoodleError("core_webservice_get_site_info", "missingfunctions",
                              f"{said[0]}: the service lacks {', '.join(missing)}; add them to the external service")
        return said + [f"all {len(FUNCTIONS)} web service functions Podium calls are in the service"]

    async def find_user(self, email: str) -> str | None:
        """The exact address first; then any case of it, since Moodle on PostgreSQL compares emails exactly."""
        email = email.strip()
        users = await self.client.call("core_user_get_users_by_field", field="email", values=[email])
        if not users:
            found = await self.client.call("core_user_get_users", criteria=[{"key": "email", "value": email}])
            # A case-insensitive LIKE, where _ and % are wildcards: keep only the same address.
            users = [u for u in found.get("users", []) if str(u.get("email", "")).casefold() == email.casefold()]
        return str(users[0]["id"]) if users else None

    async def enrol(self, course_ref: str, user_ref: str) -> None:
        """Manual enrolment with the student role; enrolling someone already enrolled changes nothing."""
        course_id = await self._course_id(course_ref)
        user_id = _whole_id(user_ref, "user", "enrol_manual_enrol_users")
        await self.client.call("enrol_manual_enrol_users", enrolments=[
            {"roleid": self.config.student_role_id, "userid": user_id, "courseid": course_id}])

    async def completion(self, course_ref: str, user_ref: str) -> CompletionReport:
        course_id = await self._course_id(course_ref)
        user_id = _whole_id(user_ref, "user", "core_completion_get_activities_completion_status")
        activities = await self.client.call("core_completion_get_activities_completion_status",
                                            courseid=course_id, userid=user_id)
        done = {str(a["cmid"]): _moment(a.get("timecompleted")) if a.get("state") in COMPLETE_STATES else None
                for a in activities.get("statuses", [])}
        # Course completion is not asked for: Podium decides completion from the program's stages, so one
        # call per learner is all a sync costs.
        return CompletionReport(activities=done)

    async def push_attendance(self, course_ref: str, user_ref: str, session_title: str, status: str,
                              details: dict[str, Any] | None = None) -> None:
        """Attendance becomes the completion of the activity that stands for the live session.

        `details["activity_ref"]` names that activity; without it, the course's activity named like the
        session is used. Attendance that completes a live stage in Podium (PRESENT, LATE; or COMPLETED)
        marks it complete; anything else, LEFT_EARLY included, incomplete.
        """
        wsfunction = "core_completion_override_activity_completion_status"
        course_id = await self._course_id(course_ref)
        user_id = _whole_id(user_ref, "user", wsfunction)
        activity_ref = (details or {}).get("activity_ref")
        cmid = (_whole_id(activity_ref, "activity", wsfunction) if activity_ref
                else await self._activity_named(course_id, session_title))
        result = await self.client.call(wsfunction, userid=user_id, cmid=cmid,
                                        newstate=1 if status.upper() in ATTENDED else 0)
        if not result.get("tracking"):
            raise MoodleError(wsfunction, "completionnotenabled",
                              f"activity {cmid} has completion tracking off, so Moodle kept nothing; turn on "
                              "activity completion for it")

    async def activities(self, course_ref: str) -> dict[str, str]:
        """The course's activities, course module id -> name: what createProgram checks stage refs against."""
        sections = await self.client.call("core_course_get_contents", courseid=await self._course_id(course_ref))
        return {str(module["id"]): str(module.get("name", "")) for section in sections
                for module in section.get("modules", [])}

    async def _course_id(self, course_ref: str) -> int:
        """A numeric ref is the course id; anything else is looked up once as the course's short name."""
        ref = str(course_ref).strip()
        if ref.isdigit():
            return int(ref)
        if ref not in self._course_ids:
            found = await self.client.call("core_course_get_courses_by_field", field="shortname", value=ref)
            courses = found.get("courses", [])
            if not courses:
                raise MoodleError("core_course_get_courses_by_field", "coursenotfound",
                                  f"no Moodle course has the short name {ref!r}")
            self._course_ids[ref] = int(courses[0]["id"])
        return self._course_ids[ref]

    async def _activity_named(self, course_id: int, title: str) -> int:
        sections = await self.client.call("core_course_get_contents", courseid=course_id)
        wanted = title.strip().casefold()
        for section in sections:
            for module in section.get("modules", []):
                if str(module.get("name", "")).strip().casefold() == wanted:
                    return int(module["id"])
        raise MoodleError("core_course_get_contents", "activitynotfound",
                          f"course {course_id} has no activity named {title!r}; give the live stage an activity ref")
