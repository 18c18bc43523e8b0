"""The email channel against a real SMTP server: enrol -> waitlist -> promote -> reschedule -> cancel."""
from __future__ import annotations

import ssl
from datetime import timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from podium.core.db import changing
from podium.core.services import enrollment as enrolment_service
from podium.core.services import scheduling
from podium.core.settings import Settings
from tests import builders as b
from tests.builders import ADMIN
from tests.dispatching import dispatching, eventually, settings_from
from tests.plugins.email.fake_smtp import MailServer

TZ = "America/New_York"


@pytest.fixture
def mail_server(unused_tcp_port):
    server = MailServer(unused_tcp_port).start()
    yield server
    server.stop()


def email_env(port: int, **more) -> dict[str, str]:
    return {"PODIUM_PLUGINS": "email", "PODIUM_EMAIL_HOST": "127.0.0.1", "PODIUM_EMAIL_PORT": str(port),
            "PODIUM_EMAIL_FROM_ADDRESS": "training@example.com", "PODIUM_EMAIL_STARTTLS": "false",
            "PODIUM_ORGANIZER_EMAIL": "training@example.com", **more}


def invite(mail):
    calendar = icalendar.Calendar.from_ical(mail.attachment("invite.ics"))
    return calendar, next(iter(calendar.walk("VEVENT")))


async def test_the_story_by_mail(sessions, mail_server):
    course = await b.course(sessions, title="Fire safety")
    lead = await b.instructor(sessions, email="lead@example.com")
    ada = await b.person(sessions, email="ada@example.com", name="Ada")
    bo = await b.person(sessions, email="bo@example.com", name="Bo")
    starts = b.soon(days=10, hour=14)
    expected = 0

    async def arrived(count):
        return await eventually(lambda: len(mail_server.received()) >= count and mail_server.received(),
                                what=f"{count} mails")

    async with dispatching(sessions, settings_from(email_env(mail_server.port))):
        s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id], capacity=1, tz=TZ,
                            starts_at=starts, title="Fire safety, evening")
        expected += 1
        mails = await arrived(expected)
        assert (mails[-1].rcpt_tos, mails[-1].subject) == (["lead@example.com"], "You are teaching: Fire safety, evening")

        async with sessions() as db, changing(db):
            ada_enrolment = (await enrolment_service.enroll(db, ADMIN, s.id, ada.id)).id
        expected += 1
        mails = await arrived(expected)
        assert (mails[-1].rcpt_tos, mails[-1].subject) == (["ada@example.com"], "You are enrolled: Fire safety, evening")
        calendar, event = invite(mails[-1])
        assert calendar["METHOD"] == "REQUEST"
        uid = str(event["UID"])
        assert event["DTSTART"].params["TZID"] == TZ
        assert event["DTSTART"].dt == starts and event["DTSTART"].dt.tzinfo.key == TZ
        assert int(event["SEQUENCE"]) == 0
        assert "Ada" in mails[-1].message.get_body(("plain",)).get_content()

        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, bo.id)
        expected += 1
        mails = await arrived(expected)
        assert (mails[-1].rcpt_tos, mails[-1].subject) == (["bo@example.com"], "You are on the waitlist: Fire safety, evening")
        assert mails[-1].attachment("invite.ics") is None
        assert "number 1 on the waitlist" in mails[-1].message.get_body(("plain",)).get_content()

        async with sessions() as db, changing(db):
            await enrolment_service.cancel_enrollment(db, ADMIN, ada_enrolment)
        expected += 2
        mails = await arrived(expected)
        by_rcpt = {m.rcpt_tos[0]: m for m in mails[-2:]}
        assert by_rcpt["ada@example.com"].subject == "Enrolment cancelled: Fire safety, evening"
        assert invite(by_rcpt["ada@example.com"])[0]["METHOD"] == "CANCEL"
        assert by_rcpt["bo@example.com"].subject == "A seat is yours: Fire safety, evening"
        calendar, event = invite(by_rcpt["bo@example.com"])
        assert (calendar["METHOD"], str(event["UID"]), int(event["SEQUENCE"])) == ("REQUEST", uid, 0)

        moved = starts + timedelta(days=1, hours=2)
        async with sessions() as db, changing(db):
            await scheduling.reschedule_session(db, ADMIN, s.id, moved, moved + timedelta(hours=2), settings=Settings())
        expected += 2  # Bo and the instructor; Ada has cancelled
        mails = await arrived(expected)
        assert sorted(m.rcpt_tos[0] for m in mails[-2:]) == ["bo@example.com", "lead@example.com"]
        for mail in mails[-2:]:
            assert mail.subject == "Session moved: Fire safety, evening"
            calendar, event = invite(mail)
            assert (calendar["METHOD"], str(event["UID"])) == ("REQUEST", uid)
            assert int(event["SEQUENCE"]) == 1
            assert event["DTSTART"].dt == moved and event["DTSTART"].params["TZID"] == TZ
            assert event["DTSTART"].dt.astimezone(ZoneInfo(TZ)).hour == moved.astimezone(ZoneInfo(TZ)).hour

        async with sessions() as db, changing(db):
            await scheduling.cancel_session(db, ADMIN, s.id, reason="Trainer unwell")
        expected += 2
        mails = await arrived(expected)
        assert sorted(m.rcpt_tos[0] for m in mails[-2:]) == ["bo@example.com", "lead@example.com"]
        for mail in mails[-2:]:
            assert mail.subject == "Session cancelled: Fire safety, evening"
            assert "Trainer unwell" in mail.message.get_body(("plain",)).get_content()
            calendar, event = invite(mail)
            assert (calendar["METHOD"], str(event["UID"]), int(event["SEQUENCE"])) == ("CANCEL", uid, 2)
            assert str(event["STATUS"]) == "CANCELLED"

    mails = mail_server.received()
    assert len(mails) == expected
    assert len({m.message["Message-ID"] for m in mails}) == expected


async def test_html_is_autoescaped_and_templates_can_be_overridden(sessions, mail_server, tmp_path):
    (tmp_path / "enrollment.confirmed.txt").write_text("Welcome aboard, {{ recipient_name }}\n\nSee you at {{ title }}.\n")
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions, name="<b>Mallory</b> & co")
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    env = email_env(mail_server.port, PODIUM_TEMPLATES_DIR=str(tmp_path))
    async with dispatching(sessions, settings_from(env)):
        async with sessions() as db, changing(db):
            await enrolment_service.enroll(db, ADMIN, s.id, learner.id)
        mails = await eventually(lambda: [m for m in mail_server.received() if m.rcpt_tos == [learner.email]],
                                 what="the confirmation")
    mail = mails[0]
    assert mail.subject == "Welcome aboard, <b>Mallory</b> & co"          # text: as written
    html = mail.message.get_body(("html",)).get_content()
    assert "&lt;b&gt;Mallory&lt;/b&gt; &amp; co" in html and "<b>Mallory</b>" not in html   # html: escaped
    assert mail.message.get_body(("plain",)).get_content().startswith("See you at")


async def test_starttls_and_login(sessions, unused_tcp_port, tmp_path):
    import trustme

    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = MailServer(unused_tcp_port, tls_context=server_context, credentials=("podium", "s3cret-pass")).start()
    course = await b.course(sessions)
    lead = await b.instructor(sessions)
    learner = await b.person(sessions)
    s = await b.session(sessions, course_id=course.id, instructor_ids=[lead.id])
    env = email_env(server.port, PODIUM_EMAIL_STARTTLS="true", PODIUM_EMAIL_USERNAME="podium",
                    PODIUM_EMAIL_PASSWORD="s3cret-pass", PODIUM_EMAIL_CA_FILE=str(ca_file))
    try:
        async with dispatching(sessions, settings_from(env)):
            async with sessions() as db, changing(db):
                await enrolment_service.enroll(db, ADMIN, s.id, learner.id)
            mails = await eventually(lambda: [m for m in server.received() if m.rcpt_tos == [learner.email]],
                                     what="the confirmation over STARTTLS")
    finally:
        server.stop()
    assert mails[0].tls and mails[0].login == "podium"
