"""Rate limits with the `limits` library: cost points per token (anonymous callers per client IP),
and failed sign-ins per client IP. In memory on one box, in Redis when PODIUM_REDIS_URL is set.

Each limit is a sliding window counter: N points per period, which behaves like a bucket of N
points refilled at N/period per second. A storage fault (Redis down) lets requests through, logged.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from podium.core.settings import Settings

log = logging.getLogger("podium.throttle")


class RateLimited(Exception):
    """Refused for now: try again in `retry_after` seconds (HTTP 429, extensions.code RATE_LIMITED)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, int(retry_after)


def token_key(token: str) -> str:
    """What a token's points are counted under: its hash, never the token itself."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32]


class Throttle:
    def __init__(self, settings: Settings, key_prefix: str = "podium") -> None:
        if settings.redis_url:
            url = settings.redis_url if settings.redis_url.startswith("async+") else f"async+{settings.redis_url}"
            storage = storage_from_string(url, implementation="redispy", key_prefix=key_prefix,
                                          wrap_exceptions=True)
        else:
            storage = MemoryStorage()
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        period = settings.rate_limit_seconds
        self.signed_in = _item(settings.rate_limit_points, period)
        self.anonymous = _item(settings.anonymous_rate_limit_points, period)
        self.auth_failures = _item(settings.auth_failure_limit, period)

    async def charge(self, key: str, signed_in: bool, cost: int) -> float | None:
        """Take `cost` points from the caller's bucket: None when taken, else seconds to wait."""
        item = self.signed_in if signed_in else self.anonymous
        if item is None:
            return None
        return await self._hit(item, (key,), min(max(cost, 1), item.amount))

    async def auth_blocked(self, ip: str) -> float | None:
        """Seconds to wait when this IP has failed to sign in too often, else None."""
        if self.auth_failures is None:
            return None
        try:
            if await self.limiter.test(self.auth_failures, "auth", ip):
                return None
            return await self._wait(self.auth_failures, "auth", ip)
        except StorageError as error:
            log.warning("rate limit storage unavailable, not throttling: %s", error)
            return None

    async def auth_failed(self, ip: str) -> None:
        if self.auth_failures is not None:
            await self._hit(self.auth_failures, ("auth", ip), 1)

    async def _hit(self, item, keys: tuple[str, ...], cost: int) -> float | None:
        try:
            if await self.limiter.hit(item, *keys, cost=cost):
                return None
            return await self._wait(item, *keys)
        except StorageError as error:
            log.warning("rate limit storage unavailable, not throttling: %s", error)
            return None

    async def _wait(self, item, *keys: str) -> float:
        stats = await self.limiter.get_window_stats(item, *keys)
        return max(1.0, math.ceil(stats.reset_time - time.time()))


def _item(points: int, period: int):
    return RateLimitItemPerSecond(points, period) if points else None
