"""The outbox dispatcher (rule 7): delivers what a committed change wrote to `outbox_message`.

Kinds of message:
- `event`: a domain event (core.events.emit). Delivering it fans out, in one transaction, into one
  `plugin_event` per plugin with `podium_event`, one `notification` per recipient and channel, and a
  delayed `reminder`; each child has a deterministic idempotency key, so a re-run adds nothing twice
  and one failing consumer never holds back another.
- `plugin_event`, `notification`: handed to one plugin's `podium_event` or one channel's `deliver`.
- `reminder`: due `deliver_after`; becomes notifications unless the session moved or was cancelled.
- `plugin_call`: work for a provider (target = its name, topic = a name registered with `plugin_call`).

Workers claim due messages under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE`
on SQLite), so several processes share the work; a crashed worker's lease runs out and its messages
are taken again, with the same idempotency key. Messages of one consumer (kind, target) with the same
`ordering_key` go out in id order, which is commit order.
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from .db import changing
from .events import EVENT_KIND, DomainEvent
from .instants import utc_now
from .models import OutboxMessage, OutboxStatus
from .settings import Settings

log = logging.getLogger("podium.outbox")

PLUGIN_EVENT_KIND = "plugin_event"
NOTIFICATION_KIND = "notification"
REMINDER_KIND = "reminder"
PLUGIN_CALL_KIND = "plugin_call"
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class QueuedMessage:
    """A claimed message as plain values (no ORM object outlives its transaction)."""

    id: int
    kind: str
    topic: str
    target: str | None
    ordering_key: str | None
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


# --- writing messages ------------------------------------------------------------------------

async def enqueue(db: AsyncSession, *, kind: str, topic: str, idempotency_key: str, payload: dict[str, Any],
                  target: str | None = None, ordering_key: str | None = None,
                  deliver_after: datetime | None = None) -> None:
    """Add a message in the caller's transaction; a message with the same idempotency key is kept, not doubled."""
    await enqueue_many(db, [dict(kind=kind, topic=topic, idempotency_key=idempotency_key, payload=payload,
                                 target=target, ordering_key=ordering_key, deliver_after=deliver_after)])


async def enqueue_many(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    now = utc_now()
    values = [{"status": OutboxStatus.PENDING, "attempts": 0, "created_at": now, "target": None,
               "ordering_key": None, **row, "deliver_after": row.get("deliver_after") or now} for row in rows]
    insert = pg_insert if db.bind.dialect.name == "postgresql" else sqlite_insert
    await db.execute(insert(OutboxMessage).values(values).on_conflict_do_nothing(index_elements=["idempotency_key"]))


# --- plugin calls: work a core service hands to a provider ------------------------------------

@dataclass(frozen=True)
class PluginCall:
    perform: Callable[["Dispatcher", QueuedMessage], Awaitable[None]]
    on_dead: Callable[["Dispatcher", QueuedMessage, str], Awaitable[None]] | None = None


PLUGIN_CALLS: dict[str, PluginCall] = {}


def plugin_call(topic: str, *, on_dead: Callable[["Dispatcher", QueuedMessage, str], Awaitable[None]] | None = None):
    """Register how a `plugin_call` message of `topic` is performed, and what happens once it is DEAD.

    `perform(dispatcher, message)` finds its provider with `dispatcher.plugins.provider(kind, message.target)`,
    passes `message.idempotency_key` on, and writes the result back in its own `changing()` transaction.
    """
    def register(perform: Callable[["Dispatcher", QueuedMessage], Awaitable[None]]):
        PLUGIN_CALLS[topic] = PluginCall(perform, on_dead)
        return perform
    return register


async def call_plugin(db: AsyncSession, *, provider: str, topic: str, payload: dict[str, Any], idempotency_key: str,
                      ordering_key: str | None = None, deliver_after: datetime | None = None) -> None:
    """From a core service, in its transaction: have `topic` performed for `provider`, after commit, with retries."""
    await enqueue(db, kind=PLUGIN_CALL_KIND, topic=topic, target=provider, payload=payload,
                  idempotency_key=idempotency_key, ordering_key=ordering_key, deliver_after=deliver_after)


# --- the dispatcher ------------------------------------------------------------------------------

def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: anywhere between 0 and min(cap, base * 2^(attempts-1))."""
    return random.uniform(0, min(cap, base * 2 ** max(attempts - 1, 0)))


class Dispatcher:
    """Claims due messages and delivers them, `concurrency` at a time; `run()` until `stop()`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], plugins: Any, settings: Settings,
                 owner: str | None = None) -> None:
        self.sessions = sessions
        self.plugins = plugins
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._unsubscribe = None
        bus = sessions.kw.get("info", {}).get("bus")
        if bus is not None:  # committed changes in this process wake us at once
            self._unsubscribe = bus.subscribe(lambda _event: self.wake())

    @property
    def lease(self) -> timedelta:
        """Longer than a delivery may take (its timeout), so a live worker never loses a message it holds."""
        return timedelta(seconds=max(self.settings.outbox_lease_seconds, self.settings.outbox_timeout_seconds + 1))

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    async def run(self) -> None:
        log.info("outbox dispatcher %s started", self.owner)
        try:
            while not self._stop.is_set():
                self._wake.clear()
                free = self.settings.outbox_concurrency - len(self._inflight)
                claimed: list[QueuedMessage] = []
                if free > 0:
                    try:
                        claimed = await self.claim(free)
                    except Exception:  # the database is away: try again later, never die
                        log.exception("outbox claim failed")
                for message in claimed:
                    task = asyncio.create_task(self.process(message))
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
                if claimed and len(claimed) == free:
                    continue
                if not claimed or free <= 0:
                    try:
                        await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_seconds)
                    except TimeoutError:
                        pass
        finally:
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=self.settings.outbox_timeout_seconds + 1)
                for task in self._inflight:
                    task.cancel()
            if self._unsubscribe is not None:
                self._unsubscribe()
            log.info("outbox dispatcher %s stopped", self.owner)

    def _done(self, task: asyncio.Task) -> None:
        self._inflight.discard(task)
        self.wake()

    async def deliver_due(self) -> int:
        """Deliver everything due now, then return how many messages were handled (for tests and one-shot runs)."""
        handled = 0
        while claimed := await self.claim(self.settings.outbox_concurrency):
            await asyncio.gather(*(self.process(m) for m in claimed))
            handled += len(claimed)
        return handled

    # --- claiming -----------------------------------------------------------------------------

    async def claim(self, limit: int) -> list[QueuedMessage]:
        now = utc_now()
        async with self.sessions() as db:  # a plain read first: an idle poll takes no write lock
            if await db.scalar(select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.deliver_after <= now).limit(1)) is None:
                return []
        async with self.sessions() as db, changing(db):
            earlier = aliased(OutboxMessage)
            held_back = exists().where(
                earlier.status == OutboxStatus.PENDING, earlier.ordering_key == OutboxMessage.ordering_key,
                earlier.kind == OutboxMessage.kind,
                func.coalesce(earlier.target, "") == func.coalesce(OutboxMessage.target, ""),
                earlier.id < OutboxMessage.id)
            query = (select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.deliver_after <= now,
                or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now), ~held_back)
                .order_by(OutboxMessage.id).limit(limit))
            if db.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list((await db.scalars(query)).all())
            if not ids:
                return []
            await db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                             .values(leased_until=now + self.lease, lease_owner=self.owner)
                             .execution_options(synchronize_session=False))
            rows = (await db.execute(select(
                OutboxMessage.id, OutboxMessage.kind, OutboxMessage.topic, OutboxMessage.target,
                OutboxMessage.ordering_key, OutboxMessage.payload, OutboxMessage.idempotency_key,
                OutboxMessage.attempts).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id))).all()
        return [QueuedMessage(*row) for row in rows]

    # --- delivering -----------------------------------------------------------------------------

    async def process(self, message: QueuedMessage) -> None:
        try:
            if message.kind == EVENT_KIND:
                await self._fan_out(message)          # one transaction that also marks it delivered
                return
            if message.kind == REMINDER_KIND:
                await self._remind(message)
                return
            async with asyncio.timeout(self.settings.outbox_timeout_seconds):
                await self._hand_over(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin's failure or time-out: recorded and retried, never raised
            error = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            await self._failed(message, error)
            return
        try:
            await self._delivered(message)
        except Exception:  # delivered but not recorded: the lease runs out, it goes again with the same key
            log.exception("could not record the delivery of outbox message %s", message.id)

    async def _hand_over(self, message: QueuedMessage) -> None:
        from .notifications import notification_from_message

        if message.kind == PLUGIN_EVENT_KIND:
            payload = message.payload
            event = DomainEvent(id=payload["id"], type=payload["type"],
                                occurred_at=datetime.fromisoformat(payload["occurred_at"]),
                                payload=payload["payload"], ordering_key=message.ordering_key)
            await self.plugins.send_event(message.target, event)
        elif message.kind == NOTIFICATION_KIND:
            channel = self.plugins.provider("channels", message.target)
            await channel.deliver(notification_from_message(message, self.settings))
        elif message.kind == PLUGIN_CALL_KIND:
            call = PLUGIN_CALLS.get(message.topic)
            if call is None:
                raise LookupError(f"no plugin call registered for {message.topic!r}")
            await call.perform(self, message)
        else:
            raise LookupError(f"unknown outbox message kind {message.kind!r}")

    async def _fan_out(self, message: QueuedMessage) -> None:
        from .notifications import notifications_for_event, reminder_for_event

        event = message.payload
        async with self.sessions() as db, changing(db):
            children = [dict(kind=PLUGIN_EVENT_KIND, topic=message.topic, target=plugin, payload=event,
                             ordering_key=message.ordering_key, idempotency_key=f"{event['id']}:event:{plugin}")
                        for plugin in self.plugins.event_receivers()]
            if self.plugins.channels:
                for planned in await notifications_for_event(db, event, self.settings):
                    children += self._per_channel(planned, f"{event['id']}", message.ordering_key)
            reminder = reminder_for_event(event, self.settings)
            if reminder is not None:
                children.append(dict(kind=REMINDER_KIND, topic="session.reminder", payload=reminder["payload"],
                                     idempotency_key=f"{event['id']}:reminder",
                                     deliver_after=reminder["deliver_after"]))
            await enqueue_many(db, children)
            await self._mark_delivered(db, message)

    async def _remind(self, message: QueuedMessage) -> None:
        from .notifications import reminder_notifications

        async with self.sessions() as db, changing(db):
            planned = await reminder_notifications(db, message.payload, self.settings)
            children = [child for p in planned or []
                        for child in self._per_channel(p, message.idempotency_key, message.ordering_key)]
            await enqueue_many(db, children)
            await self._mark_delivered(db, message, "skipped: the session moved or was cancelled"
                                       if planned is None else None)

    def _per_channel(self, planned: dict[str, Any], key_prefix: str, ordering_key: str | None) -> list[dict[str, Any]]:
        """One message per channel; ordered per session and recipient, so one bad address holds back no one else."""
        if ordering_key is not None:
            ordering_key = f"{ordering_key}:{hashlib.sha256(planned['to'].encode()).hexdigest()[:16]}"
        return [dict(kind=NOTIFICATION_KIND, topic=planned["kind"], target=channel, payload=planned,
                     ordering_key=ordering_key,
                     idempotency_key=f"{key_prefix}:{channel}:{planned['to']}:{planned['kind']}")
                for channel in self.plugins.channels]

    async def _mark_delivered(self, db: AsyncSession, message: QueuedMessage, note: str | None = None) -> None:
        await db.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(
            status=OutboxStatus.DELIVERED, delivered_at=utc_now(), attempts=OutboxMessage.attempts + 1,
            leased_until=None, lease_owner=None, last_error=note).execution_options(synchronize_session=False))

    async def _delivered(self, message: QueuedMessage) -> None:
        async with self.sessions() as db, changing(db):
            await self._mark_delivered(db, message)

    async def _failed(self, message: QueuedMessage, error: str) -> None:
        attempts = message.attempts + 1
        dead = attempts >= self.settings.outbox_max_attempts
        delay = backoff_delay(attempts, self.settings.outbox_backoff_seconds, self.settings.outbox_backoff_max_seconds)
        log.warning("outbox message %s (%s %s -> %s) failed, attempt %d%s: %s", message.id, message.kind,
                    message.topic, message.target or "-", attempts, ", now DEAD" if dead else f", again in {delay:.1f}s",
                    error)
        try:
            async with self.sessions() as db, changing(db):
                await db.execute(update(OutboxMessage).where(
                    OutboxMessage.id == message.id, OutboxMessage.lease_owner == self.owner).values(
                    status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING, attempts=attempts,
                    deliver_after=utc_now() + timedelta(seconds=delay), leased_until=None, lease_owner=None,
                    last_error=error[:MAX_ERROR_CHARS]).execution_options(synchronize_session=False))
        except Exception:  # the lease runs out and the message is tried again
            log.exception("could not record the failure of outbox message %s", message.id)
            return
        call = PLUGIN_CALLS.get(message.topic) if message.kind == PLUGIN_CALL_KIND else None
        if dead and call is not None and call.on_dead is not None:
            try:
                await call.on_dead(self, message, error)
            except Exception:
                log.exception("on_dead of plugin call %s failed", message.topic)


# --- what operators see: `podium outbox list|retry` and the GraphQL outbox query -----------------

async def outbox_overview(db: AsyncSession, statuses: list[OutboxStatus] | None = None, failing_only: bool = False,
                          limit: int = 50) -> tuple[dict[str, int], list[OutboxMessage]]:
    """Counts per status (and `FAILING`: pending after at least one failed attempt), and the latest matching rows."""
    counts = {status.value: 0 for status in OutboxStatus}
    for status, n in (await db.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all():
        counts[status.value] = n
    counts["FAILING"] = await db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0)) or 0
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if statuses:
        query = query.where(OutboxMessage.status.in_(statuses))
    if failing_only:
        query = query.where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.attempts > 0)
    return counts, list((await db.scalars(query)).all())


async def retry_messages(db: AsyncSession, ids: list[int] | None = None, all_dead: bool = False) -> int:
    """Put DEAD (or backing-off) messages back in line now; call inside `changing(db)`. Returns how many."""
    if not ids and not all_dead:
        return 0
    condition = OutboxMessage.status == OutboxStatus.DEAD if all_dead else and_(
        OutboxMessage.id.in_(ids or []), OutboxMessage.status != OutboxStatus.DELIVERED)
    result = await db.execute(update(OutboxMessage).where(condition).values(
        status=OutboxStatus.PENDING, attempts=0, deliver_after=utc_now(), leased_until=None, lease_owner=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0
