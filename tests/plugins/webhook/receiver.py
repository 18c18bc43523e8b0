"""A webhook receiver (a Starlette app, served with tests.live_server.serve) that records every request."""
from __future__ import annotations

import threading
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = "/hooks/podium"


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int


class WebhookReceiver:
    """Answers 503 to the first attempt of every event whose id `refuse_first` picks, 204 otherwise."""

    def __init__(self, refuse_first=lambda event_id: False) -> None:
        self.url = ""                     # set once served: <base URL> + PATH
        self.deliveries: list[Delivery] = []
        self._refuse_first = refuse_first
        self._lock = threading.Lock()

    def app(self) -> Starlette:
        return Starlette(routes=[Route(PATH, self._receive, methods=["POST"])])

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            first = not any(d.headers.get("idempotency-key") == key for d in self.deliveries)
            status = 503 if first and self._refuse_first(key) else 204
            self.deliveries.append(Delivery(dict(request.headers), body, status))
        return Response(status_code=status)

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)
