"""GET /metrics: Prometheus text that prometheus_client's own parser reads; who may read it; what it counts."""
from __future__ import annotations

import asyncio
import json
import time

import httpx
import websockets
from prometheus_client.parser import text_string_to_metric_families

from podium.core import hookimpl
from podium.core.settings import Settings
from podium.server.app import create_app
from tests.dispatching import QUICK, eventually
from tests.live_server import serve
from tests.server import graph as g
from tests.server.conftest import ADMIN_TOKEN, Api
from tests.server.scale_out import Serve, next_message

METRICS_TOKEN = "metrics-token-0123456789abcdefghijklmnop"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a scrape, read by prometheus_client's parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scrape: dict, name: str, **labels) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(client: httpx.AsyncClient, **headers) -> dict:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


class Receiver:
    """A plugin that takes every event: its deliveries are what the delivery metrics count."""

    @hookimpl
    def podium_event(self, event, settings):
        return None


async def test_requests_errors_outbox_and_deliveries_are_counted(database_url):
    settings = Settings(database_url=database_url, admin_token=ADMIN_TOKEN, plugins=(), **QUICK)
    app = create_app(settings, extra_plugins=[("receiver", Receiver())])
    with serve(app, lifespan="on") as url:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            api = Api(client)
            before = await scrape(client)
            for _ in range(3):
                answer = await client.post("/graphql", json={"query": "query Probe { __typename }",
                                                             "operationName": "Probe"})
                assert answer.status_code == 200
            assert (await client.post("/graphql", json={"query": "{ nope }"})).json()["errors"]
            assert (await client.post("/graphql", json={"query": "{ __typename }"},
                                      headers={"Authorization": "Bearer wrong"})).status_code == 401
            session = await g.session(api, await g.course(api), [await g.instructor(api)])  # session.scheduled
            after = await scrape(client)
            assert value(after, "podium_graphql_requests_total", operation="Probe") - \
                value(before, "podium_graphql_requests_total", operation="Probe") == 3
            assert value(after, "podium_graphql_request_seconds_count", operation="Probe") - \
                value(before, "podium_graphql_request_seconds_count", operation="Probe") == 3
            assert value(after, "podium_graphql_errors_total", code="UNAUTHENTICATED") - \
                value(before, "podium_graphql_errors_total", code="UNAUTHENTICATED") == 1
            assert value(after, "podium_graphql_errors_total", code="GRAPHQL_VALIDATION") - \
                value(before, "podium_graphql_errors_total", code="GRAPHQL_VALIDATION") == 1
            assert session
            assert ("podium_db_connections_in_use", ()) in after
            assert ("podium_subscriptions_open", ()) in after

            delivered = ("podium_outbox_delivery_attempts_total",
                         (("consumer", "plugin_event:receiver"), ("outcome", "delivered")))
            await eventually(lambda: _delivered(client, delivered, before), what="a delivery counted")
            done = await scrape(client)
            assert value(done, "podium_outbox_delivery_seconds_count", consumer="plugin_event:receiver") >= 1

            async def none_pending() -> bool:  # the outcome is written just after the attempt is counted
                return value(await scrape(client), "podium_outbox_messages", status="PENDING",
                             consumer="plugin_event:receiver") == 0
            await eventually(none_pending, what="the delivered message no longer PENDING")


async def _delivered(client, key, before) -> bool:
    return (await scrape(client)).get(key, 0) > before.get(key, 0)


async def test_outbox_depth_is_read_from_the_database(database_url):
    """Without a dispatcher (ASGI transport: no lifespan), the event a change wrote stays PENDING."""
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://podium.test") as client:
        api = Api(client)
        before = await scrape(client)
        assert value(before, "podium_outbox_messages", status="PENDING", consumer="event") == 0
        course, lead = await g.course(api), await g.instructor(api)
        await g.session(api, course, [lead], starts_at=g.at(days=7))
        await g.session(api, course, [lead], starts_at=g.at(days=8))
        after = await scrape(client)
        assert value(after, "podium_outbox_messages", status="PENDING", consumer="event") == 2
        assert value(after, "podium_outbox_oldest_pending_seconds", consumer="event") >= 0
    await app.state.podium.engine.dispose()


async def test_who_may_read_metrics(database_url):
    open_app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    token_app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, metrics_token=METRICS_TOKEN))
    try:
        async def status(app, client=("127.0.0.1", 5000), **headers) -> int:
            transport = httpx.ASGITransport(app, client=client)
            async with httpx.AsyncClient(transport=transport, base_url="http://podium.test") as http:
                answer = await http.get("/metrics", headers=headers)
                if answer.status_code != 200:
                    assert answer.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
                return answer.status_code

        assert await status(open_app) == 200                                  # this machine
        assert await status(open_app, client=("::1", 5000)) == 200
        assert await status(open_app, client=("10.1.2.3", 5000)) == 403       # another machine
        assert await status(open_app, **{"X-Forwarded-For": "203.0.113.9"}) == 403  # through a proxy here
        assert await status(token_app, client=("10.1.2.3", 5000),
                            Authorization=f"Bearer {METRICS_TOKEN}") == 200
        assert await status(token_app, client=("10.1.2.3", 5000), Authorization="Bearer wrong") == 403
        assert await status(token_app) == 403                                # the token is the only way in
        assert await status(token_app, Authorization=f"Bearer {ADMIN_TOKEN}") == 403
    finally:
        await open_app.state.podium.engine.dispose()
        await token_app.state.podium.engine.dispose()


async def test_counts_add_up_across_two_workers(tmp_path):
    """`podium serve --workers 2`: the request counter rises by exactly the requests sent, whichever
    worker answered each (and both did); an open subscription shows in the other worker's scrape too."""
    server = Serve(tmp_path, {"PODIUM_LOG_FORMAT": "json", "PODIUM_PLUGINS": "webhook"}, workers=2)
    sent = 40
    try:
        await server.until_up()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            before = await scrape(client)
        for n in range(sent):  # a connection each, so the kernel hands them to either worker
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
                answer = await client.post("/graphql", json={"query": "query Count { __typename }",
                                                             "operationName": "Count"},
                                           headers={"X-Request-ID": f"count-{n}"})
                assert answer.status_code == 200
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
            after = await scrape(client)
        assert value(after, "podium_graphql_requests_total", operation="Count") - \
            value(before, "podium_graphql_requests_total", operation="Count") == sent

        async with websockets.connect(f"ws://127.0.0.1:{server.port}/graphql",
                                      subprotocols=["graphql-transport-ws"]) as ws:
            deadline = time.monotonic() + 30
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}))
            assert (await next_message(ws, deadline))["type"] == "connection_ack"
            async with httpx.AsyncClient(base_url=server.base, timeout=30) as client:
                api = Api(client)
                session = await g.session(api, await g.course(api), [await g.instructor(api)])
                await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
                    "query": "subscription($id: ID!) { sessionChanged(sessionId: $id) { id } }",
                    "variables": {"id": session}}}))

                async def one_open():
                    async with httpx.AsyncClient(base_url=server.base, timeout=30) as fresh:  # either worker
                        return value(await scrape(fresh), "podium_subscriptions_open") == 1
                await eventually(one_open, what="the subscription counted")
    finally:
        server.stop()
    pids = {json.loads(line)["pid"] for line in server.output().splitlines()
            if line.startswith("{") and '"count-' in line}
    assert len(pids) == 2, "both workers answered some of the requests"
