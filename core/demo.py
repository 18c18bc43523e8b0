"""The demo data set: the case the field calls a spreadsheet nightmare.

Four venues across two time zones (London-Manchester 150 minutes' travel, New York-Boston 240), eight
instructors (one qualification about to expire, one on leave for a week), all working and open Monday to
Friday 08:00-18:00 on their own clocks,
twelve courses, about fifty sessions over the next eight weeks, 200 learners, one full
session with a waitlist, attendance on past sessions, and a sandwich blended program for twenty
learners, some of whom have done the pre-work. Every course has an evaluation form; past sessions are
completed (as the periodic job would), their attended learners asked, most of them answered through their
link, and many have knowledge scores before and after. Loading twice changes nothing.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from .audit import Actor
from .db import changing, create_engine, create_sessionmaker
from .errors import DomainError
from .instants import utc_now
from .models import (
    AssessmentKind, AttendanceStatus, CostCategory, Course, DeliveryMode, Enrollment, EnrollmentStatus,
    EvaluationRequest, Person, Program, QuestionKind, Resource, ResourceKind, RateUnit, Session, SessionStatus,
    Venue,
)
from .providers import CompletionReport
from .services import (
    attendance, availability, catalogue, costs, enrollment, evaluations, journeys, programs, scheduling, travel,
)
from .settings import Settings

DEMO_MARKER = "SAFE-101"
ACTOR = Actor.system("demo")

VENUES = [  # name, street address, city, country, timezone, rooms
    ("London Training Centre", "1 Fleet Street, London EC4Y 1AA", "London", "United Kingdom", "Europe/London",
     [("Thames", 24), ("Fleet", 12), ("Lab A", 16)]),
    ("Manchester Hub", "50 Deansgate, Manchester M3 2FE", "Manchester", "United Kingdom", "Europe/London",
     [("Irwell", 20), ("Mill", 10)]),
    ("New York Learning Loft", "200 Park Avenue, 14th Floor, New York, NY 10166", "New York", "United States",
     "America/New_York", [("Hudson", 30), ("Liberty", 14)]),
    ("Boston Harbor Campus", "1 Seaport Boulevard, Boston, MA 02210", "Boston", "United States", "America/New_York",
     [("Charles", 18), ("Fenway", 8)]),
]
COURSES = [
    ("SAFE-101", "Workplace Safety Essentials", 240, 12, ["Safety Trainer"], 365),
    ("FIRE-201", "Fire Warden Certification", 180, 10, ["Fire Warden Instructor"], 730),
    ("LEAD-301", "First-time Manager Bootcamp", 420, 16, ["Leadership Coach"], None),
    ("FEED-110", "Giving and Receiving Feedback", 120, 20, ["Leadership Coach"], None),
    ("DATA-120", "Data Protection for Everyone", 90, 30, ["Privacy Practitioner"], 365),
    ("SQL-200", "SQL for Analysts", 360, 14, ["Data Instructor"], None),
    ("PY-150", "Python Foundations", 420, 14, ["Data Instructor"], None),
    ("AID-100", "First Aid at Work", 360, 12, ["First Aid Instructor"], 1095),
    ("SELL-210", "Consultative Selling", 240, 18, [], None),
    ("PM-220", "Agile Project Delivery", 300, 16, ["Agile Coach"], None),
    ("DEI-105", "Inclusive Hiring", 120, 24, [], None),
    ("CX-130", "Handling Difficult Customers", 180, 16, [], None),
]
INSTRUCTORS = [
    ("Amara Okafor", "Europe/London", ["Safety Trainer", "First Aid Instructor", "Fire Warden Instructor"]),
    ("Ben Hartley", "Europe/London", ["Leadership Coach", "Agile Coach"]),
    ("Chloe Dubois", "Europe/London", ["Privacy Practitioner", "Data Instructor"]),
    ("Dev Patel", "Europe/London", ["Data Instructor", "Agile Coach"]),
    ("Elena Ruiz", "America/New_York", ["Leadership Coach", "Privacy Practitioner"]),
    ("Frank Miller", "America/New_York", ["Safety Trainer", "First Aid Instructor"]),
    ("Grace Kim", "America/New_York", ["Data Instructor", "Leadership Coach"]),
    ("Hiro Tanaka", "America/New_York", ["Fire Warden Instructor", "Safety Trainer"]),
]
HOURS = [(day, "08:00", "18:00") for day in ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY")]
"""The demo's instructors' working hours and its rooms' opening hours, each on its own clock."""
FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn",
         "Noah", "Olivia", "Liam", "Emma", "Mia", "Lucas", "Zoe", "Ethan", "Isla", "Leo"]
LAST = ["Smith", "Jones", "Brown", "Wilson", "Taylor", "Davies", "Evans", "Thomas", "Johnson", "Roberts"]


Progress = Callable[[str, int], None]
"""Told each step's name and how many of the demo's DEMO_STEPS are done."""
DEMO_STEPS = 4 + 50


async def load_demo(settings: Settings, progress: Progress = lambda _step, _done: None) -> str:
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous)
    try:
        async with create_sessionmaker(engine)() as db:
            if await db.scalar(select(func.count()).where(Course.code == DEMO_MARKER)):
                if await db.scalar(select(func.count()).select_from(Program)):
                    return "demo data already loaded"
                await _program(db, random.Random(2028), utc_now(), settings)  # a demo loaded before programs existed
                return "demo program added"
            rng = random.Random(2027)
            now = utc_now()
            async with changing(db):
                progress("catalogue", 0)
                rooms, instructors, courses, learners = await _catalogue(db, rng, now.date(), settings.currency)
            learner_ids = [learner.id for learner in learners]
            progress("sessions", 1)
            sessions = await _sessions(db, rng, now, rooms, instructors, courses)
            async with changing(db):  # set after the sessions, so the demo's sessions are the same with or without
                await _travel_times(db)
            progress("enrolments", 2)
            await _enrolments(db, rng, now, sessions, learner_ids, progress)
            progress("program", DEMO_STEPS - 1)
            program = await _program(db, rng, now, settings)
            asked = await _evaluations(db, random.Random(2029), now, settings)
            progress("done", DEMO_STEPS)
            return (f"demo loaded: {len(courses)} courses, {len(sessions)} sessions, {len(learners)} learners"
                    f"{', 1 blended program' if program else ''}, {asked} evaluations asked")
    finally:
        await engine.dispose()


async def _catalogue(db, rng, today: date, currency: str):
    rooms: list[Resource] = []
    for name, address, city, country, tz, venue_rooms in VENUES:
        venue = await catalogue.create_venue(db, ACTOR, name=name, address=address, city=city, country=country,
                                             timezone=tz)
        for room_name, capacity in venue_rooms:
            rooms.append(await catalogue.create_resource(
                db, ACTOR, kind=ResourceKind.ROOM, name=f"{name} · {room_name}", timezone=tz, capacity=capacity,
                venue_id=venue.id, features=["projector", "whiteboard"], weekly_hours=HOURS))
            await costs.set_cost_rate(db, ACTOR, rooms[-1].id, str(rng.choice([40, 60, 85])), RateUnit.HOURLY,
                                      currency=currency)
    for name, tz in (("Projector kit 1", "Europe/London"), ("VR headsets (10)", "America/New_York")):
        await catalogue.create_resource(db, ACTOR, kind=ResourceKind.EQUIPMENT, name=name, timezone=tz)
    instructors = []
    for index, (name, tz, quals) in enumerate(INSTRUCTORS):
        # Amara's first-aid qualification runs out in ten days: the demo's trap.
        valid = [(q, today + timedelta(days=10) if index == 0 and q == "First Aid Instructor"
                  else today + timedelta(days=rng.randint(200, 900))) for q in quals]
        email = name.lower().replace(" ", ".") + "@podium.example"
        await catalogue.create_person(db, ACTOR, name=name, email=email, timezone=tz)
        instructors.append(await catalogue.create_resource(
            db, ACTOR, kind=ResourceKind.INSTRUCTOR, name=name, timezone=tz, email=email, qualifications=valid,
            weekly_hours=HOURS))
        rate, unit = rng.choice([("90", RateUnit.HOURLY), ("120", RateUnit.HOURLY), ("600", RateUnit.DAILY)])
        await costs.set_cost_rate(db, ACTOR, instructors[-1].id, rate, unit, currency=currency)
    # Ben is on leave for a week a fortnight from now: the demo schedules around it.
    leave = datetime.combine(today + timedelta(days=14), time(0), ZoneInfo(instructors[1].timezone))
    await availability.add_time_off(db, ACTOR, instructors[1].id, leave, leave + timedelta(days=7), "Annual leave")
    courses = [await catalogue.create_course(db, ACTOR, code=code, title=title, duration_minutes=minutes,
                                             default_capacity=capacity, required_qualifications=quals,
                                             certification_validity_days=validity,
                                             description=f"{title}: a live course.")
               for code, title, minutes, capacity, quals, validity in COURSES]
    for course in courses:  # printed materials for everyone; lunch on courses of a working day
        extras = [costs.PerLearnerCost(CostCategory.MATERIALS, "Course handbook", "12")]
        if course.duration_minutes >= 6 * 60:
            extras.append(costs.PerLearnerCost(CostCategory.CATERING, "Lunch and coffee", "18.50"))
        await costs.set_course_costs(db, ACTOR, course.id, currency=currency, per_learner_costs=extras,
                                     price=str(course.duration_minutes // 60 * 75))
    learners = []
    for index in range(200):
        first, last = FIRST[index % len(FIRST)], LAST[(index // len(FIRST)) % len(LAST)]
        tz = rng.choice(["Europe/London", "America/New_York"])
        learners.append(await catalogue.create_person(
            db, ACTOR, name=f"{first} {last}", email=f"{first}.{last}.{index}@learners.example".lower(), timezone=tz))
    return rooms, instructors, courses, learners


TRAVEL = [("London Training Centre", "Manchester Hub", 150), ("New York Learning Loft", "Boston Harbor Campus", 240)]
"""Minutes between the demo's venues in one country (rule 2b, core/services/travel.py)."""


async def _travel_times(db) -> None:
    ids = dict((await db.execute(select(Venue.name, Venue.id))).all())
    for a, b, minutes in TRAVEL:
        await travel.set_travel_time(db, ACTOR, ids[a], ids[b], minutes)


async def _sessions(db, rng, now: datetime, rooms, instructors, courses) -> list[tuple]:
    # Plain values: a refused attempt rolls back and expires every loaded object.
    rooms = [(r.id, r.timezone, r.capacity) for r in rooms]
    instructors = [(i.id, i.timezone, {q.name for q in i.qualifications}) for i in instructors]
    courses = [(c.id, set(c.required_qualifications), c.duration_minutes, c.default_capacity) for c in courses]
    sessions: list[tuple[int, datetime, datetime, int]] = []
    attempts = 0
    while len(sessions) < 50 and attempts < 500:
        attempts += 1
        course_id, required, minutes, default_capacity = courses[attempts % len(courses)]
        qualified = [i for i in instructors if required <= i[2]]
        if not qualified:
            continue
        instructor_id, instructor_tz, _ = rng.choice(qualified)
        mode = rng.choice([DeliveryMode.IN_PERSON, DeliveryMode.IN_PERSON, DeliveryMode.VIRTUAL, DeliveryMode.HYBRID])
        local_rooms = [r for r in rooms if r[1] == instructor_tz] or rooms
        room = rng.choice(local_rooms) if mode is not DeliveryMode.VIRTUAL else None
        tz = room[1] if room else instructor_tz
        day = (now + timedelta(days=rng.randint(-14, 56))).date()
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
        hour = rng.choice([9, 10, 13])
        if hour * 60 + minutes + 15 > 18 * 60:
            hour = 9  # a long course starts early enough to end, teardown and all, within the 08:00-18:00 hours
        starts = datetime.combine(day, time(hour), ZoneInfo(tz))
        try:
            async with changing(db):
                session = (await scheduling.schedule_session(
                    db, ACTOR, course_id=course_id, starts_at=starts, ends_at=starts + timedelta(minutes=minutes),
                    timezone=tz, delivery_mode=mode, instructor_ids=[instructor_id],
                    room_id=room[0] if room else None,
                    capacity=min(default_capacity, room[2]) if room else default_capacity,
                    setup_minutes=15 if room else 0, teardown_minutes=15 if room else 0))
            sessions.append((session.id, session.starts_at, session.ends_at, session.capacity))
        except DomainError:
            continue  # a clash or an expired qualification: the demo simply picks another slot
    return sessions


async def _enrolments(db, rng, now: datetime, sessions: list[tuple], learner_ids: list[int], progress: Progress) -> None:
    upcoming = sorted((s for s in sessions if s[1] > now), key=lambda s: s[1])
    full_id = upcoming[0][0] if upcoming else None
    statuses = [AttendanceStatus.PRESENT] * 6 + [AttendanceStatus.LATE, AttendanceStatus.ABSENT,
                                                 AttendanceStatus.LEFT_EARLY]
    for done, (session_id, starts_at, ends_at, capacity) in enumerate(sessions, start=3):
        progress("enrolments", done)
        picks = rng.sample(learner_ids, capacity + 6 if session_id == full_id else rng.randint(3, capacity))
        if starts_at > now:
            for learner_id in picks:
                async with changing(db):
                    await enrollment.enroll(db, ACTOR, session_id, learner_id)
            continue
        # Past sessions: the roster as it stood, then the attendance taken on the day.
        async with changing(db):
            rows = [Enrollment(session_id=session_id, learner_id=l, status=EnrollmentStatus.ENROLLED,
                               created_at=starts_at - timedelta(days=7)) for l in picks]
            db.add_all(rows)
            await db.flush()
            ids = [e.id for e in rows]
        minutes = int((ends_at - starts_at).total_seconds() // 60)
        async with changing(db):
            await attendance.record_attendance(db, ACTOR, session_id, [
                attendance.AttendanceRecord(e, s, None if s is AttendanceStatus.ABSENT else minutes)
                for e, s in ((e, rng.choice(statuses)) for e in ids)])


async def _program(db, rng, now: datetime, settings: Settings) -> int | None:
    """A sandwich program for twenty learners on the next session more than two days away (and the
    same course's next session as a second section), with some pre-work recorded as done, as an LMS
    sync would record it: the readiness roster shows who is ready and who is not, with no LMS."""
    async with changing(db):
        sessions = (await db.scalars(select(Session).where(
            Session.status == SessionStatus.SCHEDULED, Session.starts_at > now + timedelta(days=2))
            .order_by(Session.starts_at, Session.id))).all()
        if not sessions:
            return None
        anchor = next((s for s in sessions if s.starts_at < now + timedelta(days=7)), sessions[0])  # pre-work open
        section = next((s for s in sessions[1:] if s.course_id == anchor.course_id), None)
        live = [anchor.id] + ([section.id] if section else [])
        cohort = rng.sample(list((await db.scalars(select(Person.id).where(
            Person.email.like("%@learners.example")).order_by(Person.id))).all()), 20)
        created = await programs.create_program(db, ACTOR, template_key="sandwich", course_id=anchor.course_id,
                                                live_session_ids=live, learner_ids=cohort, settings=settings)
        program_id = created.program.id
    done_at = now - timedelta(hours=rng.randint(1, 24))
    pull = journeys.LmsPull(connector=None, reports={
        learner_id: CompletionReport(activities={"prework": done_at} if n % 3 else {})
        for n, learner_id in enumerate(cohort)})
    async with changing(db):
        await journeys.record_progress(db, ACTOR, program_id, pull, now)
    return program_id


FORM = [("overall", QuestionKind.RATING_1_5, "How would you rate the session overall?", True),
        ("instructor", QuestionKind.RATING_1_5, "How would you rate the instructor?", True),
        ("recommend", QuestionKind.NPS_0_10, "How likely are you to recommend this course to a colleague?", True),
        ("apply", QuestionKind.YES_NO, "Will you use what you learnt within a month?", False),
        ("comment", QuestionKind.TEXT, "What should we change?", False)]
COMMENTS = ["More exercises, please.", "The room was too warm.", "Great examples from real work.",
            "A bit long after lunch.", "Loved the group discussion."]


async def _evaluations(db, rng, now: datetime, settings: Settings) -> int:
    """A form for every course; the past sessions completed and their attended learners asked, as the periodic
    job `complete_sessions` does; about two in three answer through their link; PRE and POST scores for about
    half of those asked."""
    questions = [evaluations.QuestionInput(key, kind, text, required) for key, kind, text, required in FORM]
    async with changing(db):
        for course_id in (await db.scalars(select(Course.id).order_by(Course.id))).all():
            await evaluations.create_form(db, ACTOR, course_id=course_id, title="How did it go?", questions=questions)
        completed = await scheduling.complete_past_sessions(
            db, ACTOR, now, grace=timedelta(minutes=settings.session_completion_grace_minutes))
        asked = await evaluations.request_evaluations(db, ACTOR, completed, settings.secret_key)
        requests = (await db.execute(select(EvaluationRequest.nonce, EvaluationRequest.enrollment_id)
                                     .order_by(EvaluationRequest.id))).all()
    async with changing(db):  # the learners' answers and the scores, in one transaction
        for nonce, enrollment_id in requests:
            if rng.random() < 0.67:
                happy = rng.random() < 0.75
                answers = [
                    evaluations.AnswerInput("overall", value=rng.choice([4, 5, 5] if happy else [2, 3, 4])),
                    evaluations.AnswerInput("instructor", value=rng.choice([4, 5] if happy else [3, 4])),
                    evaluations.AnswerInput("recommend", value=rng.choice([8, 9, 10, 10] if happy else [3, 6, 7]))]
                if rng.random() < 0.8:
                    answers.append(evaluations.AnswerInput("apply", yes=happy or rng.random() < 0.3))
                if rng.random() < 0.3:
                    answers.append(evaluations.AnswerInput("comment", text=rng.choice(COMMENTS)))
                await evaluations.submit_evaluation(db, evaluations.Submitter(signed_in=False),
                                                    token=evaluations.evaluation_token(settings.secret_key, nonce),
                                                    answers=answers)
            if rng.random() < 0.5:
                pre = rng.randint(20, 70) + rng.choice([0, 0.5, 0.25])
                post = min(100, pre + rng.randint(-5, 35))
                await evaluations.record_score(db, ACTOR, enrollment_id=enrollment_id, kind=AssessmentKind.PRE,
                                               score=str(pre), source="quiz")
                await evaluations.record_score(db, ACTOR, enrollment_id=enrollment_id, kind=AssessmentKind.POST,
                                               score=str(post), source="quiz")
    return asked
