"""`podium serve` in which Resource.bookings blocks the event loop for an hour: the worst a request
can do, and what SIGTERM must still stop (test_timeouts.py runs it as a subprocess)."""
from __future__ import annotations

import sys
import time

from podium.schema.scheduling import queries
from podium.server.cli import app


async def blocking_bookings(info, resource, from_, to):
    time.sleep(3600)  # not awaited: nothing else in the process runs meanwhile
    return []


if __name__ == "__main__":
    queries.resource_bookings = blocking_bookings
    sys.argv = ["podium", *sys.argv[1:]]
    app()
