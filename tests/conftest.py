"""Test databases: every test that takes `sessions` runs on SQLite and on PostgreSQL.

PostgreSQL is 127.0.0.1:5432 with trust auth (PODIUM_TEST_PG_DSN, the DSN of its admin database,
overrides). The suite creates its own throw-away database. Where CI is set, a missing PostgreSQL
fails the run.
"""
from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from podium.core.db import create_engine, create_sessionmaker
from podium.core.events import EventBus
from podium.core.migrate import upgrade
from podium.core.models import Base

THIRDPARTY = Path(__file__).parent / "thirdparty"


def install_test_plugins() -> Path:
    """The third-party plugins in tests/thirdparty (`podium-logbook`, `podium-jitsi`), each installed as its own
    distribution (pip --target) into a directory that only the tests put on the path, for this process and the
    servers and workers it starts: entry-point discovery stays real, and `make run` never loads a test plugin.
    Reinstalled when their sources change."""
    projects = sorted(d for d in THIRDPARTY.iterdir() if (d / "pyproject.toml").is_file())
    sources = sorted(f for project in projects for f in project.glob("*.*") if f.is_file())
    digest = hashlib.sha256(b"".join(f.name.encode() + f.read_bytes() for f in sources)).hexdigest()[:12]
    target = Path(sys.prefix) / "test-plugins" / digest
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--no-build-isolation", "--no-index", "--target", str(staging), *map(str, projects)],
                       check=True)
        try:
            staging.rename(target)
        except OSError:  # a parallel run installed it first
            shutil.rmtree(staging, ignore_errors=True)
    sys.path.append(str(target))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(target)]))
    return target


install_test_plugins()

# Helper modules whose asserts should explain a failure as well as a test module's do.
pytest.register_assert_rewrite("tests.server.graph", "tests.server.programs_world")

PG_ADMIN_DSN = os.environ.get("PODIUM_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


async def pg_admin(statement: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def pg_database_url(name: str) -> str:
    """The SQLAlchemy URL of database `name` on the test server."""
    return PG_ADMIN_DSN.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"


def _pg_available() -> str | None:
    try:
        asyncio.run(pg_admin("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def template_databases(tmp_path_factory):
    """One migrated database per backend for the whole run; tests get clean copies."""
    made: dict[str, str] = {}
    sqlite_file = tmp_path_factory.mktemp("db") / "template.db"
    made["sqlite"] = f"sqlite+aiosqlite:///{sqlite_file}"
    upgrade(made["sqlite"])
    problem = _pg_available()
    if problem is None:
        name = f"podium_test_{uuid.uuid4().hex[:10]}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
        made["postgresql"] = pg_database_url(name)
        upgrade(made["postgresql"])
    elif os.environ.get("CI"):
        raise RuntimeError(f"PostgreSQL is required in CI and is not answering: {problem}")
    yield made
    if "postgresql" in made:
        name = made["postgresql"].rsplit("/", 1)[1]
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=BACKENDS)
def database_url(request, template_databases, tmp_path) -> str:
    """A clean, migrated database of each backend."""
    backend = request.param
    if backend not in template_databases:
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432 (set CI=1 to make this a failure)")
    if backend == "sqlite":
        source = Path(template_databases["sqlite"].split("///", 1)[1])
        target = tmp_path / "podium.db"
        shutil.copy(source, target)
        return f"sqlite+aiosqlite:///{target}"
    url = template_databases["postgresql"]
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)

    async def truncate():
        engine = create_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(truncate())
    return url


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def sessions(engine, bus):
    """A session factory on a clean database; each concurrent task opens its own session."""
    return create_sessionmaker(engine, bus)
