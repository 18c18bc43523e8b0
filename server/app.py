"""The composition root: settings, database, event bus, metrics and routes in one Starlette app."""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

from podium.core.db import check_writable, create_engine, create_sessionmaker
from podium.core.migrate import head_revision, schema_problem, schema_revision
from podium.core.events import EventBus
from podium.core.outbox import Dispatcher
from podium.core.services.periodic import start_periodic
from podium.core.plugins import Plugins, create_plugin_manager
from podium.core.services.conferencing import choose_conferencing
from podium.core.settings import Settings, SettingsError
from podium.schema.access.callers import TokenCheck
from podium.schema.context import REQUEST_ID_KEY
from podium.schema.limits import RETRY_AFTER_SECONDS

from .broadcast import broadcasting
from .calendar import ROUTES as CALENDAR_ROUTES
from .exports import ROUTES as EXPORT_ROUTES
from .graphiql import static_asset
from .logs import REQUEST_ID as CURRENT_REQUEST_ID
from .metrics import Metrics, mark_process_dead, metrics, watch_pool
from .shutdown import arm_sigterm_watchdog

log = logging.getLogger("podium.server")
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus
    plugins: Plugins
    tokens: TokenCheck = field(repr=False)
    dispatcher: Dispatcher | None = field(default=None, repr=False)
    metrics: Metrics = field(default_factory=Metrics, repr=False)
    schema_head: str = field(default_factory=head_revision)


async def healthz(request: Request) -> JSONResponse:
    """The process lives and answers: restart it if not. Says nothing about the database (see /readyz)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Route traffic here only when the database takes a write and its schema is this code's head."""
    state: AppState = request.app.state.podium
    try:
        await check_writable(state.engine)
        async with state.engine.connect() as conn:
            problem = schema_problem(await schema_revision(conn), state.schema_head)
    except Exception as exc:  # read-only, full or unreachable: say so, never 500
        log.warning("not ready: %s", exc)
        problem = f"the database does not take writes: {type(exc).__name__}"
    if problem:
        return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse({"status": "ready"})


class RequestIds:
    """Every HTTP answer carries X-Request-ID (the client's own when it sent a sane one), errors from
    any layer included, and the GraphQL context logs with the same id."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id")
        request_id = given if given and REQUEST_ID.fullmatch(given) else uuid.uuid4().hex[:16]
        scope[REQUEST_ID_KEY] = request_id
        CURRENT_REQUEST_ID.set(request_id)  # every log line of this request names it (server/logs.py)

        async def send_with_id(message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


def tune_garbage_collection() -> None:
    """A GraphQL response allocates ~100k short-lived objects; with the start-up heap frozen out of
    the collector and a larger young generation, collections stop costing a third of a request."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def graphql_app(state: AppState):
    """POST /graphql, GraphiQL on GET, graphql-transport-ws on the same path."""
    from podium.schema import schema
    from podium.schema.limits import CostLimits
    from podium.schema.throttle import Throttle
    from podium.schema.view import PodiumGraphQL

    from .graphiql import graphiql_page

    settings = state.settings
    return PodiumGraphQL(schema, state.sessions, state.bus, tokens=state.tokens,
                         max_body_bytes=settings.max_body_bytes, plugins=state.plugins,
                         graphiql_page=graphiql_page if settings.graphiql else None,
                         body_timeout_seconds=settings.body_timeout_seconds, introspection=settings.introspection,
                         cost_limits=CostLimits(settings.max_query_cost, settings.max_anonymous_query_cost),
                         throttle=Throttle(settings, key_prefix=settings.redis_prefix),
                         request_timeout=settings.request_timeout_seconds, observer=state.metrics)


ORIGIN = re.compile(r"https?://[^/\s]+")


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Browser pages on the listed origins may call the API with a bearer token (no cookies: credentials
    off); a listed origin must be scheme://host[:port], without a path, or it would never match."""
    origins = settings.cors_origins or ()
    if not origins:
        return []
    wrong = [o for o in origins if o != "*" and not ORIGIN.fullmatch(o)]
    if wrong:
        raise SettingsError(f"PODIUM_CORS_ORIGINS: an origin is scheme://host[:port] without a path, got {wrong!r}")
    return [Middleware(CORSMiddleware, allow_origins=list(origins), allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type", "Idempotency-Key"], allow_credentials=False,
                       expose_headers=["X-Request-ID", "Idempotent-Replayed"], max_age=600)]


async def _start_schedules(sessions, plugins, settings: Settings) -> None:
    """Periodic jobs (session completion, pruning, room calendars, LMS sync) planned; a database not
    answering yet only delays them to the next start (of this or any other process)."""
    try:
        await start_periodic(sessions, settings, plugins)
    except Exception as exc:
        log.warning("periodic jobs not planned: %s", exc)


def create_app(settings: Settings | None = None, extra_plugins: list[tuple[str, Any]] = ()) -> Starlette:
    """The app; plugins start and the outbox dispatcher runs in its lifespan (unless PODIUM_OUTBOX_IN_SERVE=false)."""
    settings = settings or Settings.from_env()
    engine = create_engine(settings.database_url, synchronous=settings.sqlite_synchronous,
                           statement_timeout=settings.request_timeout_seconds)
    bus = EventBus()
    plugins = create_plugin_manager(settings, extra_plugins)
    state = AppState(settings=settings, engine=engine, sessions=create_sessionmaker(engine, bus), bus=bus,
                     plugins=plugins, tokens=TokenCheck(engine, settings.admin_token))
    plugins.bind(state.sessions)
    watch_pool(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        tune_garbage_collection()
        disarm_watchdog = arm_sigterm_watchdog()
        await plugins.start()
        choose_conferencing(state.sessions, plugins.providers["conferencing"], settings.default_conferencing)
        for name, routes in plugins.routes.items():
            if routes:
                app.router.routes.append(Mount(f"/plugins/{name}", routes=routes))
        runner = None
        async with broadcasting(bus, settings):
            if settings.outbox_in_serve:
                await _start_schedules(state.sessions, plugins, settings)
                state.dispatcher = Dispatcher(state.sessions, plugins, settings,
                                              on_delivery=state.metrics.delivery_done)
                runner = asyncio.create_task(state.dispatcher.run())
            try:
                yield
            finally:
                if runner is not None:
                    state.dispatcher.stop()
                    await runner
                await plugins.stop()
                await engine.dispose()
                mark_process_dead(os.getpid())
                disarm_watchdog()

    graphql = graphql_app(state)
    routes = [Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", metrics),
              Route("/graphql", graphql, methods=["GET", "POST"]),
              WebSocketRoute("/graphql", graphql), *CALENDAR_ROUTES, *EXPORT_ROUTES]
    if settings.graphiql:
        routes.append(Route("/graphql/static/{asset:path}", static_asset))
    app = Starlette(routes=routes, middleware=[Middleware(RequestIds), *cors_middleware(settings)], lifespan=lifespan)
    app.state.podium = state
    return app
