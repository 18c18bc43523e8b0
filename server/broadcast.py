"""Committed events across processes and machines: Redis pub/sub under the event bus (PODIUM_REDIS_URL).

Every process publishes its own committed events to one channel and hands what the others published to
its own listeners. Publishing keeps commit order per process and retries while Redis is away. Redis
pub/sub keeps nothing for a subscriber that is away: after every (re)subscription the bus tells its
listeners to re-read, so a live subscription always ends on the committed state.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import deque

import redis.asyncio as redis
from redis.exceptions import RedisError

from podium.core.events import DomainEvent, EventBus
from podium.core.settings import Settings

log = logging.getLogger("podium.broadcast")

QUEUE_LIMIT = 10_000
"""Events waiting while Redis is away; past it the oldest go, and everyone re-reads once it is back."""
RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
PUBLISH_BATCH = 200


def _delay(failures: int) -> float:
    return RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1] if failures else 0.0


class RedisRelay:
    """The bus's relay: `send` queues (it runs right after a commit, in the committing task); a publisher
    task and a listener task do the network work, each reconnecting on its own."""

    def __init__(self, url: str, bus: EventBus, channel: str) -> None:
        self.url, self.bus, self.channel = url, bus, channel
        self.origin = uuid.uuid4().hex
        self.outgoing: deque[str] = deque()
        self.overflowed = False
        self.sending = False
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task] = []
        self.connected = asyncio.Event()  # set while the listener is subscribed (tests and /readyz-like checks)

    def send(self, events: list[DomainEvent]) -> None:
        for event in events:
            if len(self.outgoing) >= QUEUE_LIMIT:
                self.outgoing.popleft()
                self.overflowed = True
            self.outgoing.append(json.dumps({"origin": self.origin, "ordering_key": event.ordering_key,
                                             "event": event.as_json()}, separators=(",", ":")))
        self._wake.set()

    async def start(self, wait_seconds: float = 5.0) -> None:
        """Start publishing and listening; waits (a little) for the first subscription, so a process that
        answers requests already hears the others. Redis away only delays it: it keeps trying."""
        self.client = redis.Redis.from_url(self.url, socket_connect_timeout=5, socket_keepalive=True,
                                           health_check_interval=15)
        self._tasks = [asyncio.create_task(self._publish(), name="podium-broadcast-publish"),
                       asyncio.create_task(self._listen(), name="podium-broadcast-listen")]
        try:
            await asyncio.wait_for(self.connected.wait(), wait_seconds)
        except TimeoutError:
            log.warning("Redis at %s is not answering yet: live updates from other processes start once it does",
                        _safe(self.url))

    async def stop(self, flush_seconds: float = 2.0) -> None:
        """Publish what is queued (for a short while), then close."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(flush_seconds):
                while self.outgoing or self.sending:
                    self._wake.set()
                    await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()

    async def _publish(self) -> None:
        failures = 0
        while True:
            if not self.outgoing and not self.overflowed:
                self._wake.clear()
                await self._wake.wait()
            batch = [self.outgoing.popleft() for _ in range(min(len(self.outgoing), PUBLISH_BATCH))]
            resync, self.overflowed = self.overflowed, False
            self.sending = True
            try:
                async with self.client.pipeline(transaction=False) as pipe:
                    for message in batch:
                        pipe.publish(self.channel, message)
                    if resync:  # events were dropped: every process re-reads instead
                        pipe.publish(self.channel, json.dumps({"origin": self.origin, "resync": True}))
                    await pipe.execute()
            except (RedisError, OSError) as error:
                self._put_back(batch, resync)
                failures += 1
                if failures == 1:
                    log.warning("Redis publish failed, %d event(s) kept for a retry: %s", len(self.outgoing), error)
                await asyncio.sleep(_delay(failures))
                continue
            finally:
                self.sending = False
            if failures:
                log.info("Redis publish works again")
            failures = 0

    def _put_back(self, batch: list[str], resync: bool) -> None:
        """A batch that did not go out goes back in front, in order; past the limit the oldest go."""
        self.outgoing.extendleft(reversed(batch))
        self.overflowed = self.overflowed or resync
        while len(self.outgoing) > QUEUE_LIMIT:
            self.outgoing.popleft()
            self.overflowed = True

    async def _listen(self) -> None:
        failures = 0
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        if failures:
                            log.info("Redis subscription restored; live subscribers re-read")
                        failures = 0
                        self.connected.set()
                        self.bus.resync()  # whatever was published while we did not listen is re-read
                    elif message["type"] == "message":
                        self._deliver(message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                self.connected.clear()
                failures += 1
                if failures == 1:
                    log.warning("Redis subscription lost, reconnecting: %s", error)
                await asyncio.sleep(_delay(failures))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            if message.get("origin") == self.origin:
                return  # ours: delivered here when it was committed
            if message.get("resync"):
                self.bus.resync()
                return
            event = DomainEvent.from_json(message["event"], message.get("ordering_key"))
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignored a malformed message on %s: %s", self.channel, error)
            return
        self.bus.deliver([event])


def _safe(url: str) -> str:
    """The Redis URL without its password, for logs."""
    head, at, tail = url.rpartition("@")
    return f"{head.split('//', 1)[0]}//***@{tail}" if at else url


@contextlib.asynccontextmanager
async def broadcasting(bus: EventBus, settings: Settings):
    """The bus relays through Redis while the block runs, on channel `<PODIUM_REDIS_PREFIX>:events`
    (without PODIUM_REDIS_URL nothing changes: this process's listeners only)."""
    if not settings.redis_url:
        yield None
        return
    relay = RedisRelay(settings.redis_url, bus, f"{settings.redis_prefix}:events")
    await relay.start()
    bus.relay = relay
    try:
        yield relay
    finally:
        bus.relay = None
        await relay.stop()
