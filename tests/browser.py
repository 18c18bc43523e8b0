"""Debian's Chromium, headless, driven over its DevTools protocol (the `websockets` package): no
browser download, no driver. Every request to a host other than 127.0.0.1 is failed and recorded.

Without Chromium the browser tests skip; where CI is set they fail instead.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# The flags that work on a closed network (no background requests to Google's hosts).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--remote-debugging-port=0",
         "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"]


def chromium_path() -> str:
    """Debian's chromium; skips the test without it, fails it under CI."""
    path = os.environ.get("PODIUM_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    message = "Chromium is not installed (apt-get install -y chromium)"
    if os.environ.get("CI"):
        pytest.fail(message + ": the browser tests must run in CI")
    pytest.skip(message)


def require_graphiql_assets() -> None:
    """GraphiQL's files from `make install` (npm); skips without them, fails under CI."""
    from podium.server.graphiql import INSTALL_COMMAND, installed_assets

    if installed_assets() is None:
        message = f"GraphiQL's assets are not installed ({INSTALL_COMMAND})"
        if os.environ.get("CI"):
            pytest.fail(message + ": make install must fetch them in CI")
        pytest.skip(message)


class Page:
    """One tab in its own browser context (fresh storage), with requests off 127.0.0.1 blocked."""

    def __init__(self, browser: "Chromium", session_id: str) -> None:
        self.browser, self.session_id = browser, session_id
        self.blocked: list[str] = []  # URLs the page tried to reach off this machine
        self.requested: list[str] = []  # every URL the page asked for
        self.console: list[str] = []  # console calls, browser log entries (CSP refusals), exceptions

    async def send(self, method: str, **params: Any) -> dict:
        return await self.browser.send(method, params, self.session_id)

    async def on_event(self, message: dict) -> None:
        method, params = message["method"], message.get("params", {})
        if method == "Fetch.requestPaused":
            url = params["request"]["url"]
            self.requested.append(url)
            if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith("data:"):
                await self.send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                self.blocked.append(url)
                await self.send("Fetch.failRequest", requestId=params["requestId"], errorReason="BlockedByClient")
        elif method == "Runtime.consoleAPICalled":
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Log.entryAdded":
            self.console.append(f"{params['entry']['level']}: {params['entry']['text']}")
        elif method == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(params["exceptionDetails"])[:500])

    async def open(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete'")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); a thrown error fails the test."""
        result = await self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Poll until the expression is truthy; a deadline, not a timing assertion."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await self.evaluate(f"(v => v instanceof Node ? true : v)({expression})")
            if value:
                return value
            if asyncio.get_running_loop().time() > deadline:
                text = await self.evaluate("document.body ? document.body.innerText.slice(0, 2000) : ''")
                raise AssertionError(f"timed out waiting for {expression!r}; page shows:\n{text}\n"
                                     f"console: {self.console[-10:]}")
            await asyncio.sleep(0.05)

    async def click(self, selector: str) -> None:
        await self.wait_for(f"document.querySelector({json.dumps(selector)})")
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    async def fill(self, selector: str, value: str) -> None:
        """Set a field's value as typing would, so input and change listeners run."""
        await self.wait_for(f"document.querySelector({json.dumps(selector)})")
        await self.evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            el.focus(); el.value = {json.dumps(value)};
            el.dispatchEvent(new Event('input', {{bubbles: true}}));
            el.dispatchEvent(new Event('change', {{bubbles: true}})); }})()""")

    async def text(self, selector: str = "body") -> str:
        return await self.evaluate(f"document.querySelector({json.dumps(selector)}).innerText")

    async def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        shot = await self.send("Page.captureScreenshot", format="png")
        path = ARTIFACTS / name
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


class Chromium:
    """The browser process and its one DevTools WebSocket; replies and events are routed by id."""

    def __init__(self, process: subprocess.Popen, socket) -> None:
        self.process, self.socket = process, socket
        self.ids = itertools.count(1)
        self.waiting: dict[int, asyncio.Future] = {}
        self.pages: dict[str, Page] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if "id" in message:
                future = self.waiting.pop(message["id"], None)
                if future is not None and not future.done():
                    future.set_result(message)
            elif message.get("sessionId") in self.pages:
                asyncio.create_task(self.pages[message["sessionId"]].on_event(message))

    async def send(self, method: str, params: dict | None = None, session_id: str | None = None) -> dict:
        message_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[message_id] = future
        message = {"id": message_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        await self.socket.send(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply["result"]

    @asynccontextmanager
    async def page(self) -> AsyncIterator[Page]:
        context = (await self.send("Target.createBrowserContext"))["browserContextId"]
        target = (await self.send("Target.createTarget", {"url": "about:blank", "browserContextId": context}))["targetId"]
        session_id = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = self.pages[session_id] = Page(self, session_id)
        try:
            await page.send("Fetch.enable", patterns=[{"urlPattern": "*"}])
            await page.send("Runtime.enable")
            await page.send("Log.enable")
            await page.send("Page.enable")
            await page.send("Emulation.setDeviceMetricsOverride", width=1280, height=800, deviceScaleFactor=1,
                            mobile=False)
            yield page
        finally:
            self.pages.pop(session_id, None)
            await self.send("Target.disposeBrowserContext", {"browserContextId": context})


@asynccontextmanager
async def chromium() -> AsyncIterator[Chromium]:
    path = chromium_path()
    with tempfile.TemporaryDirectory(prefix="podium-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen([path, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            address = await asyncio.to_thread(_devtools_address, process)
            async with connect(address, max_size=None, ping_interval=None) as socket:
                browser = Chromium(process, socket)
                try:
                    yield browser
                finally:
                    browser.reader.cancel()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _devtools_address(process: subprocess.Popen) -> str:
    """Chromium prints `DevTools listening on ws://…` on stderr once it is ready."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        found = re.search(r"DevTools listening on (ws://\S+)", line)
        if found:
            # Keep draining stderr so Chromium never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return found.group(1)
    raise RuntimeError("Chromium exited before DevTools answered:\n" + "".join(seen[-20:]))


@contextmanager
def static_site(folder: Path):
    """`python -m http.server` on a free port of 127.0.0.1: a page on its own origin, as a portal team runs it."""
    process = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                                "--directory", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        line = process.stdout.readline()
        port = re.search(r"port (\d+)", line)
        if not port:
            raise RuntimeError(f"http.server did not start: {line}")
        threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
        yield f"http://127.0.0.1:{port.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
async def chromium_browser() -> AsyncIterator[Chromium]:
    """One Chromium for the whole run: each test opens pages in contexts of their own."""
    chromium_path()
    async with chromium() as running:
        yield running


@pytest.fixture
def sqlite_url(template_databases, tmp_path) -> str:
    """The browser tests are about HTTP and pages, not storage: SQLite alone keeps them fast."""
    target = tmp_path / "podium.db"
    shutil.copy(Path(template_databases["sqlite"].split("///", 1)[1]), target)
    return f"sqlite+aiosqlite:///{target}"
