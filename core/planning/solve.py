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
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .decode import decode, travel_conflicts
from .explain import precheck
from .greedy import Assignment, first_fit, hint, repair
from .model import Built, build, venue_literal
from .problem import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN, Problem, Progress, Solution, Unplaced
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


@dataclass
class _Best:
    """The best timetable found so far: its values, objective and the bound proven with it."""

    values: object = None
    objective: float | None = None
    bound: float | None = None
    optimal: bool = False


def solve(problem: Problem, *, time_limit: float = 10.0, num_workers: int | None = None,
          on_progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
          seed: int = 0) -> Solution:
    """The best timetable found within `time_limit` seconds (or until `cancel` is set)."""
    started = time.monotonic()
    skipped = precheck(problem)
    if not problem.requests:
        return Solution(OPTIMAL, [], [], 0.0, 0.0, solve_seconds=0.0)
    if len(skipped) == len(problem.requests):
        built = Built(cp_model.CpModel(), problem.requests[0].window_from, [], [], skipped, {}, {})
        return Solution(INFEASIBLE, [], decode(problem, built, lambda v: 0)[1],
                        solve_seconds=time.monotonic() - started)
    built = build(problem, skipped)
    if not built.sessions:
        return Solution(INFEASIBLE, [], decode(problem, built, lambda v: 0)[1],
                        solve_seconds=time.monotonic() - started)
    deadline = started + time_limit
    watch = _Watch(started, on_progress, cancel)
    done = threading.Event()
    current: list[cp_model.CpSolver | None] = [None]
    best = _Best()

    def stopper() -> None:  # a client that goes away cancels the solve at once, not at the next solution
        while not done.wait(0.05):
            if cancel is not None and cancel.is_set():
                if current[0] is not None:
                    current[0].stop_search()
                return

    if cancel is not None:
        threading.Thread(target=stopper, daemon=True, name="podium-plan-cancel").start()
    cancelled = (lambda: cancel is not None and cancel.is_set())
    try:
        hint(built, first_fit(problem, built))
        first = _place_everything(problem, built, deadline, watch, current, seed)
        if first is not None:
            best = first
            conflicts = travel_conflicts(problem, decode(problem, built, first.values.value)[0])
            if conflicts:
                _add_travel_cuts(problem, built, first.values, conflicts)
                best = _Best(_Values.assigned(built, repair(problem, built, first.values.value)), None, None)
            _hint(built, best.values)
        for _ in range(MAX_TRAVEL_ROUNDS):
            if cancelled() or deadline - time.monotonic() < 0.05:
                break
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = num_workers or workers()
            solver.parameters.random_seed = seed
            solver.parameters.cp_model_probing_level = 0
            solver.parameters.max_time_in_seconds = deadline - time.monotonic()
            if on_progress is not None:
                solver.best_bound_callback = lambda bound: on_progress(Progress(
                    time.monotonic() - started, watch.objective, bound, watch.solutions))
            current[0] = solver
            status = solver.solve(built.model, watch)
            if status == cp_model.INFEASIBLE and best.values is None:
                best.optimal = True   # proven: nothing fits (cannot happen while sessions may stay unplaced)
                break
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            values = _Values.of(built, solver)
            best = _Best(values, solver.objective_value, solver.best_objective_bound, status == cp_model.OPTIMAL)
            conflicts = travel_conflicts(problem, decode(problem, built, values.value)[0])
            if not conflicts:
                break
            _add_travel_cuts(problem, built, values, conflicts)
            best = _Best(_Values.assigned(built, repair(problem, built, values.value)), None, best.bound)
            _hint(built, best.values)
    finally:
        done.set()
    seconds = time.monotonic() - started
    if best.values is None:
        return Solution(UNKNOWN, [], decode(problem, built, lambda v: 0)[1], None, None, seconds, None)
    placed, unplaced = decode(problem, built, best.values.value)
    status = OPTIMAL if best.optimal else FEASIBLE
    if best.objective is None:   # repaired after the last solve: scored by the same objective
        best.objective = score(built, best.values)
    return Solution(status, placed, unplaced, best.objective, best.bound, seconds, watch.first)


def score(built: Built, values: _Values, time_limit: float = 5.0) -> float | None:
    """The objective of fixed assignments, computed by the solver on a copy of the model pinned to them."""
    model = built.model.clone()
    model.clear_hints()
    for sv in built.sessions:
        for var in (sv.present, sv.choice, *sv.instructors.values(), *sv.rooms.values()):
            model.add(var == values.value(var))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = time_limit
    status = solver.solve(model)
    return solver.objective_value if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None


def _hint(built: Built, solver: "_Values") -> None:
    """Start the next solve from a solution."""
    model = built.model
    model.clear_hints()
    for sv in built.sessions:
        model.add_hint(sv.present, bool(solver.value(sv.present)))
        model.add_hint(sv.choice, int(solver.value(sv.choice)))
        for lit in (*sv.instructors.values(), *sv.rooms.values()):
            model.add_hint(lit, bool(solver.value(lit)))


class _Values:
    """A solution's values of the decision variables, kept after its solver is gone."""

    def __init__(self, values: dict) -> None:
        self.values = values

    def value(self, var) -> int:
        return self.values.get(var.index, 0)

    def boolean_value(self, var) -> bool:
        return bool(self.values[var.index])

    @classmethod
    def assigned(cls, built: Built, assignments: list[Assignment]) -> "_Values":
        values = {}
        for sv, (c, teacher, room) in zip(built.sessions, assignments):
            values[sv.present.index] = int(c >= 0)
            values[sv.choice.index] = max(c, 0)
            for iid, lit in sv.instructors.items():
                values[lit.index] = int(iid == teacher)
            for rid, lit in sv.rooms.items():
                values[lit.index] = int(rid == room)
            for venue, lit in sv.venue_literals.items():
                values[lit.index] = int(room is not None and built.room_venue.get(room) == venue)
        return cls(values)

    @classmethod
    def of(cls, built: Built, solver: cp_model.CpSolver) -> "_Values":
        values = {}
        for sv in built.sessions:
            for var in (sv.present, sv.choice, *sv.instructors.values(), *sv.rooms.values()):
                values[var.index] = solver.value(var)
            for lit in sv.venue_literals.values():
                values[lit.index] = solver.value(lit)
        return cls(values)


FIRST_PHASE = 0.5
"""Of the time limit, at most this much goes to placing every session (a depth-first search in the
requests' order); the rest improves the objective from there."""


def _place_everything(problem: Problem, built: Built, deadline: float, watch: _Watch,
                      current: list, seed: int) -> _Best | None:
    """Every session placed, found by a depth-first search (earliest start, then a room and an instructor)
    on a copy of the model where each must be: far faster to a full timetable than the optimiser, which
    starts from it. None when it finds none in its share of the time (the optimiser then starts from first
    fit)."""
    budget = (deadline - time.monotonic()) * FIRST_PHASE
    if budget < 0.2:
        return None
    model = built.model.clone()
    model.clear_hints()
    order = sorted(built.sessions, key=lambda sv: (problem.requests[sv.request].window_from, sv.request, sv.index))
    for sv in order:
        model.add(sv.present == 1)
        model.add_decision_strategy([sv.choice], cp_model.CHOOSE_FIRST, cp_model.SELECT_MIN_VALUE)
        model.add_decision_strategy([*sv.rooms.values(), *sv.instructors.values()], cp_model.CHOOSE_FIRST,
                                    cp_model.SELECT_MAX_VALUE)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.search_branching = cp_model.FIXED_SEARCH
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.stop_after_first_solution = True
    solver.parameters.max_time_in_seconds = budget
    solver.parameters.random_seed = seed
    current[0] = solver
    status = solver.solve(model, watch)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return _Best(_Values.of(built, solver), solver.objective_value, None)


def _add_travel_cuts(problem: Problem, built: Built, solver: _Values, conflicts: list[tuple]) -> None:
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
