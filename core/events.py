"""Domain events: written to the outbox in the change's transaction (rule 7), and
handed to in-process listeners (live subscriptions) once that transaction commits."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from .instants import utc_now
from .models import OutboxMessage

EVENT_KIND = "event"


@dataclass(frozen=True)
class DomainEvent:
    id: str
    type: str
    occurred_at: datetime
    payload: dict[str, Any]
    ordering_key: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "occurred_at": self.occurred_at.isoformat(), "payload": self.payload}


@dataclass
class EventBus:
    """In-process fan-out of committed events (one per process; Redis can extend it across workers)."""

    listeners: list[Callable[[DomainEvent], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[DomainEvent], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)

    def publish(self, events: list[DomainEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)


def emit(db: AsyncSession, type_: str, payload: dict[str, Any], ordering_key: str | None = None) -> DomainEvent:
    """Write one event to the outbox in the current transaction."""
    event = DomainEvent(id=str(uuid.uuid4()), type=type_, occurred_at=utc_now(), payload=payload,
                        ordering_key=ordering_key)
    db.add(OutboxMessage(kind=EVENT_KIND, topic=type_, ordering_key=ordering_key, payload=event.as_json(),
                         idempotency_key=event.id))
    db.info.setdefault("pending_events", []).append(event)
    return event


def take_pending_events(db: AsyncSession) -> list[DomainEvent]:
    return db.info.pop("pending_events", [])
