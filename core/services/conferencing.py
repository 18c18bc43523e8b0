"""Which conferencing provider makes a session's meeting: the one it names, its course's default, the app's.

The composition root records what is loaded on the sessionmaker (`choose_conferencing`); services ask here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..errors import DomainError, ErrorCode
from ..models import DeliveryMode

CONFERENCED = (DeliveryMode.VIRTUAL, DeliveryMode.HYBRID)
MANUAL = "manual"
"""The provider of a meeting whose link staff entered by hand: no plugin makes, moves or ends it."""
CONFERENCING_INFO_KEY = "conferencing"


@dataclass(frozen=True)
class Conferencing:
    """The conferencing providers this process has loaded, and the default for a session that names none."""

    loaded: tuple[str, ...] = ()
    default: str | None = None         # a loaded provider, MANUAL, or None: no meetings unless a session asks


def choose_conferencing(sessions: async_sessionmaker[AsyncSession], providers: dict[str, Any],
                        default: str | None = None) -> Conferencing:
    """At start-up: a session that names no provider (and whose course names none) gets `default`
    (PODIUM_DEFAULT_CONFERENCING), else the first loaded provider; none loaded, no meetings."""
    loaded = tuple(providers)
    choice = Conferencing(loaded, default or next(iter(loaded), None))
    sessions.kw.setdefault("info", {})[CONFERENCING_INFO_KEY] = choice
    return choice


def conferencing(db: AsyncSession) -> Conferencing:
    """What the app runs with (set on the sessionmaker by the composition root)."""
    return db.info.get(CONFERENCING_INFO_KEY) or Conferencing()


def active_provider(db: AsyncSession) -> str | None:
    """The default conferencing provider of a session that names none (None: no meetings)."""
    return conferencing(db).default


def check_conferencing(db: AsyncSession, name: str | None, field: str = "conferencing") -> str | None:
    """A provider name as asked for (a session's, a course's default): a loaded provider or `manual`,
    else INVALID naming what is loaded. Blank is none."""
    name = (name or "").strip() or None
    choice = conferencing(db)
    if name is None or name == MANUAL or name in choice.loaded:
        return name
    loaded = ", ".join(choice.loaded) or "none"
    raise DomainError(ErrorCode.INVALID, f"No conferencing provider named {name[:64]!r} is loaded (loaded: {loaded}); "
                      f"or use {MANUAL!r} for a link entered by hand.", field)


def session_conferencing(db: AsyncSession, requested: str | None, course_default: str | None,
                         delivery_mode: DeliveryMode, join_url: str | None) -> str | None:
    """Who makes a new session's meeting: the provider it names, else its course's default, else the app's;
    `manual` (or a pasted `join_url`) means no plugin. None: the session has no meeting."""
    requested = check_conferencing(db, requested)
    if delivery_mode not in CONFERENCED:
        if requested is not None:
            raise DomainError(ErrorCode.INVALID, "Only virtual and hybrid sessions have a meeting.", "conferencing")
        return None
    if join_url is not None:
        if requested not in (None, MANUAL):
            raise DomainError(ErrorCode.INVALID, f"A link entered by hand goes with conferencing {MANUAL!r}, "
                              f"not {requested!r} (which makes its own).", "joinUrl")
        return MANUAL
    if requested is not None:
        return requested
    if course_default is not None:
        return check_conferencing(db, course_default)
    return active_provider(db)


