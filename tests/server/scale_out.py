"""Podium as an operator runs it on several machines: `podium serve` processes and a Redis server of the
test's own (so it can be restarted), all separate OS processes on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import ADMIN_TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A redis-server of our own on a free port: stopped and started again at will, never the shared one."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        self.binary, self.directory, self.port = binary, directory, free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("our redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


class Serve:
    """`podium serve` as its own process; its output (stdout and stderr) goes to a file."""

    def __init__(self, directory: Path, env: dict[str, str], *, workers: int = 1, name: str = "serve") -> None:
        self.port = free_port()
        self.log = directory / f"{name}-{self.port}.log"
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")},
                    "PODIUM_ADMIN_TOKEN": ADMIN_TOKEN, **env}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "podium.server.cli", "serve", "--port", str(self.port),
                 "--workers", str(workers)], cwd=directory, env=full_env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()

    async def until_up(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=5) as client:
            for _ in range(1200):
                assert self.process.poll() is None, self.output()[-3000:]
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"podium serve did not answer within 60 s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


async def next_message(ws, deadline: float) -> dict:
    """The next graphql-transport-ws message that is not a ping (answered with a pong)."""
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no message before the deadline"
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] != "ping":
            return message
        await ws.send(json.dumps({"type": "pong"}))
