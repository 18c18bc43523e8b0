"""The outbox dispatcher (rule 7): delivers what a committed change wrote to `outbox_message`.

Kinds of message:
- `event`: a domain event (core.events.emit). Delivering it fans out, in one transaction, into one
  `plugin_event` per plugin with `podium_event`, one `notification` per recipient and channel, and a
  delayed `reminder`; each child has a deterministic idempotency key, so a re-run adds nothing twice
  and one failing consumer never holds back another.
- `plugin_event`, `notification`: handed to one plugin's `podium_event` or one channel's `deliver`.
- `reminder`: due `deliver_after`; becomes notifications unless the session moved or was cancelled.
- `plugin_call`: work for a provider (target = its name, topic = a name registered with `plugin_call`).

Events and due reminders are database work: a worker claims them a batch at a time and expands them
in the same transaction (no lease needed), each ordering key's messages in id order. Deliveries to
plugins are claimed under a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on
SQLite), so several processes share the work; a crashed worker's lease runs out and its messages
are taken again, with the same idempotency key. Messages of one consumer (kind, target) with the same
`ordering_key` go out in id order, which is commit order. Consumers take turns, and none has more than
its share of a process's deliveries under way, so one that hangs leaves the others their slots.
"""
from __future__ import annotations

import asyncio
import hashlib
import importlib
import logging
import os
import pkgutil
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from .audit import Actor, record_change
from .db import changing
from .errors import DomainError, ErrorCode
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
PRUNE_BATCH = 1000
LOCAL_KINDS = (EVENT_KIND, REMINDER_KIND)  # expanded by the dispatcher in the database, not handed to a plugin
LOCAL_BATCH = 200       # local messages claimed and expanded per transaction
INSERT_CHUNK = 500      # rows per multi-row INSERT (SQLite allows 32,766 bound values)
GATHER_SECONDS = 0.05  # after a wake-up, the dispatcher lets more commits arrive before it claims
LOCAL_CLAIM_LOCK = 0x706F6469756D  # PostgreSQL advisory lock: one worker at a time claims local messages


@dataclass(frozen=True)
class QueuedMessage:
    """One outbox message being delivered, as plain values: `payload`, `idempotency_key` (the same on every
    retry), `attempts` so far, `target`, `topic`."""

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
    for start in range(0, len(values), INSERT_CHUNK):  # in order: ids follow the list, so children keep it
        await db.execute(insert(OutboxMessage).values(values[start:start + INSERT_CHUNK])
                         .on_conflict_do_nothing(index_elements=["idempotency_key"]))


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


def import_core_services() -> None:
    """Plugin calls are registered where core services define them; a bare worker imports them all."""
    from . import services

    for module in pkgutil.iter_modules(services.__path__):
        importlib.import_module(f"{services.__name__}.{module.name}")


async def call_plugin(db: AsyncSession, *, provider: str, topic: str, payload: dict[str, Any], idempotency_key: str,
                      ordering_key: str | None = None, deliver_after: datetime | None = None) -> None:
    """From a core service, in its transaction: have `topic` performed for `provider`, after commit, with retries."""
    await enqueue(db, kind=PLUGIN_CALL_KIND, topic=topic, target=provider, payload=payload,
                  idempotency_key=idempotency_key, ordering_key=ordering_key, deliver_after=deliver_after)


# --- the dispatcher ------------------------------------------------------------------------------

def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter: anywhere between 0 and min(cap, base * 2^(attempts-1))."""
    return random.uniform(0, min(cap, base * 2 ** max(attempts - 1, 0)))


@dataclass
class Outcome:
    """How one delivery went; recorded with others in one transaction."""

    message: QueuedMessage
    error: str | None = None          # None: delivered
    exception: BaseException | None = None    # logged with its traceback


class Dispatcher:
    """Claims due messages and delivers them, `concurrency` at a time; `run()` until `stop()`.

    Writes are batched: one transaction claims, one fans out the claimed events, one records the
    outcomes of finished deliveries. A message counts against `concurrency` until its outcome is
    recorded, so a crash repeats at most `concurrency` deliveries.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], plugins: Any, settings: Settings,
                 owner: str | None = None,
                 on_delivery: Callable[[str, str | None, float, str | None], None] | None = None) -> None:
        self.sessions = sessions
        self.on_delivery = on_delivery  # (kind, target, seconds, error or None) after each attempt: metrics
        self.plugins = plugins
        self.settings = settings
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._outcomes: list[Outcome] = []
        self._unsubscribe = None
        import_core_services()
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
                free = expanded = 0
                claimed: list[QueuedMessage] = []
                try:
                    await self._record_outcomes()
                    expanded = await self.expand_due()
                    free = self.settings.outbox_concurrency - len(self._inflight) - len(self._outcomes)
                    if free > 0:
                        claimed = await self.claim(free)
                        await self._start(claimed)
                except Exception:  # the database is away: try again later, never die
                    log.exception("outbox dispatcher could not reach the database")
                if (claimed and len(claimed) == free) or expanded >= LOCAL_BATCH:
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.outbox_poll_seconds)
                    await asyncio.sleep(GATHER_SECONDS)  # a burst of commits is taken as one batch, not one each
                except TimeoutError:
                    pass
        finally:
            if self._inflight:
                await asyncio.wait(set(self._inflight), timeout=self.settings.outbox_timeout_seconds + 1)
                for task in self._inflight:
                    task.cancel()
                await asyncio.gather(*self._inflight, return_exceptions=True)
            try:
                await self._record_outcomes()
            except Exception:
                log.exception("outcomes of the last deliveries not recorded; they will be delivered again")
            if self._unsubscribe is not None:
                self._unsubscribe()
            log.info("outbox dispatcher %s stopped", self.owner)

    async def _start(self, claimed: list[QueuedMessage]) -> None:
        """Deliveries to plugins run as tasks."""
        for message in claimed:
            task = asyncio.create_task(self._deliver(message))
            self._inflight.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._inflight.discard(task)
        self.wake()

    # --- claiming -----------------------------------------------------------------------------

    @property
    def consumer_cap(self) -> int:
        """Deliveries one consumer may have under way here: fewer than all, so one that hangs leaves room."""
        return max(1, min(self.settings.outbox_consumer_concurrency, self.settings.outbox_concurrency - 1))

    async def claim(self, limit: int) -> list[QueuedMessage]:
        """Due deliveries, in turns: each consumer's oldest first, none past `consumer_cap` under way here.
        (Events and reminders are `expand_due`'s.)"""
        now = utc_now()
        async with self.sessions() as db:  # a plain read first: an idle poll takes no write lock
            if await db.scalar(select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.deliver_after <= now,
                    OutboxMessage.kind.not_in(LOCAL_KINDS)).limit(1)) is None:
                return []
        async with self.sessions() as db, changing(db):
            target = func.coalesce(OutboxMessage.target, "")
            earlier = aliased(OutboxMessage)
            held_back = exists().where(
                earlier.status == OutboxStatus.PENDING, earlier.ordering_key == OutboxMessage.ordering_key,
                earlier.kind == OutboxMessage.kind, func.coalesce(earlier.target, "") == target,
                earlier.id < OutboxMessage.id)
            under_way = (select(OutboxMessage.kind, target.label("target"), func.count().label("n")).where(
                OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.lease_owner == self.owner,
                OutboxMessage.leased_until >= now).group_by(OutboxMessage.kind, target).subquery())
            free = (OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.deliver_after <= now,
                    OutboxMessage.kind.not_in(LOCAL_KINDS),
                    or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now))
            due = (select(OutboxMessage.id, (func.coalesce(under_way.c.n, 0) + func.row_number().over(
                partition_by=(OutboxMessage.kind, target), order_by=OutboxMessage.id)).label("turn"))
                .outerjoin(under_way, and_(under_way.c.kind == OutboxMessage.kind, under_way.c.target == target))
                .where(*free, ~held_back).subquery())
            # `free` again on the locked rows: PostgreSQL re-checks it there if another worker just leased one
            query = (select(OutboxMessage.id).join(due, due.c.id == OutboxMessage.id)
                     .where(due.c.turn <= self.consumer_cap, *free).order_by(due.c.turn, OutboxMessage.id).limit(limit))
            if db.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=OutboxMessage)
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

    # --- delivering to plugins -------------------------------------------------------------------

    async def _deliver(self, message: QueuedMessage) -> None:
        started, error, failure = time.monotonic(), None, None
        try:
            async with asyncio.timeout(self.settings.outbox_timeout_seconds):
                await self._hand_over(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin's failure or time-out: recorded and retried, never raised
            error = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            failure = exc
        self._outcomes.append(Outcome(message, error, failure))
        if self.on_delivery is not None:
            self.on_delivery(message.kind, message.target, time.monotonic() - started, error)

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
            call = self._plugin_call(message.topic)
            if call is None:
                raise LookupError(f"no plugin call registered for {message.topic!r}")
            await call.perform(self, message)
        else:
            raise LookupError(f"unknown outbox message kind {message.kind!r}")

    def _plugin_call(self, topic: str) -> PluginCall | None:
        """A core service's topic, or one a plugin registered (`podium_outbox_topics`)."""
        return PLUGIN_CALLS.get(topic) or (self.plugins.topics.get(topic) if self.plugins is not None else None)

    # --- fan-out and reminders: database work, all or nothing --------------------------------

    async def expand_due(self) -> int:
        """Claim due events and reminders and expand them in the same transaction, up to LOCAL_BATCH
        at a time (no lease needed: the claim and its outcome commit together). Returns how many.

        If the lot fails, they go one at a time, so one bad message fails alone, and holds back only
        the messages after it with its ordering key."""
        now = utc_now()
        async with self.sessions() as db:  # a plain read first: an idle poll takes no write lock
            if await db.scalar(select(OutboxMessage.id).where(
                    OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.kind.in_(LOCAL_KINDS),
                    OutboxMessage.deliver_after <= now).limit(1)) is None:
                return 0
        messages: list[QueuedMessage] = []
        try:
            async with self.sessions() as db, changing(db):
                messages = await self._due_local(db, now, LOCAL_BATCH)
                await self._expand_lot(db, messages)
            return len(messages)
        except Exception:
            if not messages:
                raise
        done, failed = 0, []
        for _ in messages:
            message = None
            try:
                async with self.sessions() as db, changing(db):
                    found = await self._due_local(db, utc_now(), 1, failed)
                    if not found:
                        break
                    message = found[0]
                    await self._expand_lot(db, found)
                done += 1
            except Exception as exc:
                if message is None:
                    raise
                failed.append(message)
                async with self.sessions() as db, changing(db):
                    await self._record_failure(db, Outcome(message, f"{type(exc).__name__}: {exc}", exc), utc_now(),
                                               leased=False)
        return done

    async def _due_local(self, db: AsyncSession, now: datetime, limit: int,
                         failed: list[QueuedMessage] = ()) -> list[QueuedMessage]:
        """Due events and reminders in id order; of one ordering key only those before any that waits
        (backing off, or under way elsewhere), so the key's messages are expanded in order."""
        target = func.coalesce(OutboxMessage.target, "")
        waiting = (select(OutboxMessage.kind, target.label("target"), OutboxMessage.ordering_key,
                          func.min(OutboxMessage.id).label("first"))
                   .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.ordering_key.is_not(None),
                          or_(OutboxMessage.deliver_after > now, OutboxMessage.leased_until >= now))
                   .group_by(OutboxMessage.kind, target, OutboxMessage.ordering_key).subquery())
        query = (select(OutboxMessage.id, OutboxMessage.kind, OutboxMessage.topic, OutboxMessage.target,
                        OutboxMessage.ordering_key, OutboxMessage.payload, OutboxMessage.idempotency_key,
                        OutboxMessage.attempts)
                 .outerjoin(waiting, and_(waiting.c.kind == OutboxMessage.kind, waiting.c.target == target,
                                          waiting.c.ordering_key == OutboxMessage.ordering_key))
                 .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.kind.in_(LOCAL_KINDS),
                        OutboxMessage.deliver_after <= now,
                        or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now),
                        or_(waiting.c.first.is_(None), OutboxMessage.id < waiting.c.first))
                 .order_by(OutboxMessage.id).limit(limit))
        for message in failed:  # failed in this pass: neither it nor what follows it under its key
            query = query.where(OutboxMessage.id != message.id, or_(
                OutboxMessage.kind != message.kind, target != (message.target or ""),
                OutboxMessage.ordering_key.is_(None), OutboxMessage.ordering_key != message.ordering_key))
        if db.bind.dialect.name == "postgresql":  # one claimer of local messages at a time keeps each key's order
            await db.execute(select(func.pg_advisory_xact_lock(LOCAL_CLAIM_LOCK)))
            query = query.with_for_update(of=OutboxMessage)
        return [QueuedMessage(*row) for row in (await db.execute(query)).all()]

    async def _expand_lot(self, db: AsyncSession, messages: list[QueuedMessage]) -> None:
        """Every message's children in message order (one multi-row INSERT), every message DELIVERED
        (one UPDATE, and one per message that carries a note)."""
        children: list[dict[str, Any]] = []
        notes: dict[int, str] = {}
        for message in messages:
            more, note = await self._children(db, message)
            children += more
            if note is not None:
                notes[message.id] = note
        await enqueue_many(db, children)
        now = utc_now()
        done = [m.id for m in messages if m.id not in notes]
        for ids, note in ([(done, None)] if done else []) + [([i], n) for i, n in notes.items()]:
            await db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(
                status=OutboxStatus.DELIVERED, delivered_at=now, attempts=OutboxMessage.attempts + 1,
                leased_until=None, lease_owner=None, last_error=note).execution_options(synchronize_session=False))

    async def _children(self, db: AsyncSession, message: QueuedMessage) -> tuple[list[dict[str, Any]], str | None]:
        """What an event fans out into, or a due reminder becomes; and a note when it becomes nothing."""
        from .notifications import notifications_for_event, reminder_for_event, reminder_notifications

        if message.kind == EVENT_KIND:
            event = message.payload
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
            return children, None
        planned = await reminder_notifications(db, message.payload, self.settings)
        if planned is None:
            return [], "skipped: the session moved or was cancelled"
        return [child for p in planned for child in self._per_channel(p, message.idempotency_key,
                                                                       message.ordering_key)], None

    def _per_channel(self, planned: dict[str, Any], key_prefix: str, ordering_key: str | None) -> list[dict[str, Any]]:
        """One message per channel; ordered per session and recipient, so one bad address holds back no one else."""
        if ordering_key is not None:
            ordering_key = f"{ordering_key}:{hashlib.sha256(planned['to'].encode()).hexdigest()[:16]}"
        return [dict(kind=NOTIFICATION_KIND, topic=planned["kind"], target=channel, payload=planned,
                     ordering_key=ordering_key,
                     idempotency_key=f"{key_prefix}:{channel}:{planned['to']}:{planned['kind']}")
                for channel in self.plugins.channels_for(planned["kind"])]

    # --- recording outcomes ------------------------------------------------------------------------

    async def _record_outcomes(self) -> None:
        """Write every finished delivery in one transaction; kept for the next try if the database is away."""
        if not self._outcomes:
            return
        outcomes, self._outcomes = self._outcomes, []
        now = utc_now()
        dead: list[Outcome] = []
        try:
            async with self.sessions() as db, changing(db):
                delivered = [o.message.id for o in outcomes if o.error is None]
                if delivered:
                    await db.execute(update(OutboxMessage).where(OutboxMessage.id.in_(delivered)).values(
                        status=OutboxStatus.DELIVERED, delivered_at=now, attempts=OutboxMessage.attempts + 1,
                        leased_until=None, lease_owner=None, last_error=None)
                        .execution_options(synchronize_session=False))
                for outcome in outcomes:
                    if outcome.error is not None:
                        if await self._record_failure(db, outcome, now):
                            dead.append(outcome)
        except Exception:
            self._outcomes[:0] = outcomes
            raise
        for outcome in dead:
            call = self._plugin_call(outcome.message.topic) if outcome.message.kind == PLUGIN_CALL_KIND else None
            if call is not None and call.on_dead is not None:
                try:
                    await call.on_dead(self, outcome.message, outcome.error)
                except Exception:
                    log.exception("on_dead of plugin call %s failed", outcome.message.topic)

    async def _record_failure(self, db: AsyncSession, outcome: Outcome, now: datetime, leased: bool = True) -> bool:
        """Back off, or DEAD after the last attempt; True when it just died. A leased message only while
        this worker still holds it; an unleased one (see `expand_due`) while it is still PENDING."""
        message = outcome.message
        attempts = message.attempts + 1
        dead = attempts >= self.settings.outbox_max_attempts
        delay = backoff_delay(attempts, self.settings.outbox_backoff_seconds, self.settings.outbox_backoff_max_seconds)
        log.warning("outbox message %s (%s %s -> %s) failed, attempt %d%s: %s", message.id, message.kind,
                    message.topic, message.target or "-", attempts, ", now DEAD" if dead else f", again in {delay:.1f}s",
                    outcome.error, exc_info=outcome.exception)
        held = OutboxMessage.lease_owner == self.owner if leased else OutboxMessage.status == OutboxStatus.PENDING
        result = await db.execute(update(OutboxMessage).where(OutboxMessage.id == message.id, held).values(
            status=OutboxStatus.DEAD if dead else OutboxStatus.PENDING, attempts=attempts,
            deliver_after=now + timedelta(seconds=delay), leased_until=None, lease_owner=None,
            last_error=outcome.error[:MAX_ERROR_CHARS]).execution_options(synchronize_session=False))
        return dead and bool(result.rowcount)


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


async def prune_delivered(sessions: async_sessionmaker[AsyncSession], before: datetime,
                          progress: Callable[[int], None] | None = None) -> int:
    """Delete DELIVERED messages delivered before `before`, a batch per short transaction so writers keep
    their turn; PENDING and DEAD ones stay whatever their age. Returns how many went."""
    pruned = 0
    while True:
        async with sessions() as db, changing(db):
            ids = list((await db.scalars(select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.DELIVERED, OutboxMessage.delivered_at < before)
                .order_by(OutboxMessage.id).limit(PRUNE_BATCH))).all())
            if ids:
                await db.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids))
                                 .execution_options(synchronize_session=False))
        pruned += len(ids)
        if progress is not None and ids:
            progress(len(ids))
        if len(ids) < PRUNE_BATCH:
            return pruned


async def prunable(db: AsyncSession, before: datetime) -> int:
    """How many delivered messages `prune_delivered` would delete now."""
    return await db.scalar(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.status == OutboxStatus.DELIVERED, OutboxMessage.delivered_at < before)) or 0


async def retry_message(db: AsyncSession, actor: Actor, message_id: int) -> None:
    """One message back in line now, attempts reset, audited: what `podium outbox retry` and GraphQL do.

    Only a DEAD message, or a PENDING one no worker holds (it is backing off); one under way is refused,
    or clearing its lease would let a second worker deliver it again. Call inside `changing(db)`.
    """
    row = (await db.execute(select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error,
                                   OutboxMessage.leased_until)
                            .where(OutboxMessage.id == message_id).with_for_update())).first()
    now = utc_now()
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No outbox message with that id.", "id")
    if row.status is OutboxStatus.DELIVERED:
        raise DomainError(ErrorCode.INVALID, "That message was delivered; there is nothing to retry.", "id")
    if row.leased_until is not None and row.leased_until >= now:
        raise DomainError(ErrorCode.INVALID, "A worker is delivering that message right now; "
                                             "retry it if this attempt fails.", "id")
    await db.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(
        status=OutboxStatus.PENDING, attempts=0, deliver_after=now, leased_until=None, lease_owner=None)
        .execution_options(synchronize_session=False))
    record_change(db, actor, "outbox.retry", "OutboxMessage", message_id,
                  {"status": row.status.value, "attempts": row.attempts, "last_error": row.last_error},
                  {"status": OutboxStatus.PENDING.value, "attempts": 0})
