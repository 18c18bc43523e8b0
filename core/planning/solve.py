"""Solving: a time limit, worker threads, progress as the objective and bound improve, cancellation from
another thread, and travel between venues added as cuts when a solution needs them.

`solve` is synchronous and pure (plain data in, plain data out): callers run it off the event loop
(`asyncio.to_thread`), the CLI in its own thread with a progress bar.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from ortools.sat.python import cp_model

from .decode import decode, travel_conflicts
from .explain import precheck
from .model import Built, build, venue_literal
from .problem import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN, Problem, Progress, Solution
from .slots import minutes

MAX_TRAVEL_ROUNDS = 6
STATUS = {cp_model.OPTIMAL: OPTIMAL, cp_model.FEASIBLE: FEASIBLE, cp_model.INFEASIBLE: INFEASIBLE,
          cp_model.MODEL_INVALID: INFEASIBLE, cp_model.UNKNOWN: UNKNOWN}


class _Watch(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float, on_progress: Callable[[Progress], None] | None,
                 cancel: threading.Event | None) -> None:
        super().__init__()
        self.started, self.on_progress, self.cancel = started, on_progress, cancel
        self.solutions = 0
        self.first: float | None = None
        self.objective: float | None = None

    def on_solution_callback(self) -> None:
        self.solutions += 1
        now = time.monotonic() - self.started
        if self.first is None:
            self.first = now
        self.objective = self.objective_value
        if self.on_progress is not None:
            self.on_progress(Progress(now, self.objective_value, self.best_objective_bound, self.solutions))
        if self.cancel is not None and self.cancel.is_set():
            self.stop_search()


def workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def solve(problem: Problem, *, time_limit: float = 10.0, num_workers: int | None = None,
          on_progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
          seed: int = 0) -> Solution:
    started = time.monotonic()
    skipped = precheck(problem)
    if len(skipped) == len(problem.requests):
        built = Built(cp_model.CpModel(), problem.requests[0].window_from if problem.requests else None, [], [],
                      skipped, {}, {}) if problem.requests else None
        unplaced = decode(problem, built, lambda v: 0)[1] if built else []
        return Solution(INFEASIBLE if problem.requests else OPTIMAL, [], unplaced,
                        solve_seconds=time.monotonic() - started)
    built = build(problem, skipped)
    if not built.sessions:
        _, unplaced = decode(problem, built, lambda v: 0)
        return Solution(INFEASIBLE, [], unplaced, solve_seconds=time.monotonic() - started)
    deadline = started + time_limit
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = num_workers or workers()
    solver.parameters.random_seed = seed
    watch = _Watch(started, on_progress, cancel)
    if on_progress is not None:
        solver.best_bound_callback = lambda bound: on_progress(Progress(
            time.monotonic() - started, watch.objective, bound, watch.solutions))
    done = threading.Event()

    def stopper() -> None:  # a client that goes away cancels the solve at once, not at the next solution
        while not done.wait(0.05):
            if cancel is not None and cancel.is_set():
                solver.stop_search()
                return

    if cancel is not None:
        threading.Thread(target=stopper, daemon=True, name="podium-plan-cancel").start()
    try:
        status = cp_model.UNKNOWN
        for _ in range(MAX_TRAVEL_ROUNDS):
            solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
            status = solver.solve(built.model, watch)
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            placed, _ = decode(problem, built, solver.value)
            conflicts = travel_conflicts(problem, placed)
            if not conflicts or time.monotonic() >= deadline or (cancel is not None and cancel.is_set()):
                break
            _add_travel_cuts(problem, built, solver, conflicts)
            _hint(built, solver)
    finally:
        done.set()
    seconds = time.monotonic() - started
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        placed, unplaced = decode(problem, built, solver.value)
        conflicts = travel_conflicts(problem, placed)
        if conflicts:   # out of time before the cuts settled: the sessions still too close are left out
            dropped = {(k[0], k[1]) for _, k1, k2, _ in conflicts for k in (k1, k2) if k[0] != "busy"}
            from .problem import Unplaced
            for session in [p for p in placed if (p.request, p.index) in dropped][1::2] or \
                    [p for p in placed if (p.request, p.index) in dropped][:1]:
                placed.remove(session)
                unplaced.append(Unplaced(session.request, session.index, "not placed within the time limit: "
                                         "its instructor could not travel between venues in time"))
            status = cp_model.FEASIBLE
        return Solution(STATUS[status], placed, unplaced, solver.objective_value, solver.best_objective_bound,
                        seconds, watch.first)
    _, unplaced = decode(problem, built, lambda v: 0)
    return Solution(STATUS[status], [], unplaced, None, None, seconds, None)


def _hint(built: Built, solver: cp_model.CpSolver) -> None:
    model = built.model
    model.clear_hints()
    for sv in built.sessions:
        model.add_hint(sv.present, solver.boolean_value(sv.present))
        model.add_hint(sv.choice, solver.value(sv.choice))
        for lit in (*sv.instructors.values(), *sv.rooms.values()):
            model.add_hint(lit, solver.boolean_value(lit))


def _add_travel_cuts(problem: Problem, built: Built, solver: cp_model.CpSolver, conflicts: list[tuple]) -> None:
    """For each pair of holds too close for the instructor's travel: if that instructor takes both at those
    venues, one ends at least the travel time before the other starts."""
    model = built.model
    keys = {(problem.requests[sv.request].key, sv.index): sv for sv in built.sessions}
    rooms = {r.id: r.venue_id for r in problem.rooms}
    instructors = {i.id: i for i in problem.instructors}

    def venue_of(sv) -> int | None:
        return next((rooms[rid] for rid, lit in sv.rooms.items() if solver.boolean_value(lit)), None)

    for iid, k1, k2, need in conflicts:
        cut = (iid, k1, k2)
        if cut in built.travel_cuts:
            continue
        built.travel_cuts.add(cut)
        if k1[0] == "busy":
            k1, k2 = k2, k1
        s1 = keys[(k1[0], k1[1])]
        v1 = venue_of(s1)
        enforce = [s1.instructors[iid], venue_literal(model, rooms, s1, v1)]
        a1, b1 = s1.starts[k1[2]], s1.ends[k1[2]]
        if k2[0] == "busy":
            start, end = instructors[iid].busy[k2[1]]
            a2 = minutes(start, built.origin)
            b2 = minutes(end, built.origin)
        else:
            s2 = keys[(k2[0], k2[1])]
            enforce += [s2.instructors[iid], venue_literal(model, rooms, s2, venue_of(s2))]
            a2, b2 = s2.starts[k2[2]], s2.ends[k2[2]]
        before = model.new_bool_var(f"tr{len(built.travel_cuts)}")
        model.add(b1 + need <= a2).only_enforce_if([*enforce, before])
        model.add(b2 + need <= a1).only_enforce_if([*enforce, ~before])
