"""A database that is full, read-only or unreachable: writes are HTTP 503 UNAVAILABLE with
Retry-After and leave nothing behind, reads go on where they can, /readyz says 503 with the
reason, /healthz stays up, and everything recovers by itself once the database is fixed."""
from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from sqlalchemy import event, func, select

from podium.core.models import AuditEntry, Enrollment, OutboxMessage
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api

SESSIONS = "{ sessions { totalCount } }"


class Fault:
    """Turns a fault on and off for every connection the app takes from its pool (or every
    transaction it begins), as a disk filling up or a database switched to read-only does: the
    app is not told."""

    def __init__(self, engine, on: list[str], off: list[str] = (), per: str = "checkout") -> None:
        self.active, self.on, self.off = False, on, off
        if per == "checkout":
            event.listen(engine.sync_engine, "checkout", self.on_checkout)
        else:
            event.listen(engine.sync_engine, "begin", self.on_begin)

    def statements(self) -> list[str]:
        return self.on if self.active else self.off

    def on_checkout(self, dbapi_connection, _record, _proxy) -> None:
        cursor = dbapi_connection.cursor()
        for statement in self.statements():
            cursor.execute(statement)
        cursor.close()

    def on_begin(self, conn) -> None:
        for statement in self.statements():
            conn.exec_driver_sql(statement)


async def _counts(app) -> tuple[int, int, int]:
    async with app.state.podium.sessions() as db:
        return tuple([await db.scalar(select(func.count()).select_from(model))
                      for model in (Enrollment, AuditEntry, OutboxMessage)])


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0 and response.headers["x-request-id"]
    codes = [e["extensions"]["code"] for e in response.json()["errors"]]
    assert codes and set(codes) == {"UNAVAILABLE"}, response.text
    assert "INTERNAL" not in response.text


async def _world(api: Api) -> tuple[str, list[str]]:
    course, lead = await g.course(api), await g.instructor(api)
    session = await g.session(api, course, [lead], capacity=3)
    return session, [await g.person(api) for _ in range(5)]


def _enroll(api: Api, session: str, learner: str):
    return api.raw(g.ENROLL, {"i": {"sessionId": session, "learnerId": learner}})


async def _recovered(api: Api, session: str, learners: list[str]) -> None:
    """Once fixed: ready again, writes go through and the rules hold (3 seats, then the waitlist)."""
    ready = await api.client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})
    statuses = [(await g.enroll(api, session, learner))["enrollment"]["status"] for learner in learners]
    assert statuses == ["ENROLLED"] * 3 + ["WAITLISTED"] * (len(learners) - 3)
    seats = await api.data("query($id: ID!) { node(id: $id) { ... on Session { seatsTaken waitlistCount } } }",
                           {"id": session})
    assert seats["node"] == {"seatsTaken": 3, "waitlistCount": len(learners) - 3}


async def _faulty_writes_change_nothing(app, api: Api, session: str, learner: str) -> None:
    before = await _counts(app)
    assert_unavailable(await _enroll(api, session, learner))
    assert_unavailable(await api.raw(g.COURSE, {"i": {"code": "NEW-1", "title": "T", "durationMinutes": 60,
                                                      "defaultCapacity": 5}}))
    assert await _counts(app) == before  # no enrolment, no audit entry, no outbox message
    assert (await api.data(SESSIONS))["sessions"]["totalCount"] == 1  # reads are still served
    assert (await api.client.get("/healthz")).status_code == 200
    not_ready = await api.client.get("/readyz")
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "unavailable"
    assert not_ready.json()["reason"] and not_ready.headers["retry-after"]


async def test_a_read_only_database(app, api, database_url, caplog):
    engine = app.state.podium.engine
    if database_url.startswith("sqlite"):
        fault = Fault(engine, ["PRAGMA query_only = ON"], ["PRAGMA query_only = OFF"])
    else:
        fault = Fault(engine, ["SET TRANSACTION READ ONLY"], per="begin")  # as on a standby: SQLSTATE 25006
    session, learners = await _world(api)
    fault.active = True
    await _faulty_writes_change_nothing(app, api, session, learners[0])
    faults = [r for r in caplog.records if r.name == "podium.graphql" and r.levelname != "INFO"]
    assert faults and all(r.levelname == "WARNING" and r.exc_info is None for r in faults)  # no traceback
    fault.active = False
    await _recovered(api, session, learners)


async def test_a_full_disk(tmp_path, template_databases):
    """SQLite whose file may not grow (`max_page_count` at its size): writes fill what room is left,
    then each is refused whole until there is room again."""
    import shutil

    from pathlib import Path

    source = Path(template_databases["sqlite"].split("///", 1)[1])
    shutil.copy(source, tmp_path / "full.db")
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'full.db'}", admin_token=ADMIN_TOKEN))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            session, learners = await _world(api)
            # max_page_count cannot go below the file's size: 1 pins it there, so the file never grows
            fault = Fault(app.state.podium.engine, ["PRAGMA max_page_count = 1"], ["PRAGMA max_page_count = 1073741823"])
            fault.active = True
            accepted = 0
            for n in range(300):  # the space left in the last pages fills up, then the disk is full
                response = await api.raw(g.COURSE, {"i": {"code": f"FILL-{n}", "title": "x" * 150,
                                                          "durationMinutes": 60, "defaultCapacity": 5}})
                if response.status_code == 503:
                    break
                accepted += 1
            else:
                pytest.fail("the disk never filled up")
            assert_unavailable(response)
            before = await _counts(app)
            assert_unavailable(await api.raw(g.COURSE, {"i": {"code": "FILL-again", "title": "x" * 150,
                                                              "durationMinutes": 60, "defaultCapacity": 5}}))
            assert await _counts(app) == before  # the refused course left no audit entry either
            courses = await api.data("{ courses { totalCount } }")  # reads are still served
            assert courses["courses"]["totalCount"] == accepted + 1
            not_ready = await api.client.get("/readyz")
            assert not_ready.status_code == 503 and "does not take writes" in not_ready.json()["reason"]
            fault.active = False
            await _recovered(api, session, learners)
            assert (await api.data("{ courses { totalCount } }"))["courses"]["totalCount"] == accepted + 1
    finally:
        await app.state.podium.engine.dispose()


class Proxy:
    """A TCP proxy to PostgreSQL that can be stopped (connections cut, new ones refused) and started
    again on the same port: the database going away without touching the machine's PostgreSQL."""

    def __init__(self, target_port: int) -> None:
        self.target_port, self.port, self.server, self.pipes = target_port, 0, None, set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.server.close()
        for writer in list(self.pipes):
            writer.transport.abort()
        await self.server.wait_closed()

    async def accept(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.pipes |= {writer, upstream_writer}

        async def pipe(source, sink) -> None:
            with contextlib.suppress(Exception):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()
            self.pipes.discard(sink)

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_postgresql_going_away_and_coming_back(template_databases, database_url):
    if not database_url.startswith("postgresql"):
        return await _sqlite_file_going_away(database_url)
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    proxy = Proxy(url.port or 5432)
    await proxy.start()
    app = create_app(Settings(database_url=url.set(port=proxy.port).render_as_string(hide_password=False),
                              admin_token=ADMIN_TOKEN))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            session, learners = await _world(api)
            before = await _counts(app)
            await proxy.stop()
            assert_unavailable(await _enroll(api, session, learners[0]))
            assert_unavailable(await api.raw(SESSIONS))  # no reads either: nothing answers
            assert (await api.client.get("/healthz")).status_code == 200
            not_ready = await api.client.get("/readyz")
            assert not_ready.status_code == 503 and "does not take writes" in not_ready.json()["reason"]
            await proxy.start()
            assert await _counts(app) == before
            await _recovered(api, session, learners)
    finally:
        await app.state.podium.engine.dispose()
        await proxy.stop()


async def _sqlite_file_going_away(database_url: str) -> None:
    """On SQLite, 'unreachable' is a file that cannot be opened: its folder is gone."""
    from pathlib import Path

    path = Path(database_url.split("///", 1)[1])
    moved = path.parent.with_name(path.parent.name + "-away")
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
            api = Api(client)
            session, learners = await _world(api)
            await app.state.podium.engine.dispose()  # open connections keep the old file: start afresh
            path.parent.rename(moved)
            try:
                assert_unavailable(await _enroll(api, session, learners[0]))
                assert (await api.client.get("/readyz")).status_code == 503
            finally:
                moved.rename(path.parent)
            await _recovered(api, session, learners)
    finally:
        await app.state.podium.engine.dispose()
