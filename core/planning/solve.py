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
from .greedy import Assignment, best_fit, cheapest_start, objective, repair, ruin_and_recreate
from .model import UNPLACED, Built, build, venue_literal
from .problem import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN, Problem, Progress, Solution, Unplaced
from .slots import minutes

MAX_TRAVEL_ROUNDS = 30
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
        self.travel: tuple | None = None          # (problem, built): check each solution's travel
        self.conflicted: tuple | None = None      # (values, conflicts) of the solution that stopped the search
        self.keep: tuple | None = None            # (problem, built, found): collect the solutions keeping travel
        self.complete: float | None = None        # when a timetable first placed every session

    def found(self, assignments) -> None:
        """A timetable found outside the solver (cheapest fit) counts as the first one."""
        now = time.monotonic() - self.started
        if self.first is None:
            self.first = now
        if self.complete is None and all(c >= 0 for c, _, _ in assignments):
            self.complete = now

    def on_solution_callback(self) -> None:
        self.solutions += 1
        now = time.monotonic() - self.started
        if self.first is None:
            self.first = now
        if self.cancel is not None and self.cancel.is_set():
            self.stop_search()
        if self.keep is not None:   # beside ruin and recreate: a timetable breaking travel is not shown
            problem, built, found = self.keep
            values = _Values({var.index: self.value(var) for sv in built.sessions
                              for var in (sv.present, sv.choice, *sv.instructors.values(), *sv.rooms.values())})
            if travel_conflicts(problem, decode(problem, built, values.value)[0]):
                return
            found.append((values, self.objective_value))
        self.objective = self.objective_value
        if self.on_progress is not None:
            self.on_progress(Progress(now, self.objective_value, self.best_objective_bound, self.solutions))
        if self.travel is not None and self.conflicted is None:
            problem, built = self.travel
            values = _Values({var.index: self.value(var) for sv in built.sessions
                              for var in (sv.present, sv.choice, *sv.instructors.values(), *sv.rooms.values())})
            conflicts = travel_conflicts(problem, decode(problem, built, values.value)[0])
            if conflicts:   # stop at once: the cuts go in and the search goes on from a repaired timetable
                self.conflicted = (values, conflicts)
                self.stop_search()


class _Shown:
    """Progress as a bar shows it: the best objective so far (the searches report theirs in any order) and
    the best proven bound, at least the sum of the sessions' `least`."""

    def __init__(self, on_progress: Callable[[Progress], None], floor: float) -> None:
        self.on_progress, self.objective, self.bound = on_progress, None, float(floor)
        self.lock = threading.Lock()

    def __call__(self, progress: Progress) -> None:
        with self.lock:
            if progress.objective is not None and (self.objective is None or progress.objective < self.objective):
                self.objective = progress.objective
            if progress.bound is not None and progress.bound > self.bound:
                self.bound = progress.bound
            bound = min(self.bound, self.objective) if self.objective is not None else self.bound
            shown = Progress(progress.seconds, self.objective, bound, progress.solutions)
        self.on_progress(shown)


def workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


@dataclass
class _Best:
    """The best timetable found so far: its values, objective and the bound proven with it."""

    values: object = None
    objective: float | None = None
    bound: float | None = None
    optimal: bool = False


def _missing(built: Built, values) -> int:
    return sum(1 for sv in built.sessions if not values.value(sv.present))


def solve(problem: Problem, *, time_limit: float = 10.0, num_workers: int | None = None,
          on_progress: Callable[[Progress], None] | None = None, cancel: threading.Event | None = None,
          seed: int = 0, parameters: dict | None = None) -> Solution:
    """The best timetable found within `time_limit` seconds (or until `cancel` is set); `parameters`: more
    CP-SAT parameters for the optimising solve (name -> value)."""
    started = time.monotonic()
    skipped = precheck(problem)
    if not problem.requests:
        return Solution(OPTIMAL, [], [], 0.0, 0.0, solve_seconds=0.0)
    if len(skipped) == len(problem.requests):
        built = Built(cp_model.CpModel(), problem.requests[0].window_from, [], [], skipped, {}, {})
        return Solution(INFEASIBLE, [], decode(problem, built, lambda v: 0)[1],
                        solve_seconds=time.monotonic() - started)
    asked = sum(request.count for n, request in enumerate(problem.requests) if n not in skipped)
    built = build(problem, skipped, lean=asked > LARGE)
    if not built.sessions:
        return Solution(INFEASIBLE, [], decode(problem, built, lambda v: 0)[1],
                        solve_seconds=time.monotonic() - started)
    deadline = started + time_limit
    if on_progress is not None:
        on_progress = _Shown(on_progress, least(built))
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
    bound: list[float | None] = [None]

    def keep(candidate: _Best, improved: bool = False) -> None:
        """The better of the best so far and a timetable that keeps every rule (travel included): more
        sessions placed first, then the lower objective (scored by the model when not known). `improved`:
        the optimiser's answer from the best as its hint, which it never makes worse."""
        nonlocal best
        if watch.complete is None and candidate.values is not None and not _missing(built, candidate.values):
            watch.complete = time.monotonic() - started
        if best.values is None:
            best = candidate
            return
        mine, theirs = _missing(built, best.values), _missing(built, candidate.values)
        if theirs != mine or improved:
            if theirs <= mine:
                best = candidate
            return
        for item in (best, candidate):
            if item.objective is None:
                item.objective = objective(problem, built, _assignments(built, item.values))
        if candidate.objective is not None and (best.objective is None or candidate.objective < best.objective
                                                or (candidate.optimal and candidate.objective <= best.objective)):
            best = candidate

    try:
        start, _ = cheapest_start(problem, built, CHEAPEST_SHARE * time_limit, seed,
                                  tries=3 if len(built.sessions) <= SMALL else 20, found=watch.found)
        keep(_Best(_Values.assigned(built, start)))
        small = len(built.sessions) <= SMALL and not built.lean
        if small and any(c < 0 for c, _, _ in start):   # first fit, which thinks of placing only, may place more
            keep(_Best(_Values.assigned(built, best_fit(problem, built, FIRST_FIT_SHARE * time_limit, seed))))
            start = [(1, None, None)] if not _missing(built, best.values) else [(-1, None, None)]
        if small and any(c < 0 for c, _, _ in start):   # first fit left some out: re-open their neighbourhood
            filled = _fill_gaps(problem, built, best.values, deadline, current, seed)
            if filled is not None:
                keep(filled)
            for _ in range(GAP_ROUNDS):   # then each one left out on its own, with its own neighbourhood
                left = [sv for sv in built.sessions if not best.values.value(sv.present)]
                if not left or cancelled() or deadline - time.monotonic() < 1.0:
                    break
                for sv in left:
                    if cancelled() or deadline - time.monotonic() < 1.0:
                        break
                    filled = _fill_gaps(problem, built, best.values, deadline, current, seed, [sv],
                                        budget=min(GAP_SECONDS, (deadline - time.monotonic()) * 0.3))
                    if filled is not None:
                        keep(filled)
        if small and _missing(built, best.values):   # still some out: a depth-first search may place all
            first = _place_everything(problem, built, deadline, watch, current, seed)
            if first is not None:
                conflicts = travel_conflicts(problem, decode(problem, built, first.values.value)[0])
                if conflicts:
                    _add_travel_cuts(problem, built, first.values, conflicts)
                    first = _Best(_Values.assigned(built, repair(problem, built, first.values.value)))
                keep(first)
        _hint(built, best.values)
        if not small and not cancelled():
            improved = _improve(problem, built, best, deadline, watch, current, cancelled, seed, num_workers,
                                parameters, on_progress, started)
            keep(improved, improved=True)
            bound[0] = improved.bound
        for _ in range(MAX_TRAVEL_ROUNDS if small else 0):
            if cancelled() or deadline - time.monotonic() < 0.05:
                break
            solver = cp_model.CpSolver()
            small = len(built.sessions) <= SMALL
            solver.parameters.num_workers = num_workers or (1 if small else workers())
            if small:   # one search with the stronger relaxation proves a term's timetable fastest
                solver.parameters.linearization_level = 2
            solver.parameters.random_seed = seed
            solver.parameters.cp_model_probing_level = 0
            solver.parameters.max_time_in_seconds = deadline - time.monotonic()
            for name, value in (parameters or {}).items():
                setattr(solver.parameters, name, value)
            if on_progress is not None:
                solver.best_bound_callback = lambda found: on_progress(Progress(
                    time.monotonic() - started, watch.objective, found, watch.solutions))
            current[0] = solver
            # a small model is solved through (its relaxed optimum is the bound, and ruin and recreate then
            # often meets it keeping travel); a larger one stops at a solution breaking travel, for its cuts
            watch.travel = (problem, built) if problem.travel_minutes and not small else None
            watch.conflicted = None
            status = solver.solve(built.model, watch)
            watch.travel = None
            if watch.conflicted is not None:
                values, conflicts = watch.conflicted
                if solver.best_objective_bound:
                    bound[0] = max(bound[0] or solver.best_objective_bound, solver.best_objective_bound)
                _add_travel_cuts(problem, built, values, conflicts)
                keep(_Best(_Values.assigned(built, repair(problem, built, values.value))))
                _hint(built, best.values)
                continue
            if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                break
            # the model with fewer travel cuts is a relaxation: its bound holds for the whole problem
            bound[0] = max(bound[0] or solver.best_objective_bound, solver.best_objective_bound)
            values = _Values.of(built, solver)
            conflicts = travel_conflicts(problem, decode(problem, built, values.value)[0])
            if not conflicts:
                keep(_Best(values, solver.objective_value, None, status == cp_model.OPTIMAL), improved=True)
                break
            _add_travel_cuts(problem, built, values, conflicts)
            keep(_Best(_Values.assigned(built, repair(problem, built, values.value))))
            if small:
                settle = min(SETTLE_SECONDS, (deadline - time.monotonic()) * 0.3)
                assignments, spent, _ = ruin_and_recreate(problem, built, _assignments(built, best.values),
                                                          time.monotonic() + settle, seed, cancelled,
                                                          target=bound[0])
                keep(_Best(_Values.assigned(built, assignments), spent))
                if best.objective is not None and best.objective <= bound[0]:
                    break   # the relaxation's optimum, met keeping travel: proven optimal
            _hint(built, best.values)
    finally:
        done.set()
    seconds = time.monotonic() - started
    if best.values is None:
        return Solution(UNKNOWN, [], decode(problem, built, lambda v: 0)[1], None, None, seconds, None)
    placed, unplaced = decode(problem, built, best.values.value)
    if best.objective is None:   # first fit or a repair: counted by the same objective
        best.objective = objective(problem, built, _assignments(built, best.values))
    best.bound = max(bound[0] or 0, least(built))
    if best.objective is not None and best.bound >= best.objective:
        best.optimal = True
    status = OPTIMAL if best.optimal else FEASIBLE
    if best.bound is not None and best.objective is not None and best.bound > best.objective:
        best.bound = best.objective
    return Solution(status, placed, unplaced, best.objective, best.bound, seconds, watch.first, watch.complete)


def least(built: Built) -> int:
    """A proven lower bound of the objective: each session costs at least its cheapest own terms when placed
    (`model._least`) and UNPLACED, more than that, when not; every other term is at least 0."""
    return sum(sv.least for sv in built.sessions)


def _assignments(built: Built, values) -> list[Assignment]:
    result = []
    for sv in built.sessions:
        if not values.value(sv.present):
            result.append((-1, None, None))
            continue
        teacher = next((iid for iid, lit in sv.instructors.items() if values.value(lit)), None)
        room = next((rid for rid, lit in sv.rooms.items() if values.value(lit)), None)
        result.append((int(values.value(sv.choice)), teacher, room))
    return result


def _improve(problem: Problem, built: Built, start: "_Best", deadline: float, watch: "_Watch", current: list,
             cancelled, seed: int, num_workers: int | None, parameters: dict | None, on_progress, started: float
             ) -> "_Best":
    """Two searches side by side until the deadline, from the best timetable so far: ruin and recreate
    (`greedy.ruin_and_recreate`, which keeps every rule, travel included) improves the timetable in this
    thread, while CP-SAT (one worker, the stronger linear relaxation; up to LARGE sessions) proves a lower
    bound in another and offers each timetable it finds that keeps travel too. The model has no pairwise
    travel rule but the cuts added so far, so it is a relaxation: its bound holds for the whole problem.
    Ruin and recreate stops early when its timetable meets the sessions' `least` (then OPTIMAL)."""
    found: list = []
    proven: dict = {"bound": None}
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = num_workers or 1
    solver.parameters.linearization_level = 2
    solver.parameters.random_seed = seed
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.max_time_in_seconds = max(0.05, deadline - time.monotonic())
    for name, value in (parameters or {}).items():
        setattr(solver.parameters, name, value)
    if on_progress is not None:
        solver.best_bound_callback = lambda bound: on_progress(Progress(
            time.monotonic() - started, watch.objective, bound, watch.solutions))
    watch.travel = None
    watch.keep = (problem, built, found)
    current[0] = solver

    def search() -> None:
        status = solver.solve(built.model, watch)
        # a bound CP-SAT proves holds whatever the status, unless the model has no solution at all
        proven["bound"] = solver.best_objective_bound if status != cp_model.INFEASIBLE else None

    thread = threading.Thread(target=search, daemon=True, name="podium-plan-bound")
    if len(built.sessions) <= LARGE and not built.lean:
        thread.start()

    def better(value: float) -> None:
        watch.objective = value
        if value < UNPLACED and watch.complete is None:
            watch.complete = time.monotonic() - started
        if on_progress is not None:
            on_progress(Progress(time.monotonic() - started, value, proven["bound"], watch.solutions))

    try:
        assignments, spent, _ = ruin_and_recreate(problem, built, _assignments(built, start.values), deadline,
                                                  seed, cancelled, target=least(built), on_better=better)
    finally:   # the deadline, a cancel, or a timetable meeting the bound: the search stops too
        while thread.is_alive():
            solver.stop_search()
            thread.join(0.05)
        watch.keep = None
    best = _Best(_Values.assigned(built, assignments), spent)
    for values, value in found:   # (when CP-SAT proves its last one optimal, it meets the bound: OPTIMAL)
        if value < best.objective:
            best = _Best(values, value)
    best.bound = proven["bound"]
    return best


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


CHEAPEST_SHARE = 0.05
"""Of the time limit, at most this much goes to cheapest fit (`greedy.cheapest_start`), the first timetable."""
FIRST_FIT_SHARE = 0.1
"""Of the time limit, at most this much goes to first fit, restarted in shaken orders until all are placed."""
SMALL = 100
"""Up to this many sessions, CP-SAT optimises (one worker with linearization level 2: on the bench's
50-session case it proves OPTIMAL in about 1 s where two workers with large neighbourhood search took 3-7 s
on the loaded 2-core machine), with lazy travel cuts; above it, ruin and recreate improves the timetable
beside a bound-proving CP-SAT (`_improve`): on the 200-session case CP-SAT's own search stayed 15-25%
above the bound after 60 s where ruin and recreate gets within 2-4% in 10 s."""
LARGE = 500
"""Above this many sessions, CP-SAT does not run beside ruin and recreate: on the bench's 1,000-session case
(one worker, 40 s) its first bound came after 16 s and stayed under the sessions' `least`, and it found no
timetable, while taking a core from the search and from the rest of the machine. So its model is built
lean (`model.build`), which takes about half the time."""
SETTLE_SECONDS = 1.0
"""A small model's relaxed optimum that breaks travel: ruin and recreate looks this long for a timetable
keeping travel at the same objective (then proven optimal) before the cuts' next solve."""
NEIGHBOURS = 60
"""Sessions re-opened around those first fit left out (`_fill_gaps`)."""
GAP_ROUNDS = 3
GAP_SECONDS = 5.0
"""Then each session still left out is re-opened on its own with its NEIGHBOURS, at most this long each,
for at most GAP_ROUNDS rounds: a neighbourhood of one is small enough to solve, where one around all of
them is not."""
FIRST_PHASE = 0.5
"""Of the time limit, at most this much goes to placing every session (a depth-first search in the
requests' order); the rest improves the objective from there."""


def _fill_gaps(problem: Problem, built: Built, values: _Values, deadline: float, current: list,
               seed: int, targets: list | None = None, budget: float | None = None) -> _Best | None:
    """Place what first fit left out by re-opening it and the placed sessions in its way (placed within
    its window, on an instructor or room it could take, or sharing a cohort learner; at most NEIGHBOURS),
    with its own request's other sessions, while every other session stays as placed: a small model,
    solved in seconds where the whole one would not be."""
    missing = targets or [sv for sv in built.sessions if not values.value(sv.present)]
    index = {id(sv): n for n, sv in enumerate(built.sessions)}
    free = {index[id(sv)] for sv in missing}
    near = []
    held = {}                     # placed session -> (first held minute, last, the resources it uses)
    for n, sv in enumerate(built.sessions):
        if n in free or not values.value(sv.present):
            continue
        cands, c = built.cands[sv.request], values.value(sv.choice)
        used = {("i", k) for k, lit in sv.instructors.items() if values.value(lit)}
        used |= {("r", k) for k, lit in sv.rooms.items() if values.value(lit)}
        held[n] = (int(cands.held_start[c].min()), int(cands.held_end[c].max()), used)
    for m in missing:
        cands = built.cands[m.request]
        lo, hi = int(cands.held_start.min()), int(cands.held_end.max())
        mine = {("i", k) for k in m.instructors} | {("r", k) for k in m.rooms}
        cohort = set(problem.requests[m.request].learner_ids)
        for n, (a, b, used) in held.items():
            if not (a < hi and lo < b):   # placed outside where this one could go: not in its way
                continue
            sv = built.sessions[n]
            shared = len(mine & used) + 100 * len(cohort & set(problem.requests[sv.request].learner_ids))
            if shared:
                near.append((-shared, n))
    for _, n in sorted(near)[:NEIGHBOURS]:
        free.add(n)
    # a request's sessions are placed in order (model.py): the ones left out move with their siblings
    asked = {m.request for m in missing}
    free |= {n for n, sv in enumerate(built.sessions) if sv.request in asked}
    model = built.model.clone()
    model.clear_hints()
    for n, sv in enumerate(built.sessions):
        for var in (sv.present, sv.choice, *sv.instructors.values(), *sv.rooms.values()):
            if n in free:
                model.add_hint(var, values.value(var))
            else:
                model.add(var == values.value(var))
    if budget is None:
        budget = min(max(1.0, (deadline - time.monotonic()) * 0.3), 20.0)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers()
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.max_time_in_seconds = budget
    solver.parameters.random_seed = seed
    current[0] = solver
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    found = _Values.of(built, solver)
    conflicts = travel_conflicts(problem, decode(problem, built, found.value)[0])
    if conflicts:
        _add_travel_cuts(problem, built, found, conflicts)
        return _Best(_Values.assigned(built, repair(problem, built, found.value)))
    return _Best(found, solver.objective_value)


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
    return _Best(_Values.of(built, solver), solver.objective_value)


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
