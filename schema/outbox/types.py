"""What an ADMIN sees of the outbox: counts per status and the messages, newest first."""
from __future__ import annotations

from datetime import datetime

import strawberry

from podium.core.models import OutboxMessage as OutboxRow
from podium.core.models import OutboxStatus as CoreOutboxStatus

from ..relay import Connection

OutboxStatus = strawberry.enum(CoreOutboxStatus, name="OutboxStatus")


@strawberry.type(description="Work for outside the database, written with the change that caused it.")
class OutboxMessage:
    pk: strawberry.Private[int]
    id: int = strawberry.field(description="The row id, as `podium outbox retry` takes it.")
    kind: str = strawberry.field(description="event, plugin_event, notification, reminder or plugin_call.")
    topic: str
    target: str | None = strawberry.field(description="The plugin, channel or provider it is for.")
    status: OutboxStatus
    attempts: int
    failing: bool = strawberry.field(description="Pending after at least one failed attempt.")
    deliver_after: datetime
    last_error: str | None
    idempotency_key: str
    created_at: datetime
    delivered_at: datetime | None


@strawberry.type
class OutboxMessageConnection(Connection[OutboxMessage]):
    pass


@strawberry.type(description="Messages per status; `failing` are PENDING after at least one failed attempt.")
class OutboxCounts:
    pending: int
    failing: int
    delivered: int
    dead: int


OUTBOX_COLUMNS = (OutboxRow.id, OutboxRow.kind, OutboxRow.topic, OutboxRow.target, OutboxRow.status,
                  OutboxRow.attempts, OutboxRow.deliver_after, OutboxRow.last_error, OutboxRow.idempotency_key,
                  OutboxRow.created_at, OutboxRow.delivered_at)


def outbox_message_from(v) -> OutboxMessage:
    """From a row with OUTBOX_COLUMNS."""
    status = CoreOutboxStatus(v.status)
    return OutboxMessage(pk=v.id, id=v.id, kind=v.kind, topic=v.topic, target=v.target, status=status,
                         attempts=v.attempts, failing=status is CoreOutboxStatus.PENDING and v.attempts > 0,
                         deliver_after=v.deliver_after, last_error=v.last_error, idempotency_key=v.idempotency_key,
                         created_at=v.created_at, delivered_at=v.delivered_at)
