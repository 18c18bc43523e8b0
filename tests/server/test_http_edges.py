"""The HTTP edge against a real uvicorn: a body that does not arrive in time is 408, a client that
leaves mid-body is one INFO line, and `podium serve` hands uvicorn its limits."""
from __future__ import annotations

import logging
import socket
import time

from podium.core.settings import Settings
from podium.server.app import create_app
from podium.server.cli import uvicorn_limits
from tests.live_server import serve
from tests.server.conftest import ADMIN_TOKEN

HEAD = (b"POST /graphql HTTP/1.1\r\nHost: podium.test\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n")


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_all(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_body_that_does_not_arrive_in_time_is_408_and_the_connection_closes(database_url):
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN, body_timeout_seconds=0.5))
    with serve(app) as url, _connect(url) as sock:
        sock.sendall(HEAD + b'{"query":')  # 9 of the 100 bytes promised, then nothing
        answer = _read_all(sock)  # uvicorn closes the connection after the answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"x-request-id:" in head.lower()
    assert b'"code":"TIMEOUT"' in body


def test_a_client_leaving_mid_body_is_one_info_line(database_url, caplog):
    app = create_app(Settings(database_url=database_url, admin_token=ADMIN_TOKEN))
    caplog.set_level(logging.INFO)
    with serve(app) as url:
        for _ in range(3):
            with _connect(url) as sock:
                sock.sendall(HEAD + b'{"query":')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(_lines(caplog, "disconnected")) < 3:
            time.sleep(0.05)
    assert len(_lines(caplog, "disconnected")) == 3, caplog.text
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in _lines(caplog, "disconnected"))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == [], caplog.text


def _lines(caplog, word: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("podium") and word in r.getMessage()]


def test_serve_hands_uvicorn_its_limits():
    settings = Settings.from_env({"PODIUM_LIMIT_CONCURRENCY": "50", "PODIUM_KEEP_ALIVE_SECONDS": "2.5",
                                  "PODIUM_MAX_INCOMPLETE_EVENT_BYTES": "8192"})
    assert uvicorn_limits(settings) == {"limit_concurrency": 50, "timeout_keep_alive": 2.5,
                                        "h11_max_incomplete_event_size": 8192}
