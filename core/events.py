"""Domain events: written to the outbox in the change's transaction (rule 7), and handed to live
listeners once that transaction commits: this process's at once, every other process's through a relay."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from .instants import utc_now
from .models import OutboxMessage, OutboxStatus

EVENT_KIND = "event"
log = logging.getLogger("podium.events")


@dataclass(frozen=True)
class DomainEvent:
    id: str
    type: str
    occurred_at: datetime
    payload: dict[str, Any]
    ordering_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at.isoformat(), "payload": self.payload}

    @classmethod
    def from_json(cls, data: dict[str, Any], ordering_key: str | None = None) -> "DomainEvent":
        return cls(id=data["id"], type=data["type"], occurred_at=datetime.fromisoformat(data["occurred_at"]),
                   payload=data["payload"], ordering_key=ordering_key)


RESYNC = "podium.resync"
"""Not a domain event: the bus may have missed events (its relay reconnected), so listeners re-read."""


class Relay(Protocol):
    """Carries committed events to the other processes (server/broadcast.py: Redis pub/sub)."""

    def send(self, events: list[DomainEvent]) -> None: ...


@dataclass
class EventBus:
    """Committed events to this process's listeners (live subscriptions, the dispatcher's wake-up) at
    once, and through `relay`, when there is one, to every other process's listeners."""

    listeners: list[Callable[[DomainEvent], None]] = field(default_factory=list)
    relay: Relay | None = None

    def subscribe(self, listener: Callable[[DomainEvent], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, events: list[DomainEvent]) -> None:
        """Called after the commit that wrote `events`."""
        self.deliver(events)
        if self.relay is not None:
            self.relay.send(events)

    def deliver(self, events: list[DomainEvent]) -> None:
        """Hand events to this process's listeners only (the relay's receiving end calls this too)."""
        for event in events:
            for listener in list(self.listeners):
                try:
                    listener(event)
                except Exception:  # one broken listener must not starve the others
                    log.exception("event listener failed on %s", event.type)

    def resync(self) -> None:
        """Tell every listener that events may have been missed (they re-read what they show)."""
        self.deliver([DomainEvent(id=str(uuid.uuid4()), type=RESYNC, occurred_at=utc_now(), payload={})])


def event_row(db: AsyncSession, type_: str, payload: dict[str, Any], ordering_key: str | None
              ) -> tuple[DomainEvent, dict[str, Any]]:
    """An event and the values of its outbox row (`OUTBOX_TABLE`), handed to live listeners once the
    transaction commits: for `emit`, or for statements that write it with other
    rows (core.db.insert_rows)."""
    now = utc_now()
    event = DomainEvent(id=str(uuid.uuid4()), type=type_, occurred_at=now, payload=payload, ordering_key=ordering_key)
    db.info.setdefault("pending_events", []).append(event)
    return event, {"kind": EVENT_KIND, "topic": type_, "target": None, "ordering_key": ordering_key,
                   "payload": event.as_json(), "idempotency_key": event.id, "status": OutboxStatus.PENDING,
                   "attempts": 0, "deliver_after": now, "created_at": now}


def emit(db: AsyncSession, type_: str, payload: dict[str, Any], ordering_key: str | None = None) -> DomainEvent:
    """Write one event to the outbox in the current transaction (with its next flush)."""
    event, row = event_row(db, type_, payload, ordering_key)
    db.add(OutboxMessage(**row))
    return event


OUTBOX_TABLE = OutboxMessage.__table__
def take_pending_events(db: AsyncSession) -> list[DomainEvent]:
    return db.info.pop("pending_events", [])
