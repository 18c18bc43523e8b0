"""Backing up and restoring the embedded SQLite database; PostgreSQL is backed up with its own tools.

A backup is taken with SQLite's online backup API inside one read transaction, so it is a consistent
snapshot of the last commit before it started, while the server goes on writing (WAL mode).
"""
from __future__ import annotations

import os
import shlex
import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import URL, make_url

PAGES_PER_STEP = 1024
Progress = Callable[[int, int], None]       # (pages copied, pages in all)


class BackupError(RuntimeError):
    """A backup or restore was refused before anything was written; the message says why, in one line."""


def sqlite_file(database_url: str) -> Path | None:
    """The file of a SQLite database URL; None for any other database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        return None
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has no file to back up or restore")
    return Path(url.database)


def _libpq_url(database_url: str) -> str:
    """The URL as PostgreSQL's own tools take it, without the password (they read PGPASSWORD or ~/.pgpass)."""
    url = make_url(database_url)
    plain = URL.create("postgresql", username=url.username, host=url.host, port=url.port, database=url.database)
    return plain.render_as_string(hide_password=False)


def pg_dump_command(database_url: str, file: str) -> str:
    """The documented PostgreSQL backup: a consistent dump in pg_dump's custom format."""
    return f"pg_dump --format=custom --file={shlex.quote(file)} {shlex.quote(_libpq_url(database_url))}"


def pg_restore_command(database_url: str, file: str) -> str:
    return f"pg_restore --no-owner --dbname={shlex.quote(_libpq_url(database_url))} {shlex.quote(file)}"


def _refuse_existing(path: Path, what: str) -> None:
    for candidate in (path, Path(f"{path}-wal")):
        if candidate.exists():
            raise BackupError(f"{candidate} exists; {what} never overwrites a file: choose a new path")


def _copy(source: sqlite3.Connection, target_path: Path, progress: Progress | None) -> None:
    """Copy `source` page by page into a new file at `target_path`, written under a temporary name first
    so that an interrupted copy never looks like a finished one."""
    partial = Path(f"{target_path}.partial")
    partial.unlink(missing_ok=True)
    target = sqlite3.connect(partial)
    try:
        source.execute("BEGIN")  # one read transaction across every step: a snapshot, however busy the writers
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        source.backup(target, pages=PAGES_PER_STEP,
                      progress=(lambda _status, remaining, total: progress(total - remaining, total)) if progress else None)
        source.execute("ROLLBACK")
        problem = target.execute("PRAGMA integrity_check").fetchone()[0]
        if problem != "ok":
            raise BackupError(f"the copy fails its integrity check: {problem}")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    except BaseException:
        target.close()
        partial.unlink(missing_ok=True)
        raise
    target.close()
    os.replace(partial, target_path)


def backup_sqlite(database_url: str, file: str | Path, progress: Progress | None = None) -> int:
    """Write a consistent copy of the live database to `file` (which must not exist); returns its size in bytes."""
    source_path, target_path = sqlite_file(database_url), Path(file)
    if not source_path.is_file():
        raise BackupError(f"there is no database at {source_path}")
    _refuse_existing(target_path, "backup")
    source = sqlite3.connect(source_path, timeout=60, isolation_level=None)  # only read, never written
    try:
        _copy(source, target_path, progress)
    finally:
        source.close()
    return target_path.stat().st_size


def restore_sqlite(file: str | Path, database_url: str, progress: Progress | None = None) -> int:
    """Copy a backup to where `database_url` points, which must not hold a database yet; returns its size."""
    backup_path, target_path = Path(file), sqlite_file(database_url)
    if not backup_path.is_file():
        raise BackupError(f"there is no backup at {backup_path}")
    if target_path.exists() and target_path.stat().st_size > 0:
        raise BackupError(f"{target_path} already holds a database; restore only into a new path "
                          "(stop Podium, move the old file away, then restore)")
    if Path(f"{target_path}-wal").exists():
        raise BackupError(f"{target_path}-wal exists; restore only into a new path")
    source = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True, isolation_level=None)
    try:
        try:
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{backup_path} is not a SQLite database: {exc}") from None
        target_path.unlink(missing_ok=True)     # an empty file: nothing to lose
        _copy(source, target_path, progress)
    finally:
        source.close()
    return target_path.stat().st_size
