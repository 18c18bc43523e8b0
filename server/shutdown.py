"""SIGTERM stops `podium serve` within its graceful timeout, whatever runs: uvicorn finishes what it
can in GRACEFUL_SECONDS; a watchdog thread ends the process a little later if it has not exited
(an event loop busy in Python code, a database call that does not return)."""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

GRACEFUL_SECONDS = 10
"""uvicorn's timeout_graceful_shutdown: in-flight requests get this long after SIGTERM."""
WATCHDOG_MARGIN_SECONDS = 5
"""After the graceful timeout, this long for the lifespan shutdown (outbox, plugins, engine)."""


def _force_exit() -> None:
    sys.stderr.write("podium: did not stop within the graceful timeout after SIGTERM; exiting now\n")
    sys.stderr.flush()
    os._exit(1)


def arm_sigterm_watchdog(seconds: float = GRACEFUL_SECONDS + WATCHDOG_MARGIN_SECONDS) -> Callable[[], None]:
    """Chain onto the server's SIGTERM/SIGINT handler: the first signal also starts the watchdog.
    Returns what puts the handlers back. Only the main thread may set signal handlers (an app
    served from a test thread gets none)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum, frame, previous=previous):
            if not any(t.name == "podium-sigterm-watchdog" for t in threading.enumerate()):
                timer = threading.Timer(seconds, _force_exit)
                timer.name, timer.daemon = "podium-sigterm-watchdog", True
                timer.start()
            previous(signum, frame)

        previous_handlers[sig] = previous
        signal.signal(sig, handler)

    def disarm() -> None:
        for sig, previous in previous_handlers.items():
            signal.signal(sig, previous)

    return disarm
