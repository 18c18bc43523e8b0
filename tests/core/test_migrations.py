"""Migrations are the only way the schema is made: they run from empty and match the models."""
from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from podium.core.db import create_engine
from podium.core.migrate import alembic_config
from podium.core.models import Base
from tests.conftest import pg_admin, pg_database_url

PODIUM = [sys.executable, "-m", "podium.server.cli"]


def test_db_upgrade_from_empty_and_again(database_url, tmp_path):
    """`podium db upgrade` on a database that already has the schema is a no-op."""
    env = {**os.environ, "PODIUM_DATABASE_URL": database_url}
    for _ in range(2):
        done = subprocess.run([*PODIUM, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_db_upgrade_creates_a_fresh_sqlite_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    done = subprocess.run([*PODIUM, "db", "upgrade"], env={**os.environ, "PODIUM_DATABASE_URL": url}, cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "fresh.db").stat().st_size > 0

    async def tables():
        engine = create_engine(url)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        await engine.dispose()
        return set(names)

    assert set(Base.metadata.tables) <= asyncio.run(tables())


def test_podium_db_upgrade_builds_an_empty_postgresql_database(template_databases, tmp_path):
    """The installed `podium` command, on a database nothing else has touched: tables and rule 2's constraint."""
    if "postgresql" not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    name = f"podium_empty_{uuid.uuid4().hex[:10]}"
    url = pg_database_url(name)
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        done = subprocess.run([str(Path(sys.executable).with_name("podium")), "db", "upgrade"],
                              env={**os.environ, "PODIUM_DATABASE_URL": url}, cwd=tmp_path, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr

        async def schema():
            engine = create_engine(url)
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
                constraint = await conn.scalar(text(
                    "SELECT contype::text FROM pg_constraint WHERE conname = 'booking_no_overlap'"))
            await engine.dispose()
            return set(tables), constraint

        tables, constraint = asyncio.run(schema())
        assert set(Base.metadata.tables) <= tables
        assert constraint == "x", "booking_no_overlap is an exclusion constraint"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_autogenerate_finds_no_difference(database_url):
    engine = create_engine(database_url)

    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    await engine.dispose()
    assert differences == []


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database(request, template_databases, tmp_path):
    """An empty database of each backend that only this test uses (it drops every table)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'round-trip.db'}"
        return
    if "postgresql" not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    name = f"podium_trip_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _tables_and_differences(url: str) -> tuple[set[str], list]:
    async def look():
        engine = create_engine(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            differences = await conn.run_sync(lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata))
        await engine.dispose()
        return tables, differences

    return asyncio.run(look())


def test_every_migration_goes_down_and_up_again(own_database):
    """Upgrade to head, downgrade to base (every downgrade runs), upgrade again: the same schema."""
    config = alembic_config(own_database)
    command.upgrade(config, "head")
    tables, differences = _tables_and_differences(own_database)
    assert set(Base.metadata.tables) <= tables and differences == []
    command.downgrade(config, "base")
    assert _tables_and_differences(own_database)[0] <= {"alembic_version"}
    command.upgrade(config, "head")
    tables, differences = _tables_and_differences(own_database)
    assert set(Base.metadata.tables) <= tables and differences == []


def test_migrations_define_their_own_column_types():
    """A migration is history: it may not import the live models, whose types can change later."""
    versions = (Path(__file__).parents[2] / "core" / "migrations" / "versions").glob("*.py")
    assert [v.name for v in versions if re.search(r"^\s*(from|import) podium\b", v.read_text(), re.M)] == []


def test_0007_makes_every_existing_session_a_session_of_one_part(own_database):
    """A session written before parts existed, with a booking and a learner's attendance, comes out of the
    upgrade as one part with its own interval; the booking is that part's and so is the attendance."""
    import sqlalchemy as sa
    from datetime import datetime, timezone

    from podium.core.models import Booking, PartAttendance, SessionPart

    config = alembic_config(own_database)
    command.upgrade(config, "0006")
    sqlite = own_database.startswith("sqlite")

    def at(hour):
        instant = datetime(2027, 3, 2, hour, tzinfo=timezone.utc)
        return instant.replace(tzinfo=None) if sqlite else instant

    def table(name, *columns):
        return sa.table(name, *(sa.column(c, t) for c, t in columns))

    moment, text_, integer = sa.DateTime(timezone=True), sa.String(), sa.Integer()
    rows = [
        (table("course", ("id", integer), ("code", text_), ("title", text_), ("duration_minutes", integer),
               ("default_capacity", integer), ("required_qualifications", sa.JSON()), ("created_at", moment)),
         {"id": 1, "code": "C", "title": "Course", "duration_minutes": 60, "default_capacity": 5,
          "required_qualifications": [], "created_at": at(1)}),
        (table("person", ("id", integer), ("name", text_), ("email", text_), ("timezone", text_),
               ("external_ids", sa.JSON()), ("created_at", moment)),
         {"id": 1, "name": "Ada", "email": "ada@example.com", "timezone": "Europe/Berlin", "external_ids": {},
          "created_at": at(1)}),
        (table("resource", ("id", integer), ("kind", text_), ("name", text_), ("timezone", text_),
               ("features", sa.JSON()), ("created_at", moment)),
         {"id": 1, "kind": "INSTRUCTOR", "name": "Ines", "timezone": "Europe/Berlin", "features": [],
          "created_at": at(1)}),
        (table("session", ("id", integer), ("course_id", integer), ("title", text_), ("starts_at", moment),
               ("ends_at", moment), ("timezone", text_), ("delivery_mode", text_), ("status", text_),
               ("capacity", integer), ("setup_minutes", integer), ("teardown_minutes", integer),
               ("requires_approval", sa.Boolean()), ("sequence", integer), ("created_at", moment),
               ("updated_at", moment)),
         {"id": 1, "course_id": 1, "title": "Before parts", "starts_at": at(9), "ends_at": at(12),
          "timezone": "Europe/Berlin", "delivery_mode": "VIRTUAL", "status": "SCHEDULED", "capacity": 5,
          "setup_minutes": 0, "teardown_minutes": 0, "requires_approval": False, "sequence": 0,
          "created_at": at(1), "updated_at": at(1)}),
        (table("booking", ("id", integer), ("resource_id", integer), ("session_id", integer), ("role", text_),
               ("starts_at", moment), ("ends_at", moment), ("active", sa.Boolean()), ("source", text_)),
         {"id": 1, "resource_id": 1, "session_id": 1, "role": "LEAD_INSTRUCTOR", "starts_at": at(9),
          "ends_at": at(12), "active": True, "source": "podium"}),
        (table("enrollment", ("id", integer), ("session_id", integer), ("learner_id", integer), ("status", text_),
               ("created_at", moment), ("updated_at", moment)),
         {"id": 1, "session_id": 1, "learner_id": 1, "status": "ENROLLED", "created_at": at(1), "updated_at": at(1)}),
        (table("attendance", ("id", integer), ("enrollment_id", integer), ("status", text_),
               ("minutes_attended", integer), ("source", text_), ("recorded_at", moment)),
         {"id": 1, "enrollment_id": 1, "status": "LATE", "minutes_attended": 150, "source": "MANUAL",
          "recorded_at": at(13)}),
    ]

    async def write():
        engine = create_engine(own_database)
        async with engine.begin() as conn:
            for t, values in rows:
                await conn.execute(t.insert().values(**values))
        await engine.dispose()

    async def read():
        engine = create_engine(own_database)
        from sqlalchemy.ext.asyncio import AsyncSession
        async with AsyncSession(engine) as db:
            parts = (await db.scalars(sa.select(SessionPart))).all()
            booking = await db.scalar(sa.select(Booking))
            attended = (await db.scalars(sa.select(PartAttendance))).all()
        await engine.dispose()
        return parts, booking, attended

    asyncio.run(write())
    command.upgrade(config, "head")
    parts, booking, attended = asyncio.run(read())
    assert [(p.session_id, p.position, p.starts_at.hour, p.ends_at.hour) for p in parts] == [(1, 1, 9, 12)]
    assert booking.part_id == parts[0].id
    assert [(a.enrollment_id, a.part_id, a.status.value, a.minutes_attended) for a in attended] == [
        (1, parts[0].id, "LATE", 150)]


def test_0009_keeps_an_old_resource_rate_as_an_hourly_rate_in_cents(own_database):
    """A rate written before costs (a number with two decimals, no unit) becomes minor units per HOUR, and goes
    back on a downgrade."""
    import sqlalchemy as sa
    from datetime import datetime, timezone

    config = alembic_config(own_database)
    command.upgrade(config, "0008")
    created = datetime(2027, 3, 2, 9, tzinfo=timezone.utc)
    if own_database.startswith("sqlite"):
        created = created.replace(tzinfo=None)
    resource = sa.table("resource", *(sa.column(c, t) for c, t in (
        ("id", sa.Integer()), ("kind", sa.String()), ("name", sa.String()), ("timezone", sa.String()),
        ("features", sa.JSON()), ("created_at", sa.DateTime(timezone=True)), ("cost_rate", sa.Numeric(12, 2)))))

    async def run(statement):
        engine = create_engine(own_database)
        async with engine.begin() as conn:
            result = (await conn.execute(statement)).all() if isinstance(statement, sa.Select) else \
                await conn.execute(statement)
        await engine.dispose()
        return result

    asyncio.run(run(resource.insert().values(id=1, kind="ROOM", name="Room", timezone="UTC", features=[],
                                            created_at=created, cost_rate=85.5)))
    command.upgrade(config, "head")
    after = asyncio.run(run(sa.select(sa.column("cost_rate_minor"), sa.column("cost_rate_unit"))
                            .select_from(sa.table("resource"))))
    assert [tuple(row) for row in after] == [(8550, "HOURLY")]
    command.downgrade(config, "0008")
    back = asyncio.run(run(sa.select(sa.column("cost_rate")).select_from(sa.table("resource"))))
    assert [float(row[0]) for row in back] == [85.5]


def test_0016_gives_every_existing_series_its_own_rule_from_its_first_occurrence(own_database):
    """A series made before its rules were stored comes out of the upgrade with one rule: the series' own, from
    its first occurrence's start and end, with its except dates."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    from podium.core.db import changing, create_sessionmaker
    from podium.core.events import EventBus
    from podium.core.models import DeliveryMode
    from podium.core.services import series
    from tests import builders as b
    from tests.builders import ADMIN

    config = alembic_config(own_database)
    command.upgrade(config, "head")
    first = datetime(2027, 3, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))

    async def make() -> None:
        engine = create_engine(own_database)
        sessions = create_sessionmaker(engine, EventBus())
        course, lead = await b.course(sessions), await b.instructor(sessions)
        async with sessions() as db, changing(db):
            await series.schedule_series(
                db, ADMIN, recurrence="RRULE:FREQ=WEEKLY;COUNT=4", starts_at=first, ends_at=first + timedelta(hours=1),
                except_dates=[date(2027, 3, 9)], timezone="Europe/Berlin", course_id=course.id,
                instructor_ids=[lead.id], delivery_mode=DeliveryMode.VIRTUAL)
        await engine.dispose()

    async def rules() -> list[tuple]:
        engine = create_engine(own_database)
        async with engine.connect() as conn:
            found = (await conn.execute(text(
                "SELECT first_occurrence, starts_at, ends_at, rule, except_dates FROM series_rule"))).all()
        await engine.dispose()
        return [tuple(row) for row in found]

    asyncio.run(make())
    made = asyncio.run(rules())
    command.downgrade(config, "0015")
    command.upgrade(config, "head")
    assert asyncio.run(rules()) == made
    [(number, starts_at, _, rule, except_dates)] = made
    assert (number, rule) == (1, "RRULE:FREQ=WEEKLY;COUNT=4")
    assert str(except_dates).count("2027-03-09") == 1
