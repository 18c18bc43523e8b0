"""A cheap catalogue query at rest and while 4 clients loop the most expensive query Podium accepts,
in the same run, against one `podium serve`-like uvicorn worker on the sessions bench's database
(10,000 sessions, 200,000 enrolments; built by bench/sessions_page.py's code if missing).

Phases (each measurement lasts --seconds, so the run stops by itself, in about 2 minutes):
  0. the audit's expensive queries are refused before they run: their cost, limit and time;
  1. the expensive candidates are timed alone; the slowest one accepted is the abusers' query;
  2. with rate limits off (PODIUM_RATE_LIMIT_POINTS=0): only the cost limit bounds the abusers;
  3. with the default rate limits: each abuser has its own coordinator token.
Each prints p50/p99 of the cheap query at rest and under abuse and the ratio of the p99s (goal <= 5x).

    .venv/bin/python bench/abuse.py [--seconds 15] [--db /tmp/podium-bench-abuse.db]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sessions_page import build_database, free_port, serve  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-bench-admin-token"
GOAL = 5.0
CHEAP = "{ courses(first: 10) { edges { node { id code title } } } }"
# The most an operation may cost is 50,000 objects; these stay under it and make the server work hardest.
EXPENSIVE = {
    "nested course sessions, 2 aliases": """{
      a: sessions(first: 100) { edges { node { course { sessions(first: 100) { edges { node { id title } } } } } } }
      b: sessions(first: 100, filter: {from: "2027-06-01T00:00:00+00:00"}) { edges { node {
           course { sessions(first: 100) { edges { node { id title } } } } } } } }""",
    "rosters with learners, 2 aliases": """{
      a: sessions(first: 100) { edges { node { enrollments(first: 100) { edges { node { learner { name } } } } } } }
      b: sessions(first: 100, filter: {from: "2027-06-01T00:00:00+00:00"}) { edges { node {
           enrollments(first: 64) { edges { node { learner { name } } } } } } } }""",
    "sessions page with bookings and rosters": """{ sessions(first: 100) { edges { node {
      title seatsTaken course { title } room { name } instructors { name } bookings { role startsAt }
      enrollments(first: 100) { edges { node { status learner { name email } } } } } } } }""",
}

# The audit's queries (issue 9), refused before they run: as staff and without a token.
REFUSED = {
    "staff: 30 aliases of sessions>enrollments>session>enrollments(100)>learner": "{ " + " ".join(
        f"a{i}: sessions {{ edges {{ node {{ enrollments {{ edges {{ node {{ session {{ enrollments(first: 100) {{ "
        f"edges {{ node {{ learner {{ name }} }} }} }} }} }} }} }} }} }} }}" for i in range(30)) + " }",
    "anonymous: sessions>course>sessions>course>sessions": "{ sessions { edges { node { course { sessions { edges {"
        " node { course { sessions { edges { node { title } } } } } } } } } } } }",
}


async def show_refusals(client: httpx.AsyncClient, url: str) -> None:
    for label, query in REFUSED.items():
        token = ADMIN_TOKEN if label.startswith("staff") else None
        times = []
        for _ in range(2):  # the first parses and validates; the second comes from the caches
            t0 = time.perf_counter()
            response = await post(client, url, query, token)
            times.append((time.perf_counter() - t0) * 1000)
        error = response.json()["errors"][0]["extensions"]
        print(f"  refused ({response.status_code}): {label}\n    {error['code']} cost {error['cost']} limit "
              f"{error['limit']} in {times[0]:.1f} ms (first time), {times[1]:.1f} ms (again)")


async def post(client: httpx.AsyncClient, url: str, query: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post(url, json={"query": query}, headers=headers)


async def cheap_latencies(client: httpx.AsyncClient, url: str, seconds: float) -> list[float]:
    """The cheap query, one after another, for `seconds` (at least 100 of them)."""
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 100:
        t0 = time.perf_counter()
        response = await post(client, url, CHEAP)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200 and "errors" not in response.json(), response.text[:300]
    return times


def p(times: list[float], q: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def pick_expensive(client: httpx.AsyncClient, url: str) -> str:
    """Each candidate alone (after a warm-up), as staff; the slowest accepted one."""
    slowest, name = 0.0, None
    for label, query in EXPENSIVE.items():
        await post(client, url, query, ADMIN_TOKEN)
        t0 = time.perf_counter()
        response = await post(client, url, query, ADMIN_TOKEN)
        took = time.perf_counter() - t0
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, response.text[:300]
        print(f"  alone: {label:48s} cost {body['extensions']['cost']:6d}  {took * 1000:7.0f} ms  "
              f"{len(response.content) / 1e6:5.2f} MB")
        if took > slowest:
            slowest, name = took, label
    return name


async def mint_tokens(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
    """Coordinator tokens for the first learners: each abuser its own bucket."""
    tokens = []
    for pk in range(1, count + 1):
        from podium.core.ids import to_global_id

        response = await post(client, url, 'mutation { issueToken(input: {personId: "%s", role: COORDINATOR}) '
                                           '{ token errors { message } } }' % to_global_id("Person", pk), ADMIN_TOKEN)
        tokens.append(response.json()["data"]["issueToken"]["token"])
    return tokens


async def phase(url: str, query: str, tokens: list[str], seconds: float) -> tuple[list[float], list[float], dict]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await cheap_latencies(client, url, 1)  # warm-up
        rest = await cheap_latencies(client, url, seconds)
        stop, counts = asyncio.Event(), {"accepted": 0, "rate limited": 0, "other": 0}

        async def abuser(token: str) -> None:
            async with httpx.AsyncClient(timeout=120) as own:
                while not stop.is_set():
                    response = await post(own, url, query, token)
                    key = {200: "accepted", 429: "rate limited"}.get(response.status_code, "other")
                    counts[key] += 1
                    if response.status_code == 429:
                        # A polite client would wait Retry-After; an abusive one retries at once.
                        await asyncio.sleep(0)

        abusers = [asyncio.create_task(abuser(token)) for token in tokens]
        await asyncio.sleep(1)  # the abusers are under way
        under = await cheap_latencies(client, url, seconds)
        stop.set()
        await asyncio.gather(*abusers)
    return rest, under, counts


def report(title: str, rest: list[float], under: list[float], counts: dict) -> None:
    ratio = p(under, 0.99) / p(rest, 0.99)
    print(f"{title}\n  at rest      p50 {p(rest, 0.5):7.1f} ms   p99 {p(rest, 0.99):7.1f} ms   ({len(rest)} requests)\n"
          f"  under abuse  p50 {p(under, 0.5):7.1f} ms   p99 {p(under, 0.99):7.1f} ms   ({len(under)} requests; "
          f"abusers' requests: {counts})\n"
          f"  p99 ratio {ratio:6.1f}x   (goal <= {GOAL:.0f}x: {'met' if ratio <= GOAL else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15, help="length of each measurement")
    parser.add_argument("--db", type=Path, default=Path("/tmp/podium-bench-abuse.db"))
    args = parser.parse_args()
    if not args.db.exists():
        build_database(args.db)
    from podium.core.migrate import upgrade

    upgrade(f"sqlite+aiosqlite:///{args.db}")  # a database built by an older version
    os.environ.update(PODIUM_ADMIN_TOKEN=ADMIN_TOKEN, PODIUM_OUTBOX_IN_SERVE="false")
    for title, points in (("cost limit only (PODIUM_RATE_LIMIT_POINTS=0)", "0"),
                          ("cost limit and the default rate limits", "")):
        os.environ["PODIUM_RATE_LIMIT_POINTS"] = points
        port = free_port()
        process = serve("podium.server.app:create_app", port, args.db)
        url = f"http://127.0.0.1:{port}/graphql"
        try:
            async def run():
                async with httpx.AsyncClient(timeout=120) as client:
                    for _ in range(20):
                        await post(client, url, CHEAP)  # the server's own first requests warm it up
                    await show_refusals(client, url)
                    name = await pick_expensive(client, url)
                    tokens = await mint_tokens(client, url, 4)
                print(f"  the abusers loop: {name}")
                return await phase(url, EXPENSIVE[name], tokens, args.seconds)

            rest, under, counts = asyncio.run(run())
            report(title, rest, under, counts)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
