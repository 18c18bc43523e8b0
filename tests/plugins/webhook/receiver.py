"""A webhook receiver on 127.0.0.1 (Starlette under uvicorn in a thread) that records every request."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int


class WebhookReceiver:
    """Answers 503 to the first attempt of every event whose id `refuse_first` picks, 204 otherwise."""

    def __init__(self, port: int, refuse_first=lambda event_id: False) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks/podium"
        self.deliveries: list[Delivery] = []
        self._refuse_first = refuse_first
        self._lock = threading.Lock()
        self._server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/hooks/podium", self._receive, methods=["POST"])]),
                                                     host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key", "")
        with self._lock:
            first = not any(d.headers.get("idempotency-key") == key for d in self.deliveries)
            status = 503 if first and self._refuse_first(key) else 204
            self.deliveries.append(Delivery(dict(request.headers), body, status))
        return Response(status_code=status)

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("webhook receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def received(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)
