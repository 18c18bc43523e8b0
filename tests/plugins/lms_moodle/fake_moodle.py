"""A fake Moodle site speaking the web service REST protocol (POST /webservice/rest/server.php).

Form-encoded parameters with PHP-style array keys; answers and errors shaped like Moodle's own,
errors as HTTP 200 with {"exception", "errorcode", "message"}. Shapes follow Moodle's external
function definitions (enrol/manual/externallib.php, completion/classes/external.php, user, course).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ADMIN_ID = 2
TOKEN = "0123456789abcdef0123456789abcdef"


class MoodleException(Exception):
    def __init__(self, exception: str, errorcode: str, message: str) -> None:
        super().__init__(message)
        self.body = {"exception": exception, "errorcode": errorcode, "message": message}


def missing_record(table: str) -> MoodleException:
    return MoodleException("dml_missing_record_exception", "invalidrecord",
                           f"Can't find data record in database table {table}.")


def invalid_parameter(detail: str) -> MoodleException:
    return MoodleException("invalid_parameter_exception", "invalidparameter",
                           f"Invalid parameter value detected ({detail})")


def php_parse(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """`a[0][b]=1` -> {"a": [{"b": "1"}]}, as PHP builds $_POST."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, *rest = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key)
        node, name = root, head
        for part in rest:
            node = node.setdefault(name, {})
            name = part
        node[name] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _lists(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def _int(params: dict[str, Any], key: str) -> int:
    if key not in params:
        raise invalid_parameter(f"Missing required key in single structure: {key}")
    raw = params[key]
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise invalid_parameter(f"Invalid external api parameter: the value is \"{raw}\", the server was expecting \"int\" type")
    return int(raw)


@dataclass
class FakeMoodle:
    token: str = TOKEN
    service_functions: set[str] | None = None           # None: every implemented function is in the service
    can_override_completion: bool = True
    assignable_roles: set[int] = field(default_factory=lambda: {3, 4, 5})
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    courses: dict[int, dict[str, Any]] = field(default_factory=dict)
    modules: dict[int, dict[str, Any]] = field(default_factory=dict)       # cmid -> module
    enrolments: dict[tuple[int, int], int] = field(default_factory=dict)   # (course, user) -> role
    states: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)   # (cmid, user) -> state
    requests: list[list[tuple[str, str]]] = field(default_factory=list)

    # --- the site's data ------------------------------------------------------------------
    def add_user(self, email: str, firstname: str = "Ada", lastname: str = "Learner") -> int:
        uid = max(self.users, default=ADMIN_ID) + 1
        self.users[uid] = {"id": uid, "username": email.split("@")[0], "firstname": firstname, "lastname": lastname,
                           "fullname": f"{firstname} {lastname}", "email": email, "department": "",
                           "firstaccess": 0, "lastaccess": 0, "auth": "manual", "suspended": False,
                           "confirmed": True, "lang": "en", "theme": "", "timezone": "99", "mailformat": 1,
                           "description": "", "descriptionformat": 1,
                           "profileimageurlsmall": "", "profileimageurl": ""}
        return uid

    def add_course(self, shortname: str, fullname: str = "", completion_criteria: bool = True) -> int:
        cid = max(self.courses, default=1) + 1
        self.courses[cid] = {"id": cid, "shortname": shortname, "fullname": fullname or shortname,
                             "criteria": completion_criteria}
        return cid

    def add_activity(self, course_id: int, name: str, modname: str = "page", tracking: int = 2) -> int:
        cmid = max(self.modules, default=100) + 1
        self.modules[cmid] = {"id": cmid, "course": course_id, "name": name, "modname": modname,
                              "instance": cmid * 10, "completion": tracking}
        return cmid

    def complete(self, cmid: int, user_id: int, at: int, state: int = 1) -> None:
        self.states[(cmid, user_id)] = {"state": state, "timecompleted": at, "overrideby": None}

    # --- web service functions ------------------------------------------------------------
    def core_user_get_users_by_field(self, p: dict[str, Any]) -> Any:
        """`field IN (values)` in SQL: exact, so case-sensitive on PostgreSQL (as here); MySQL's collation is not."""
        if p.get("field") not in {"id", "idnumber", "username", "email"}:
            raise invalid_parameter("Missing required key in single structure: field")
        values = {str(v) for v in p.get("values") or []}
        return [u for u in self.users.values() if str(u[p["field"]]) in values]

    def core_user_get_users(self, p: dict[str, Any]) -> Any:
        """An email criterion is a case-insensitive SQL LIKE, so % and _ are wildcards; other keys are left out."""
        criteria = p.get("criteria")
        if not isinstance(criteria, list):
            raise invalid_parameter("Missing required key in single structure: criteria")
        found, warnings = list(self.users.values()), []
        for criterion in criteria:
            if criterion.get("key") != "email":
                warnings.append({"item": criterion.get("key"), "warningcode": "invalidfieldparameter",
                                 "message": "The search key is not supported by this fake"})
                continue
            like = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in criterion.get("value", ""))
            found = [u for u in found if re.fullmatch(like, u["email"], re.IGNORECASE)]
        return {"users": found, "warnings": warnings}

    def enrol_manual_enrol_users(self, p: dict[str, Any]) -> Any:
        enrolments = p.get("enrolments")
        if not isinstance(enrolments, list):
            raise invalid_parameter("Missing required key in single structure: enrolments")
        checked = []
        for item in enrolments:
            role, user, course = _int(item, "roleid"), _int(item, "userid"), _int(item, "courseid")
            if course not in self.courses:
                raise invalid_parameter("Context does not exist")
            if role not in self.assignable_roles:
                raise MoodleException("moodle_exception", "wsusercannotassign",
                                      f"You don't have the permission to assign this role ({role}) to this user "
                                      f"({user}) in this course({course}).")
            if user not in self.users:
                raise missing_record("user")
            checked.append(((course, user), role))
        self.enrolments.update(checked)          # all or nothing, like Moodle's delegated transaction
        return None

    def _course_and_user(self, p: dict[str, Any]) -> tuple[int, int]:
        course, user = _int(p, "courseid"), _int(p, "userid")
        if course not in self.courses:
            raise missing_record("course")
        if user not in self.users:
            raise missing_record("user")
        return course, user

    def _tracked(self, course: int) -> list[dict[str, Any]]:
        return [m for m in self.modules.values() if m["course"] == course and m["completion"]]

    def core_completion_get_activities_completion_status(self, p: dict[str, Any]) -> Any:
        course, user = self._course_and_user(p)
        statuses = []
        for module in self._tracked(course):
            state = self.states.get((module["id"], user), {"state": 0, "timecompleted": 0, "overrideby": None})
            statuses.append({"cmid": module["id"], "modname": module["modname"], "instance": module["instance"],
                             "state": state["state"], "timecompleted": state["timecompleted"],
                             "tracking": module["completion"], "overrideby": state["overrideby"],
                             "valueused": False, "hascompletion": True, "isautomatic": module["completion"] == 2,
                             "istrackeduser": True, "uservisible": True, "details": []})
        return {"statuses": statuses, "warnings": []}

    def core_completion_get_course_completion_status(self, p: dict[str, Any]) -> Any:
        course, user = self._course_and_user(p)
        if (course, user) not in self.enrolments:
            raise MoodleException("moodle_exception", "usernotenroled", "User is not enrolled in this course")
        if not self.courses[course]["criteria"]:
            raise MoodleException("moodle_exception", "nocriteriaset", "No criteria set for this course")
        rows = []
        for module in self._tracked(course):
            state = self.states.get((module["id"], user), {"state": 0, "timecompleted": None})
            done = state["state"] in (1, 2)
            rows.append({"type": 4, "title": f"Activity completion: {module['name']}",
                         "status": "Yes" if done else "No", "complete": done,
                         "timecompleted": state["timecompleted"] if done else None,
                         "details": {"type": "Activity completion", "criteria": module["name"],
                                     "requirement": "Marking yourself complete", "status": ""}})
        return {"completionstatus": {"completed": bool(rows) and all(r["complete"] for r in rows),
                                     "aggregation": 1, "completions": rows}, "warnings": []}

    def core_completion_override_activity_completion_status(self, p: dict[str, Any]) -> Any:
        user, cmid, newstate = _int(p, "userid"), _int(p, "cmid"), _int(p, "newstate")
        module = self.modules.get(cmid)
        if module is None:
            raise missing_record("course_modules")
        if not self.can_override_completion:
            raise MoodleException("required_capability_exception", "nopermissions",
                                  "Sorry, but you do not currently have permissions to do that "
                                  "(Override activity completion status).")
        if module["completion"]:
            self.states[(cmid, user)] = {"state": newstate, "timecompleted": int(time.time()), "overrideby": ADMIN_ID}
        state = self.states.get((cmid, user), {"state": 0, "timecompleted": 0, "overrideby": None})
        return {"cmid": cmid, "userid": user, "state": state["state"], "timecompleted": state["timecompleted"],
                "overrideby": state["overrideby"], "tracking": module["completion"]}

    def core_course_get_courses_by_field(self, p: dict[str, Any]) -> Any:
        field_name, value = p.get("field", ""), p.get("value", "")
        found = [c for c in self.courses.values() if field_name == "shortname" and c["shortname"] == value
                 or field_name == "id" and str(c["id"]) == value]
        return {"courses": [{"id": c["id"], "fullname": c["fullname"], "displayname": c["fullname"],
                             "shortname": c["shortname"], "categoryid": 1, "visible": 1, "enablecompletion": 1}
                            for c in found], "warnings": []}

    def core_course_get_contents(self, p: dict[str, Any]) -> Any:
        course = _int(p, "courseid")
        if course not in self.courses:
            raise missing_record("course")
        modules = [{"id": m["id"], "url": f"https://moodle.example/mod/{m['modname']}/view.php?id={m['id']}",
                    "name": m["name"], "instance": m["instance"], "visible": 1, "uservisible": True,
                    "modname": m["modname"], "modplural": m["modname"] + "s", "indent": 0,
                    "completion": m["completion"], "noviewlink": False}
                   for m in self.modules.values() if m["course"] == course]
        return [{"id": 1, "name": "General", "visible": 1, "summary": "", "summaryformat": 1, "section": 0,
                 "hiddenbynumsections": 0, "uservisible": True, "modules": modules}]

    def core_webservice_get_site_info(self, p: dict[str, Any]) -> Any:
        offered = self.service_functions if self.service_functions is not None else set(self.IMPLEMENTED)
        return {"sitename": "Fake Moodle", "username": "podium-service", "firstname": "Podium", "lastname": "Service",
                "fullname": "Podium Service", "lang": "en", "userid": 2, "siteurl": "https://moodle.example",
                "release": "4.3 (Build: 20231009)", "version": "2023100900",
                "functions": [{"name": name, "version": "2023100900"} for name in sorted(offered | {
                    "core_webservice_get_site_info"})]}

    IMPLEMENTED = ("core_webservice_get_site_info", "core_user_get_users_by_field", "core_user_get_users", "enrol_manual_enrol_users",
                   "core_completion_get_activities_completion_status", "core_completion_get_course_completion_status",
                   "core_completion_override_activity_completion_status", "core_course_get_courses_by_field",
                   "core_course_get_contents")

    # --- the endpoint ---------------------------------------------------------------------
    async def server(self, request: Request) -> Response:
        pairs = list(request.query_params.multi_items())
        if request.method == "POST":
            pairs += parse_qsl((await request.body()).decode(), keep_blank_values=True)
        self.requests.append(pairs)
        params = php_parse(pairs)
        if params.pop("moodlewsrestformat", None) != "json":
            return Response('<?xml version="1.0" encoding="UTF-8" ?>\n<EXCEPTION class="moodle_exception">'
                            "<MESSAGE>Only XML here</MESSAGE></EXCEPTION>", media_type="application/xml")
        try:
            if params.pop("wstoken", None) != self.token:
                raise MoodleException("moodle_exception", "invalidtoken", "Invalid token - token not found")
            function = params.pop("wsfunction", None)
            if function not in self.IMPLEMENTED:
                raise missing_record("external_functions")
            if self.service_functions is not None and function not in self.service_functions:
                raise MoodleException("webservice_access_exception", "accessexception", "Access control exception")
            return JSONResponse(getattr(self, function)(params))
        except MoodleException as exc:
            return JSONResponse(exc.body)          # HTTP 200, as Moodle does

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/webservice/rest/server.php", self.server, methods=["GET", "POST"])])
