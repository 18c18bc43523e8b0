"""GET /metrics: Prometheus text format (prometheus-client).

With `--workers N` each worker writes its counters to files in PROMETHEUS_MULTIPROC_DIR (made and
cleared by `podium serve`) and the worker that answers a scrape adds them all up. The outbox depth
is not counted by anyone: it is read from the database at each scrape.

Who may read it: with PODIUM_METRICS_TOKEN set, callers presenting it as a bearer token; without it,
only clients on this machine (loopback) that came through no proxy.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
import logging
import re

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from podium.core.instants import utc_now
from podium.core.models import OutboxMessage, OutboxStatus

log = logging.getLogger("podium.server")
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
MAX_OPERATIONS = 200
"""Distinct operation names one process labels; clients choose them, so past this they count as `other`."""
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter("podium_graphql_requests", "GraphQL requests over HTTP, by operation name", ["operation"])
REQUEST_SECONDS = Histogram("podium_graphql_request_seconds", "Time to answer a GraphQL request over HTTP",
                            ["operation"], buckets=LATENCY_BUCKETS)
ERRORS = Counter("podium_graphql_errors", "GraphQL errors answered, by extensions.code", ["code"])
DELIVERIES = Counter("podium_outbox_delivery_attempts", "Outbox delivery attempts, by consumer and outcome",
                     ["consumer", "outcome"])
DELIVERY_SECONDS = Histogram("podium_outbox_delivery_seconds", "Time one delivery attempt took, by consumer",
                             ["consumer"], buckets=LATENCY_BUCKETS)
POOL_IN_USE = Gauge("podium_db_connections_in_use", "Database connections checked out of the pool",
                    multiprocess_mode="livesum")
SUBSCRIPTIONS = Gauge("podium_subscriptions_open", "GraphQL subscriptions running", multiprocess_mode="livesum")


class Metrics:
    """The GraphQL view's observer (schema.view.Observer) and the dispatcher's, for this process."""

    def __init__(self) -> None:
        self.operations: set[str] = set()

    def _operation(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not isinstance(name, str) or not OPERATION_NAME.fullmatch(name):
            return "other"
        if name not in self.operations:
            if len(self.operations) >= MAX_OPERATIONS:
                return "other"
            self.operations.add(name)
        return name

    def request_done(self, operation: str | None, seconds: float, error_codes: list[str]) -> None:
        label = self._operation(operation)
        REQUESTS.labels(label).inc()
        REQUEST_SECONDS.labels(label).observe(seconds)
        for code in error_codes:
            ERRORS.labels(code).inc()

    def subscription_opened(self) -> None:
        SUBSCRIPTIONS.inc()

    def subscription_closed(self) -> None:
        SUBSCRIPTIONS.dec()

    def delivery_done(self, kind: str, target: str | None, seconds: float, error: str | None) -> None:
        consumer = f"{kind}:{target}" if target else kind
        DELIVERIES.labels(consumer, "failed" if error else "delivered").inc()
        DELIVERY_SECONDS.labels(consumer).observe(seconds)


def watch_pool(engine: AsyncEngine) -> None:
    """Count connections in use as the pool hands them out and takes them back."""
    @event.listens_for(engine.sync_engine, "checkout")
    def checked_out(*_args) -> None:
        POOL_IN_USE.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def checked_in(*_args) -> None:
        POOL_IN_USE.dec()


async def outbox_depth(sessions: async_sessionmaker[AsyncSession]) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    """Messages waiting (PENDING) and given up (DEAD) per consumer, and how old the oldest waiting one is."""
    target = func.coalesce(OutboxMessage.target, "")
    async with sessions() as db:
        rows = (await db.execute(
            select(OutboxMessage.status, OutboxMessage.kind, target, func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.DEAD)))
            .group_by(OutboxMessage.status, OutboxMessage.kind, target))).all()
    depth = GaugeMetricFamily("podium_outbox_messages", "Outbox messages PENDING or DEAD, by consumer",
                              labels=["status", "consumer"])
    oldest = GaugeMetricFamily("podium_outbox_oldest_pending_seconds", "Age of the oldest PENDING message, "
                               "by consumer", labels=["consumer"])
    now = utc_now()
    for status, kind, target_name, count, first in rows:
        consumer = f"{kind}:{target_name}" if target_name else kind
        depth.add_metric([status.value, consumer], count)
        if status is OutboxStatus.PENDING and first is not None:
            oldest.add_metric([consumer], max((now - first).total_seconds(), 0.0))
    return depth, oldest


class _Fixed:
    """A collector of metrics read just now (the outbox depth)."""

    def __init__(self, families) -> None:
        self.families = families

    def collect(self):
        return self.families


def may_read(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    client = request.scope.get("client")
    if not client or "x-forwarded-for" in request.headers or "forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


async def metrics(request: Request) -> Response:
    state = request.app.state.podium
    if not may_read(request, state.settings.metrics_token):
        return JSONResponse({"errors": [{"message": "Metrics are for this machine, or for callers with "
                                         "PODIUM_METRICS_TOKEN as a bearer token.", "extensions": {"code": "FORBIDDEN"}}]},
                            status_code=403)
    registry = REGISTRY
    if os.environ.get(MULTIPROC_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    body = generate_latest(registry)
    try:
        families = await outbox_depth(state.sessions)
    except Exception as exc:  # the database is away: the process's own metrics still answer
        log.warning("outbox depth not read for /metrics: %s", exc)
        families = ()
    fixed = CollectorRegistry()
    fixed.register(_Fixed(families))
    return Response(body + generate_latest(fixed), media_type=CONTENT_TYPE_LATEST)


def mark_process_dead(pid: int) -> None:
    """A worker that ends takes its live gauges (connections, subscriptions) out of the sums."""
    if os.environ.get(MULTIPROC_DIR):
        multiprocess.mark_process_dead(pid)
