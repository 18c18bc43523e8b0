"""A session's online meeting, for any conferencing provider: PENDING, then READY or FAILED, CANCELLED.

Three parts: planning (inside the scheduling or enrolment transaction: PENDING at once, work for the
outbox); services (inside `changing(db)`, one audit entry each); delivery (run by the outbox after
commit, talking to the provider outside any transaction, safe to repeat).
"""
from __future__ import annotations

import logging
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..audit import Actor, record_change
from ..db import changing
from ..errors import DomainError, ErrorCode
from ..events import emit
from ..ids import to_global_id
from ..instants import utc_now
from ..models import (
    DeliveryMode, Enrollment, EnrollmentStatus, MeetingStatus, OutboxMessage, Person, Session, SessionStatus,
)
from ..outbox import PLUGIN_CALL_KIND, Dispatcher, QueuedMessage, call_plugin, plugin_call
from ..providers import ConferencingProvider, MeetingGone, MeetingSpec, NoParticipantsReport
from .attendance_import import ImportResult, import_attendance
from .conferencing import CONFERENCED, MANUAL, active_provider
from .locks import lock_session, session_ordering_key
from .records import get_or_404


SYNC = "meeting.sync"                  # make the provider's meeting match the session
REGISTRANTS = "meeting.registrants"    # register enrolled learners
UNREGISTER = "meeting.unregister"      # take a cancelled learner's registration back
ATTENDANCE = "meeting.attendance"      # turn the participants report into attendance
# Attendance imports carry no ordering key: one waiting for its time would hold back the session's other calls.
log = logging.getLogger("podium.meetings")

MAX_LINK = 2000
MEETING_FIELDS = ("meeting_provider", "meeting_status", "meeting_join_url", "meeting_external_id", "meeting_error")


def needs_meeting(session: Session) -> bool:
    """VIRTUAL and HYBRID sessions have a meeting until cancelled (a completed one keeps it for the report)."""
    return session.delivery_mode in CONFERENCED and session.status is not SessionStatus.CANCELLED


def meeting_snapshot(session: Session) -> dict[str, Any]:
    return {f: (v.value if isinstance(v, MeetingStatus) else v) for f in MEETING_FIELDS
            for v in [getattr(session, f)]}


def meeting_spec(session: Session) -> MeetingSpec:
    return MeetingSpec(session_id=to_global_id("Session", session.id), title=session.title,
                       starts_at=session.starts_at, ends_at=session.ends_at, timezone=session.timezone,
                       idempotency_key=f"podium-session-{session.id}")


# --- links entered by hand ------------------------------------------------------------------

def manual_link(url: str | None) -> str | None:
    """A join link entered by hand: an http or https address with a host, at most 2,000 characters, no
    spaces or control characters (anything else, `javascript:` above all, could harm whoever clicks it).
    Blank is no link."""
    url = (url or "").strip()
    if not url:
        return None
    refused = DomainError(ErrorCode.INVALID, f"joinUrl must be an http or https address of at most {MAX_LINK} "
                          "characters.", "joinUrl")
    if len(url) > MAX_LINK or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url):
        raise refused
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise refused from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise refused
    return url


async def set_manual_link(db: AsyncSession, session: Session, url: str | None) -> None:
    """Give a VIRTUAL or HYBRID session a hand-entered link (provider `manual`, READY), or take it away
    (None). Seated learners' own links follow, so they see it wherever a seat shows its link; a meeting a
    conferencing plugin makes is the plugin's (unless it FAILED or was CANCELLED)."""
    if session.delivery_mode not in CONFERENCED:
        raise DomainError(ErrorCode.INVALID, "Only virtual and hybrid sessions have a join link.", "joinUrl")
    if session.meeting_provider not in (None, MANUAL) \
            and session.meeting_status not in (MeetingStatus.FAILED, MeetingStatus.CANCELLED):
        raise DomainError(ErrorCode.INVALID, f"This session's meeting is made by {session.meeting_provider}; "
                          "its link cannot be set by hand.", "joinUrl")
    if url is None:
        session.meeting_provider = session.meeting_status = session.meeting_join_url = None
    else:
        session.meeting_provider, session.meeting_status, session.meeting_join_url = MANUAL, MeetingStatus.READY, url
    session.meeting_external_id = session.meeting_error = None
    await db.execute(update(Enrollment).where(Enrollment.session_id == session.id,
                                              Enrollment.status == EnrollmentStatus.ENROLLED)
                     .values(meeting_join_url=url).execution_options(synchronize_session=False))


# --- planning (inside the change's transaction) ------------------------------------------

async def plan_new_meeting(db: AsyncSession, session: Session, provider: str | None, join_url: str | None) -> None:
    """A new session's meeting, by the provider chosen for it (`conferencing.session_conferencing`): a pasted
    link READY at once; `manual` without one waits for staff to paste it; a plugin's PENDING until it answers."""
    if join_url is not None:
        await set_manual_link(db, session, join_url)
    elif provider is not None and needs_meeting(session):
        session.meeting_provider = provider
    await plan_meeting(db, session)


async def plan_meeting(db: AsyncSession, session: Session) -> None:
    """On schedule, reschedule and cancel: PENDING at once for a new meeting, the provider asked after commit.

    Call before the change's audit entry, so the entry shows the meeting fields. A hand-entered link
    asks no plugin: it ends with its session.
    """
    if session.meeting_provider == MANUAL:
        if not needs_meeting(session) and session.meeting_status is not None:
            session.meeting_status, session.meeting_join_url = MeetingStatus.CANCELLED, None
        return
    provider = session.meeting_provider or active_provider(db)
    if provider in (None, MANUAL) or (session.meeting_status is None and not needs_meeting(session)):
        return
    if needs_meeting(session) and session.meeting_status in (None, MeetingStatus.FAILED, MeetingStatus.CANCELLED):
        session.meeting_provider, session.meeting_status, session.meeting_error = provider, MeetingStatus.PENDING, None
    await call_plugin(db, provider=provider, topic=SYNC, payload={"session_id": session.id},
                      idempotency_key=f"{SYNC}:{session.id}:{session.sequence}",
                      ordering_key=session_ordering_key(session.id))


def plan_registration(db: AsyncSession, session: Session, enrollment: Enrollment) -> None:
    """A learner took a seat: register them with the session's meeting after commit (only if it has one);
    a hand-entered link is theirs at once."""
    if session.meeting_provider == MANUAL:
        enrollment.meeting_join_url = session.meeting_join_url
        return
    plan_registrants(db, session)


def seat_join_link(session: Any) -> str | None:
    """The join link a learner taking a seat gets at once: the session's hand-entered one (`manual`)."""
    return session.meeting_join_url if session.meeting_provider == MANUAL else None


def plan_registrants(db: AsyncSession, session: Any) -> None:
    """After commit, register the session's enrolled learners with its provider's meeting (if it has one).
    `session` needs id, meeting_provider, delivery_mode and status (an ORM Session or a row)."""
    if session.meeting_provider == MANUAL:
        return
    provider = session.meeting_provider or active_provider(db)
    if provider not in (None, MANUAL) and needs_meeting(session):
        db.add(OutboxMessage(kind=PLUGIN_CALL_KIND, topic=REGISTRANTS, target=provider,
                             ordering_key=session_ordering_key(session.id),
                             payload={"session_id": session.id}, idempotency_key=f"{REGISTRANTS}:{uuid.uuid4()}"))


async def plan_unregistration(db: AsyncSession, session: Session, enrollment: Enrollment) -> None:
    """A learner gave up their seat: their join link goes now, their registrant after commit.

    Call before the change's audit entry, so the entry shows the link cleared.
    """
    registrant_id = enrollment.meeting_registrant_id
    enrollment.meeting_registrant_id = enrollment.meeting_join_url = None
    if registrant_id is None or session.meeting_provider is None:
        return
    email = await db.scalar(select(Person.email).where(Person.id == enrollment.learner_id))
    await _queue_unregistration(db, session.meeting_provider, session.id, enrollment.id, registrant_id, email)


async def _queue_unregistration(db: AsyncSession, provider: str, session_id: int, enrollment_id: int,
                                registrant_id: str, email: str) -> None:
    await call_plugin(db, provider=provider, topic=UNREGISTER,
                      payload={"session_id": session_id, "enrollment_id": enrollment_id,
                               "registrant_id": registrant_id, "email": email},
                      idempotency_key=f"{UNREGISTER}:{provider}:{registrant_id}:{uuid.uuid4()}",
                      ordering_key=session_ordering_key(session_id))


async def request_attendance_import(db: AsyncSession, provider: str, external_id: str, key: str) -> int | None:
    """The provider says the meeting ended (a webhook): fetch its report through the outbox. Returns the session."""
    session_id = await db.scalar(select(Session.id).where(Session.meeting_provider == provider,
                                                          Session.meeting_external_id == str(external_id)))
    if session_id is not None:
        await call_plugin(db, provider=provider, topic=ATTENDANCE, payload={"session_id": session_id},
                          idempotency_key=f"{ATTENDANCE}:{provider}:{key}")
    return session_id


# --- services ----------------------------------------------------------------------------

async def _change_meeting(db: AsyncSession, actor: Actor, session: Session, action: str, **fields: Any) -> Session:
    before = meeting_snapshot(session)
    for name, value in fields.items():
        setattr(session, name, value)
    after = meeting_snapshot(session)
    if after == before:
        return session
    await db.flush()
    record_change(db, actor, action, "Session", session.id, before, after)
    emit(db, "session.meeting_changed", {
        "session": to_global_id("Session", session.id), "provider": session.meeting_provider,
        "before": {"status": before["meeting_status"]},
        "after": {"status": after["meeting_status"], "joinUrl": after["meeting_join_url"],
                  "externalId": after["meeting_external_id"], "error": after["meeting_error"]},
    }, session_ordering_key(session.id))
    return session


async def meeting_ready(db: AsyncSession, actor: Actor, session_id: int, provider: str, external_id: str,
                        join_url: str) -> Session:
    """The provider made (or found, or updated) the meeting; a cancelled session stays cancelled."""
    session = await lock_session(db, session_id)
    if session.status is SessionStatus.CANCELLED or session.meeting_status is MeetingStatus.CANCELLED:
        return session
    return await _change_meeting(db, actor, session, "session.meeting.ready", meeting_provider=provider,
                                 meeting_status=MeetingStatus.READY, meeting_external_id=external_id, meeting_join_url=join_url, meeting_error=None)


async def meeting_failed(db: AsyncSession, actor: Actor, session_id: int, reason: str) -> Session:
    """Every retry ran out: say why, so a coordinator can act (or reschedule, which tries again); the
    session's instructors are told (`session.meeting_failed`)."""
    session = await lock_session(db, session_id)
    if session.meeting_status is MeetingStatus.CANCELLED:
        return session
    return await _change_meeting(db, actor, session, "session.meeting.fail", meeting_status=MeetingStatus.FAILED,
                                 meeting_error=reason[:2000])


async def meeting_cancelled(db: AsyncSession, actor: Actor, session_id: int) -> Session:
    session = await lock_session(db, session_id)
    return await _change_meeting(db, actor, session, "session.meeting.cancel", meeting_status=MeetingStatus.CANCELLED,
                                 meeting_join_url=None, meeting_error=None)


def lost_reason(provider: str) -> str:
    """What a meeting the provider lost says while its replacement is being made (`Session.meeting.error`)."""
    return f"{provider} no longer has this meeting (it was deleted there); a new one is being made"


async def meeting_lost(db: AsyncSession, actor: Actor, session_id: int, provider: str) -> Session:
    """The provider no longer has the meeting: PENDING again with no link, and the seats' registrations,
    which went with it, forgotten, so the new meeting registers every learner again."""
    session = await lock_session(db, session_id)
    if session.meeting_status is MeetingStatus.CANCELLED:
        return session
    cleared = (await db.execute(update(Enrollment).where(
        Enrollment.session_id == session_id, Enrollment.meeting_registrant_id.is_not(None))
        .values(meeting_registrant_id=None, meeting_join_url=None).execution_options(synchronize_session=False))).rowcount
    if cleared:
        record_change(db, actor, "session.meeting.registrants_lost", "Session", session_id,
                      {"registered_seats": cleared}, {"registered_seats": 0})
    return await _change_meeting(db, actor, session, "session.meeting.lost", meeting_status=MeetingStatus.PENDING,
                                 meeting_external_id=None, meeting_join_url=None, meeting_error=lost_reason(provider))


async def record_registrant(db: AsyncSession, actor: Actor, enrollment_id: int, registrant_id: str,
                            join_url: str, provider: str | None = None, email: str | None = None) -> Enrollment:
    """The learner's own join link, which identifies them in the attendance report.

    A learner who cancelled while being registered gets no link: the registrant is taken back instead.
    """
    enrollment = await get_or_404(db, Enrollment, enrollment_id, "enrollmentId", lock=True)
    if enrollment.status is not EnrollmentStatus.ENROLLED:
        if provider is not None and email is not None:
            await _queue_unregistration(db, provider, enrollment.session_id, enrollment.id, registrant_id, email)
        return enrollment
    before = {"meeting_registrant_id": enrollment.meeting_registrant_id, "meeting_join_url": enrollment.meeting_join_url}
    enrollment.meeting_registrant_id, enrollment.meeting_join_url = registrant_id, join_url
    await db.flush()
    record_change(db, actor, "enrollment.meeting.register", "Enrollment", enrollment.id, before,
                  {"meeting_registrant_id": registrant_id, "meeting_join_url": join_url})
    return enrollment


# --- delivery (after commit, through the outbox) -----------------------------------------

@dataclass(frozen=True)
class SessionView:
    """What delivery needs of a session, read in a short transaction and then used outside it."""

    id: int
    spec: MeetingSpec
    wanted: bool
    past: bool
    provider: str | None
    status: MeetingStatus | None
    external_id: str | None
    error: str | None


async def _view(sessions: async_sessionmaker[AsyncSession], session_id: int) -> SessionView:
    async with sessions() as db:
        s = await db.get(Session, session_id, populate_existing=True)
        if s is None:
            raise LookupError(f"no session {session_id}")
        return SessionView(s.id, meeting_spec(s), needs_meeting(s), s.status is SessionStatus.COMPLETED,
                           s.meeting_provider, s.meeting_status,
                           s.meeting_external_id, s.meeting_error)


async def sync_meeting(sessions: async_sessionmaker[AsyncSession], provider: ConferencingProvider, session_id: int,
                       actor: Actor) -> None:
    """Make the provider's meeting match the session: create, update or delete it. Safe to repeat.

    Before creating it always looks for a meeting an earlier, unsure attempt may have made, so a session
    never gets two meetings.
    """
    view = await _view(sessions, session_id)
    if not view.wanted:
        if view.provider not in (None, provider.name) or view.status in (None, MeetingStatus.CANCELLED):
            return
        external_id = view.external_id
        if external_id is None:
            found = await provider.find_meeting(view.spec)
            external_id = found.external_id if found else None
        if external_id is not None:
            await provider.delete_meeting(external_id)
        async with sessions() as db, changing(db):
            await meeting_cancelled(db, actor, session_id)
        return
    if view.past:
        return
    replaced = view.external_id is None and view.error == lost_reason(provider.name)
    if view.external_id is not None:
        try:
            await provider.update_meeting(view.external_id, view.spec)
        except MeetingGone as gone:
            # Deleted at the provider: its link is dead now, so the session shows none; one new meeting is
            # made below. If that fails, the outbox's retries end in FAILED and the instructors are told.
            log.warning("%s no longer has the meeting of session %s (%s); making a new one", provider.name,
                        session_id, gone)
            async with sessions() as db, changing(db):
                await meeting_lost(db, actor, session_id, provider.name)
            replaced = True
    if view.external_id is None or replaced:
        info = await provider.find_meeting(view.spec) or await provider.create_meeting(view.spec)
        external_id, join_url = info.external_id, info.join_url
    else:
        async with sessions() as db:
            current = await db.get(Session, session_id, populate_existing=True)
            external_id, join_url = view.external_id, current.meeting_join_url
    async with sessions() as db, changing(db):
        session = await meeting_ready(db, actor, session_id, provider.name, external_id, join_url)
        if session.meeting_status is MeetingStatus.READY:   # poll for the report, in case no webhook comes
            await call_plugin(db, provider=provider.name, topic=ATTENDANCE,
                              payload={"session_id": session_id, "sequence": session.sequence},
                              idempotency_key=f"{ATTENDANCE}:{session_id}:{session.sequence}:poll",
                              deliver_after=report_due(session.ends_at, provider))
    await sync_registrants(sessions, provider, session_id, actor)
    if replaced:
        async with sessions() as db, changing(db):
            session = await lock_session(db, session_id)
            emit(db, "session.meeting_replaced", {
                "session": to_global_id("Session", session_id), "provider": provider.name,
                "joinUrl": session.meeting_join_url, "externalId": session.meeting_external_id,
            }, session_ordering_key(session_id))


async def sync_registrants(sessions: async_sessionmaker[AsyncSession], provider: ConferencingProvider,
                           session_id: int, actor: Actor) -> int:
    """Register every enrolled learner not yet registered; returns how many were added."""
    async with sessions() as db:
        session = await db.get(Session, session_id, populate_existing=True)
        if session is None or session.meeting_status is not MeetingStatus.READY \
                or session.meeting_provider != provider.name or not session.meeting_external_id:
            return 0
        external_id = session.meeting_external_id
        missing = (await db.execute(
            select(Enrollment.id, Person.email, Person.name).join(Person, Person.id == Enrollment.learner_id)
            .where(Enrollment.session_id == session_id, Enrollment.status == EnrollmentStatus.ENROLLED,
                   Enrollment.meeting_registrant_id.is_(None)).order_by(Enrollment.id))).all()
    for row in missing:
        registrant = await provider.add_registrant(external_id, row.email, row.name)
        async with sessions() as db, changing(db):
            await record_registrant(db, actor, row.id, registrant.registrant_id, registrant.join_url,
                                    provider.name, row.email)
    return len(missing)


async def unregister(sessions: async_sessionmaker[AsyncSession], provider: ConferencingProvider, session_id: int,
                     registrant_id: str, email: str) -> bool:
    """Cancel one registrant of the session's meeting; nothing to do once the meeting is gone. Safe to repeat."""
    async with sessions() as db:
        session = await db.get(Session, session_id, populate_existing=True)
        if session is None or session.meeting_provider != provider.name or not session.meeting_external_id \
                or session.meeting_status is MeetingStatus.CANCELLED:
            return False
        external_id = session.meeting_external_id
    await provider.remove_registrant(external_id, registrant_id, email)
    return True


def report_due(ends_at: datetime, provider: ConferencingProvider) -> datetime:
    """When the participants report is first asked for, in case no webhook says the meeting ended."""
    return ends_at + timedelta(minutes=provider.attendance_rules.report_delay_minutes)


async def import_meeting_attendance(sessions: async_sessionmaker[AsyncSession], provider: ConferencingProvider,
                                    session_id: int, actor: Actor) -> ImportResult | None:
    """Fetch the participants report of the session's meeting and record it as attendance, by the provider's rules.

    No report once the report is due (nobody joined) records every enrolled learner ABSENT; before that
    NoParticipantsReport is raised, since the report may still be coming.
    """
    view = await _view(sessions, session_id)
    if view.external_id is None or view.provider != provider.name:
        return None
    try:
        segments = await provider.participants(view.external_id)
    except NoParticipantsReport:
        if utc_now() < report_due(view.spec.ends_at, provider):
            raise
        segments = []
    async with sessions() as db, changing(db):
        return await import_attendance(db, actor, session_id, provider.name.upper(), segments,
                                       provider.attendance_rules)


# --- the outbox's side: what each plugin call does ----------------------------------------

def _actor(provider: str) -> Actor:
    return Actor.system(f"plugin:{provider}")


def _provider(dispatcher: Dispatcher, message: QueuedMessage) -> ConferencingProvider:
    return dispatcher.plugins.provider("conferencing", message.target)


async def _sync_failed_for_good(dispatcher: Dispatcher, message: QueuedMessage, error: str) -> None:
    async with dispatcher.sessions() as db, changing(db):
        await meeting_failed(db, _actor(message.target), message.payload["session_id"],
                             f"{message.target} did not answer after {dispatcher.settings.outbox_max_attempts} "
                             f"attempts: {error}")


@plugin_call(SYNC, on_dead=_sync_failed_for_good)
async def _perform_sync(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    await sync_meeting(dispatcher.sessions, _provider(dispatcher, message), message.payload["session_id"],
                       _actor(message.target))


@plugin_call(REGISTRANTS)
async def _perform_registrants(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    await sync_registrants(dispatcher.sessions, _provider(dispatcher, message), message.payload["session_id"],
                           _actor(message.target))


@plugin_call(UNREGISTER)
async def _perform_unregister(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    payload = message.payload
    await unregister(dispatcher.sessions, _provider(dispatcher, message), payload["session_id"],
                     payload["registrant_id"], payload["email"])


@plugin_call(ATTENDANCE)
async def _perform_attendance(dispatcher: Dispatcher, message: QueuedMessage) -> None:
    session_id = message.payload["session_id"]
    polled = "sequence" in message.payload
    if polled:                              # a poll planned for a time the session has since left
        async with dispatcher.sessions() as db:
            session = await db.get(Session, session_id)
            if session is None or session.sequence != message.payload["sequence"]:
                return
    try:
        await import_meeting_attendance(dispatcher.sessions, _provider(dispatcher, message), session_id,
                                        _actor(message.target))
    except DomainError as error:
        if error.code is not ErrorCode.SESSION_NOT_STARTED:
            raise
        # A meeting ended before its session started (a rehearsal): the poll planned for the end settles it.
        log.info("%s report for session %s ignored: the session has not started", message.target, session_id)
    except NoParticipantsReport:
        if polled:
            raise
        # A webhook came before the report is due; the poll planned for then settles it.
        log.info("no %s report for session %s yet; the planned poll will ask again", message.target, session_id)
