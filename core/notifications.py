"""Who is told what, for each domain event; and how a planned notification is rendered.

Planning happens when the outbox fans an event out (recipients come from the database then); the
plan is plain JSON stored on each channel's outbox message. Rendering (Jinja2 templates, the `.ics`)
happens at delivery, so a broken override template fails only its own messages.
"""
from __future__ import annotations

import functools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .calendar_invites import part_uid, series_uid, session_invite, session_uid
from .ids import from_global_id
from .instants import utc_now
from .models import (
    Booking, BookingRole, Course, Enrollment, EnrollmentStatus, EvaluationForm, EvaluationRequest, Person, Resource, SeriesOccurrence, Session,
    SessionPart, SessionSeries, SessionStatus,
)
from .providers import Attachment, Notification
from .services.evaluations import evaluation_token, evaluation_url
from .services.series_rules import occurrence_rule_sql
from .settings import Settings

BUNDLED_TEMPLATES = Path(__file__).with_name("templates")
HOST_LINK = "meeting_join_url"
"""The facts' key of the meeting's own link: for instructors' messages only (learners get their personal one)."""


# --- planning ------------------------------------------------------------------------------------

def _when(starts_at: datetime, ends_at: datetime, tz: str) -> str:
    start, end = starts_at.astimezone(ZoneInfo(tz)), ends_at.astimezone(ZoneInfo(tz))
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}–{end:%H:%M} ({tz})"


def session_facts(session: Session, course: Course, starts_at: datetime, ends_at: datetime, sequence: int,
                  settings: Settings, parts: list[dict[str, Any]] | None = None,
                  series: dict[str, Any] | None = None) -> dict[str, Any]:
    """`parts`: the session's parts as events carry them (`{part, startsAt, endsAt}`); None: one part.
    `series`: its series' facts (`series_facts`) when it is an occurrence of one."""
    parts = parts or [{"part": 1, "startsAt": starts_at.isoformat(), "endsAt": ends_at.isoformat()}]
    return {"session_id": session.id, "title": session.title, "course_title": course.title, "course_code": course.code,
            "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(), "timezone": session.timezone,
            "delivery_mode": session.delivery_mode.value, "join_url": None, HOST_LINK: session.meeting_join_url,
            "sequence": sequence, "uid": session_uid(session.id, settings.organizer_email),
            "parts": [{"part": p["part"], "uid": part_uid(session.id, p["part"], settings.organizer_email),
                       "starts_at": p["startsAt"], "ends_at": p["endsAt"]} for p in parts],
            "series": series}


async def series_facts(db: AsyncSession, session_id: int, settings: Settings) -> dict[str, Any] | None:
    """What invites say of the session's series: its UID, the rule that makes this occurrence, and which
    occurrence of how many."""
    row = (await db.execute(select(SessionSeries.id, occurrence_rule_sql().label("rule"), SessionSeries.occurrences,
                                   SeriesOccurrence.number)
                            .join(SeriesOccurrence, SeriesOccurrence.series_id == SessionSeries.id)
                            .where(SeriesOccurrence.session_id == session_id))).first()
    return None if row is None else {"uid": series_uid(row.id, settings.organizer_email), "rule": row.rule,
                                     "occurrence": row.number, "count": row.occurrences}


async def current_parts(db: AsyncSession, session_id: int) -> list[dict[str, Any]]:
    """A session's parts now, shaped as events carry them."""
    return [{"part": p.position, "startsAt": p.starts_at.isoformat(), "endsAt": p.ends_at.isoformat()}
            for p in (await db.scalars(select(SessionPart).where(SessionPart.session_id == session_id)
                                       .order_by(SessionPart.position))).all()]


async def current_facts(db: AsyncSession, session: Session, course: Course, settings: Settings) -> dict[str, Any]:
    """`session_facts` of the session as it is now, with its parts."""
    return session_facts(session, course, session.starts_at, session.ends_at, session.sequence, settings,
                         await current_parts(db, session.id), await series_facts(db, session.id, settings))


def _when_parts(parts: list[dict[str, Any]], tz: str) -> str:
    return "; ".join(_when(datetime.fromisoformat(p["starts_at"]), datetime.fromisoformat(p["ends_at"]), tz)
                     for p in parts)


def plan_notification(kind: str, to: str, name: str, tz: str, facts: dict[str, Any], settings: Settings,
                      invite: str | None = None, phone: str | None = None, **extra: Any) -> dict[str, Any]:
    """One message; it carries a join link only when `extra` gives one (`join_url`): the meeting's own for an
    instructor (`facts[HOST_LINK]`), a seated learner's personal one, none for anyone else."""
    starts_at, ends_at = datetime.fromisoformat(facts["starts_at"]), datetime.fromisoformat(facts["ends_at"])
    parts = facts.get("parts") or [{"starts_at": facts["starts_at"], "ends_at": facts["ends_at"]}]
    context = {**facts, **extra, "recipient_name": name, "when": _when_parts(parts, facts["timezone"]),
               "when_local": _when_parts(parts, tz) if tz != facts["timezone"] else None}
    context.pop(HOST_LINK, None)
    planned: dict[str, Any] = {"kind": kind, "to": to, "name": name, "phone": phone, "context": context, "invite": None}
    if invite:
        planned["invite"] = {"method": invite, "uid": facts["uid"], "sequence": facts["sequence"],
                             "starts_at": facts["starts_at"], "ends_at": facts["ends_at"],
                             "timezone": facts["timezone"], "summary": facts["title"],
                             "location": context["join_url"], "organizer": settings.organizer_email,
                             "attendee": to, "attendee_name": name, "parts": facts.get("parts"),
                             "series": facts.get("series")}
    return planned


async def session_with_course(db: AsyncSession, session_id: int) -> tuple[Session, Course] | None:
    row = (await db.execute(select(Session, Course).join(Course, Course.id == Session.course_id)
                            .where(Session.id == session_id))).first()
    return (row.Session, row.Course) if row else None


async def session_instructors(db: AsyncSession, session_id: int) -> list[Resource]:
    """Each once (a session of several parts books them once per part), the lead first."""
    found = (await db.scalars(select(Resource).join(Booking, Booking.resource_id == Resource.id).where(
        Booking.session_id == session_id, Booking.role.in_([BookingRole.LEAD_INSTRUCTOR, BookingRole.CO_FACILITATOR]),
        Resource.email.is_not(None)).order_by(Booking.id))).all()
    return list({r.id: r for r in found}.values())


async def _learners(db: AsyncSession, session_id: int,
                    statuses: list[EnrollmentStatus]) -> list[tuple[Person, EnrollmentStatus, str | None]]:
    """Learners of the session with their status and their own join link (only a seat has one)."""
    return [(p, s, link if s is EnrollmentStatus.ENROLLED else None) for p, s, link in (await db.execute(
        select(Person, Enrollment.status, Enrollment.meeting_join_url).join(
        Enrollment, Enrollment.learner_id == Person.id).where(
        Enrollment.session_id == session_id, Enrollment.status.in_(statuses)).order_by(Enrollment.id))).all()]


def _enrollment_kind(payload: dict[str, Any]) -> str | None:
    after = payload["after"]["status"]
    if payload.get("reason") == "promoted":
        return "enrollment.promoted"
    return {"ENROLLED": "enrollment.confirmed", "WAITLISTED": "enrollment.waitlisted",
            "CANCELLED": "enrollment.cancelled"}.get(after)


async def notifications_for_event(db: AsyncSession, event: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """The notifications one committed event causes, one per recipient (an empty list for most events)."""
    payload = event["payload"]
    if event["type"] == "enrollment.changed":
        kind = _enrollment_kind(payload)
        session_ref, learner_ref = from_global_id(payload["session"]), from_global_id(payload["learner"])
        if kind is None or session_ref is None or learner_ref is None:
            return []
        found, learner = await session_with_course(db, session_ref[1]), await db.get(Person, learner_ref[1])
        if found is None or learner is None:
            return []
        session, course = found
        facts = await current_facts(db, session, course, settings)
        invite = None
        if kind in ("enrollment.confirmed", "enrollment.promoted") and session.status is SessionStatus.SCHEDULED:
            invite = "REQUEST"
        elif kind == "enrollment.cancelled" and payload["before"]["status"] == "ENROLLED":
            invite = "CANCEL"
        own_link = None  # a seat's own link, when it has one already (a hand-entered meeting link)
        if kind in ("enrollment.confirmed", "enrollment.promoted"):
            own_link = await db.scalar(select(Enrollment.meeting_join_url).where(
                Enrollment.session_id == session.id, Enrollment.learner_id == learner.id,
                Enrollment.status == EnrollmentStatus.ENROLLED))
        return [plan_notification(kind, learner.email, learner.name, learner.timezone, facts, settings, invite,
                                  phone=learner.phone, waitlist_position=payload["after"].get("waitlistPosition"), reason=payload.get("reason"),
                                  join_url=own_link)]

    if event["type"] in ("session.meeting_replaced", "session.meeting_changed"):
        return await _meeting_notices(db, event, settings)
    if event["type"] in ("evaluation.requested", "evaluation.reminded"):
        return await _evaluation_requests(db, event, settings)
    if event["type"] not in ("session.scheduled", "session.rescheduled", "session.cancelled"):
        return []
    session_ref = from_global_id(payload["session"])
    found = await session_with_course(db, session_ref[1]) if session_ref else None
    if found is None:
        return []
    session, course = found
    facts = session_facts(session, course, datetime.fromisoformat(payload["startsAt"]),
                          datetime.fromisoformat(payload["endsAt"]), payload["sequence"], settings,
                          payload.get("parts"), await series_facts(db, session.id, settings))
    instructors = await session_instructors(db, session.id)
    planned: list[dict[str, Any]] = []
    if event["type"] == "session.scheduled":
        return [plan_notification("session.instructor_assigned", r.email, r.name, r.timezone, facts, settings,
                                  "REQUEST", join_url=facts[HOST_LINK]) for r in instructors]
    kind = event["type"]
    before = payload.get("before") or {}
    extra = {"reason": payload.get("reason"),
             "previous_when": _when(datetime.fromisoformat(before["startsAt"]), datetime.fromisoformat(before["endsAt"]),
                                    session.timezone) if before.get("startsAt") else None}
    method = "CANCEL" if kind == "session.cancelled" else "REQUEST"
    for person, status, link in await _learners(db, session.id, [EnrollmentStatus.ENROLLED,
                                                                 EnrollmentStatus.WAITLISTED]):
        invite = method if status is EnrollmentStatus.ENROLLED else None
        planned.append(plan_notification(kind, person.email, person.name, person.timezone, facts, settings, invite,
                                         phone=person.phone, enrollment_status=status.value, join_url=link, **extra))
    for resource in instructors:
        planned.append(plan_notification(kind, resource.email, resource.name, resource.timezone, facts, settings,
                                         method, enrollment_status=None, join_url=facts[HOST_LINK], **extra))
    for resource in await _unassigned(db, payload, instructors):
        planned.append(plan_notification("session.instructor_unassigned", resource.email, resource.name,
                                         resource.timezone, facts, settings, "CANCEL", **extra))
    seen: set[str] = set()
    return [p for p in planned if not (p["to"] in seen or seen.add(p["to"]))]


async def _unassigned(db: AsyncSession, payload: dict[str, Any], instructors: list[Resource]) -> list[Resource]:
    """Instructors a re-staffed session's event names as taken off (`unassigned`), unless teaching it still."""
    teaching = {r.id for r in instructors}
    ids = [ref[1] for ref in (from_global_id(g) for g in payload.get("unassigned") or []) if ref]
    if not ids:
        return []
    found = (await db.scalars(select(Resource).where(Resource.id.in_(ids), Resource.email.is_not(None))
                              .order_by(Resource.id))).all()
    return [r for r in found if r.id not in teaching]


async def _meeting_notices(db: AsyncSession, event: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """A meeting the provider lost was made anew: every seated learner gets their new link. A meeting that
    FAILED for good: the session's instructors are told, since no one can join until someone acts."""
    payload = event["payload"]
    failed = event["type"] == "session.meeting_changed" and (payload.get("after") or {}).get("status") == "FAILED"
    if event["type"] == "session.meeting_changed" and not failed:
        return []
    session_ref = from_global_id(payload["session"])
    found = await session_with_course(db, session_ref[1]) if session_ref else None
    if found is None or found[0].status is not SessionStatus.SCHEDULED:
        return []
    session, course = found
    facts = session_facts(session, course, session.starts_at, session.ends_at, session.sequence, settings)
    if failed:
        return [plan_notification("session.meeting_failed", r.email, r.name, r.timezone, facts, settings,
                                  provider=payload.get("provider"), error=payload["after"].get("error"))
                for r in await session_instructors(db, session.id)]
    return [plan_notification("session.meeting_replaced", person.email, person.name, person.timezone, facts, settings,
                              phone=person.phone, join_url=link)
            for person, _, link in await _learners(db, session.id, [EnrollmentStatus.ENROLLED])] + [
            plan_notification("session.meeting_replaced", r.email, r.name, r.timezone, facts, settings,
                              join_url=facts[HOST_LINK]) for r in await session_instructors(db, session.id)]


async def _evaluation_requests(db: AsyncSession, event: dict[str, Any], settings: Settings) -> list[dict[str, Any]]:
    """Each learner asked or reminded (and not yet answered) gets their own link, in a notification of the
    event's kind: the token is derived from the request's nonce here, at fan-out, and is nowhere stored but
    in the message (a reminder carries the very link the request did)."""
    payload = event["payload"]
    session_ref = from_global_id(payload["session"])
    found = await session_with_course(db, session_ref[1]) if session_ref else None
    enrollment_ids = [ref[1] for ref in map(from_global_id, payload.get("enrollments") or []) if ref]
    if found is None or not enrollment_ids:
        return []
    session, course = found
    facts = await current_facts(db, session, course, settings)
    rows = (await db.execute(
        select(Person, EvaluationRequest.nonce, EvaluationForm.title)
        .join(Enrollment, Enrollment.learner_id == Person.id)
        .join(EvaluationRequest, EvaluationRequest.enrollment_id == Enrollment.id)
        .join(EvaluationForm, EvaluationForm.course_id == session.course_id)
        .where(EvaluationRequest.session_id == session.id, EvaluationRequest.enrollment_id.in_(enrollment_ids),
               EvaluationRequest.responded_at.is_(None)).order_by(Enrollment.id))).all()
    planned = []
    for person, nonce, form_title in rows:
        token = evaluation_token(settings.secret_key, nonce)
        planned.append(plan_notification(event["type"], person.email, person.name, person.timezone, facts,
                                         settings, phone=person.phone, form_title=form_title, evaluation_token=token,
                                         evaluation_url=evaluation_url(settings.evaluation_url, settings.public_url,
                                                                       token)))
    return planned


def reminder_for_event(event: dict[str, Any], settings: Settings) -> dict[str, Any] | None:
    """A scheduled or rescheduled session gets one reminder message, due `reminder_hours` before it starts."""
    if event["type"] not in ("session.scheduled", "session.rescheduled") or settings.reminder_hours <= 0:
        return None
    payload = event["payload"]
    session_ref = from_global_id(payload["session"])
    due = datetime.fromisoformat(payload["startsAt"]) - timedelta(hours=settings.reminder_hours)
    if session_ref is None or due <= utc_now():
        return None  # too late to remind: the confirmation said when
    return {"deliver_after": due, "payload": {"session_id": session_ref[1], "sequence": payload["sequence"]}}


async def reminder_notifications(db: AsyncSession, reminder: dict[str, Any], settings: Settings) -> list[dict[str, Any]] | None:
    """The reminders to send now; None when the session was moved or cancelled since (a newer reminder exists)."""
    found = await session_with_course(db, reminder["session_id"])
    if found is None:
        return None
    session, course = found
    if session.status is not SessionStatus.SCHEDULED or session.sequence != reminder["sequence"]:
        return None
    facts = await current_facts(db, session, course, settings)
    return [plan_notification("session.reminder", person.email, person.name, person.timezone, facts, settings,
                              phone=person.phone, join_url=link)
            for person, _, link in await _learners(db, session.id, [EnrollmentStatus.ENROLLED])]


# --- rendering -----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def template_environment(templates_dir: str | None) -> jinja2.Environment:
    """Templates from `PODIUM_TEMPLATES_DIR` first, then the bundled ones; HTML is autoescaped, text is not."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(templates_dir)] if templates_dir else []
    loaders.append(jinja2.FileSystemLoader(BUNDLED_TEMPLATES))
    return jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                              autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
                              keep_trailing_newline=True)


def render(planned: dict[str, Any], settings: Settings, idempotency_key: str) -> Notification:
    """`<kind>.txt` (first line: the subject) and `<kind>.html`, plus the `.ics` when the plan has an invite."""
    env = template_environment(settings.templates_dir)
    context = {**planned["context"], "kind": planned["kind"]}
    subject, _, text = env.get_template(f"{planned['kind']}.txt").render(context).lstrip().partition("\n")
    html = env.get_template(f"{planned['kind']}.html").render(context)
    attachments: tuple[Attachment, ...] = ()
    if planned.get("invite"):
        method = planned["invite"]["method"]
        attachments = (Attachment("invite.ics", f"text/calendar; method={method}", session_invite(planned["invite"])),)
    return Notification(kind=planned["kind"], to=planned["to"], name=planned["name"], phone=planned.get("phone"),
                        subject=" ".join(subject.split()), text=text.lstrip("\n"), html=html,
                        idempotency_key=idempotency_key, attachments=attachments)


def notification_from_message(message: Any, settings: Settings) -> Notification:
    return render(message.payload, settings, message.idempotency_key)

