"""Auto-scheduling (issue 16): how fast the CP-SAT timetable is found, and how good it is.

Three seeded instances with a planted feasible timetable (core/planning/generate.py: hours on the
resources' own clocks in three time zones across the 2027 DST changes, qualifications with expiry, time
off, outside bookings, room capacities and features, cohorts, travel between venues):

    50 sessions /   8 instructors /  4 rooms (4 venues, 2 time zones), 8 weeks   - the demo's size
   200 sessions /  30 instructors / 15 rooms (8 venues),               4 weeks
 1,000 sessions / 100 instructors / 40 rooms (20 venues),             12 weeks

For each, solves with a time limit of 10 s and of 60 s (`--quick`: 5 s and 20 s) and prints the time to
the first timetable and to the first with every session placed, the final status, sessions placed,
objective, bound and gap. Then the 200-session
instance is filled by first fit (requests in window order, each session at its earliest start with the
first free qualified instructor and room: a coordinator with a spreadsheet), scored by the same
objective, and the ratio printed. Goals: 50 sessions OPTIMAL under 2 s; 200 sessions feasible (every
session placed) within 10 s and gap at most 5% within 60 s; 1,000 sessions feasible within 60 s; the
solver beats first fit.

    .venv/bin/python bench/planning.py [--quick] [--only 50,200,1000] [--workers N]
"""
from __future__ import annotations

import argparse
import os
import time

from podium.core.planning.explain import precheck
from podium.core.planning.generate import ZONES, generate
from podium.core.planning.greedy import first_fit
from podium.core.planning.model import UNPLACED, build
from podium.core.planning.solve import _Values, score, solve

CASES = {
    "50": dict(sessions=50, instructors=8, rooms=4, venues=4, weeks=8, zones=ZONES[:2]),
    "200": dict(sessions=200, instructors=30, rooms=15, venues=8, weeks=4),
    "1000": dict(sessions=1000, instructors=100, rooms=40, venues=20, weeks=12),
}
SEED = 1


def shown(value, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def run(name: str, limits: tuple[float, ...], workers: int | None) -> dict:
    instance = generate(SEED, **CASES[name])
    problem = instance.problem
    results = {}
    for limit in limits:
        started = time.monotonic()
        solution = solve(problem, time_limit=limit, num_workers=workers)
        wall = time.monotonic() - started
        results[limit] = solution
        print(f"{name:>5} sessions, limit {limit:>4.0f} s: first timetable {shown(solution.first_feasible_seconds, 2)} s, "
              f"all placed {shown(solution.complete_seconds, 2)} s, "
              f"{solution.status:<8} placed {len(solution.sessions):>4}/{len(instance.planted)}, "
              f"objective {shown(solution.objective)}, bound {shown(solution.bound)}, "
              f"gap {shown(None if solution.gap is None else 100 * solution.gap, 2)}%, wall {wall:.1f} s", flush=True)
    return {"instance": instance, "results": results}


def greedy(name: str, best) -> None:
    instance = generate(SEED, **CASES[name])
    problem = instance.problem
    started = time.monotonic()
    built = build(problem, precheck(problem))
    assignments = first_fit(problem, built)
    seconds = time.monotonic() - started
    placed = sum(1 for c, _, _ in assignments if c >= 0)
    value = score(built, _Values.assigned(built, assignments), time_limit=30)
    ratio = None if not best.objective or value is None else value / best.objective
    left = len(instance.planted) - placed
    # without the penalty of the sessions first fit leaves out: what the placed ones cost
    plain = None if value is None else value - UNPLACED * left
    solver_plain = best.objective - UNPLACED * (len(instance.planted) - len(best.sessions))
    print(f"{name:>5} sessions, first fit: {seconds:.2f} s, placed {placed}/{len(instance.planted)}, objective "
          f"{shown(value)}; first fit / solver (best run) = {shown(ratio, 2)}; without the unplaced penalty "
          f"{shown(plain)} / {shown(solver_plain)} = {shown(None if plain is None else plain / solver_plain, 2)}",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time limits of 5 s and 20 s instead of 10 s and 60 s")
    parser.add_argument("--only", default="50,200,1000")
    parser.add_argument("--workers", type=int, default=None, help="CP-SAT workers (default: the machine's cores)")
    args = parser.parse_args()
    limits = (5.0, 20.0) if args.quick else (10.0, 60.0)
    print(f"CPU cores: {os.cpu_count()}; CP-SAT workers: {args.workers or 'default'}; seed {SEED}")
    done = {}
    for name in args.only.split(","):
        done[name] = run(name, limits, args.workers)
    if "200" in done:
        best = min((s for s in done["200"]["results"].values() if s.objective is not None),
                   key=lambda s: s.objective, default=None)
        if best is not None:
            greedy("200", best)


if __name__ == "__main__":
    main()
