"""First fit, the way a coordinator fills a spreadsheet: requests in the order of their windows, each
session at its earliest start where the first free qualified instructor and the first free suitable room
can take it. The bench's baseline, and the solver's first hint (a feasible start it then improves on)."""
from __future__ import annotations

import random
import time
from bisect import insort
from collections import defaultdict

import numpy as np

from .model import Built, resource_cost
from .problem import Problem

Assignment = tuple[int, int | None, int | None]
"""(candidate index, instructor id, room id) of a session; candidate -1: not placed."""


def _free(holds: list, spans: list[tuple[int, int]]) -> bool:
    return all(not (s < e2 and s2 < e) for s, e in spans for s2, e2, _ in holds)


def _travels(holds: list, spans: list[tuple[int, int]], venue: int | None, problem: Problem) -> bool:
    if venue is None:
        return True
    for s, e in spans:
        for s2, e2, v2 in holds:
            need = problem.travel(venue, v2)
            if need and s - need < e2 and s2 < e + need:
                return False
    return True


def constrained_order(built: Built, rng: random.Random | None = None) -> list[int]:
    """Sessions with the fewest (start, instructor, room) choices first; `rng` breaks near-ties at random."""
    choices = {}
    for r_index, (allowed_i, allowed_r) in built.allowed.items():
        teachers = sum(ok.astype(np.int64) for ok in allowed_i.values()) if allowed_i else 0
        rooms = sum(ok.astype(np.int64) for ok in allowed_r.values()) if allowed_r else 1
        choices[r_index] = int(np.sum(teachers * rooms))
    noise = (lambda: rng.uniform(0.8, 1.25)) if rng is not None else (lambda: 1.0)
    return sorted(range(len(built.sessions)), key=lambda n: (
        choices.get(built.sessions[n].request, 0) * noise(), built.sessions[n].request, built.sessions[n].index))


def first_fit(problem: Problem, built: Built, order: list[int] | None = None,
              cheapest: bool = False) -> list[Assignment]:
    """One assignment per session of `built.sessions` (in that order), filling them in `order` (default:
    requests by window, as a coordinator would); `cheapest`: the cheapest free instructor and room instead
    of the first."""
    holds: dict[int, list] = defaultdict(list)       # resource -> (start, end, venue) minutes from the origin
    learners: dict[int, list] = defaultdict(list)
    result: list[Assignment | None] = [None] * len(built.sessions)
    if order is None:
        order = sorted(range(len(built.sessions)), key=lambda n: (
            problem.requests[built.sessions[n].request].window_from, built.sessions[n].request,
            built.sessions[n].index))
    rates = {}
    if cheapest:
        for x in problem.instructors + problem.rooms:
            rates[x.id] = resource_cost(x.cost_rate_minor, x.cost_unit, [60])
    for n in order:
        sv = built.sessions[n]
        request = problem.requests[sv.request]
        cands = built.cands[sv.request]
        allowed_i, allowed_r = built.allowed[sv.request]
        instructors = list(allowed_i.items())
        rooms = list(allowed_r.items())
        if cheapest:
            instructors.sort(key=lambda item: rates.get(item[0], 0))
            rooms.sort(key=lambda item: rates.get(item[0], 0))
        placed: Assignment = (-1, None, None)
        for c in range(len(cands)):
            held = [(int(a), int(b)) for a, b in zip(cands.held_start[c], cands.held_end[c])]
            parts = [(int(a), int(b)) for a, b in zip(cands.part_start[c], cands.part_end[c])]
            if not all(_free([(a, b, None) for a, b, _ in learners[learner]], parts) for learner in request.learner_ids):
                continue
            room, venue = None, None
            if request.needs_room:
                room = next((rid for rid, ok in rooms if ok[c] and _free(holds[rid], held)), None)
                if room is None:
                    continue
                venue = built.room_venue.get(room)
            teacher = next((iid for iid, ok in instructors if ok[c] and _free(holds[iid], held)
                            and _travels(holds[iid], held, venue, problem)), None)
            if teacher is None:
                continue
            placed = (c, teacher, room)
            for a, b in held:
                insort(holds[teacher], (a, b, venue))
                if room is not None:
                    insort(holds[room], (a, b, None))
            for learner in request.learner_ids:
                for a, b in parts:
                    learners[learner].append((a, b, None))
            break
        result[n] = placed
    return [r if r is not None else (-1, None, None) for r in result]


def best_fit(problem: Problem, built: Built, seconds: float, seed: int = 0) -> list[Assignment]:
    """First fit, most constrained sessions first, cheapest resources first, restarted with the order
    shaken for up to `seconds`: the assignments that place the most sessions."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    best = first_fit(problem, built, constrained_order(built), cheapest=True)
    missing = sum(1 for c, _, _ in best if c < 0)
    while missing and time.monotonic() < deadline:
        found = first_fit(problem, built, constrained_order(built, rng), cheapest=True)
        left = sum(1 for c, _, _ in found if c < 0)
        if left < missing:
            best, missing = found, left
    return best


def hint(built: Built, assignments: list[Assignment]) -> None:
    """Give the solver the assignments as its starting point."""
    model = built.model
    model.clear_hints()
    for sv, (c, teacher, room) in zip(built.sessions, assignments):
        model.add_hint(sv.present, c >= 0)
        if c >= 0:
            model.add_hint(sv.choice, c)
        for iid, lit in sv.instructors.items():
            model.add_hint(lit, iid == teacher)
        for rid, lit in sv.rooms.items():
            model.add_hint(lit, rid == room)


def fix(built: Built, assignments: list[Assignment]) -> None:
    """Pin the model to the assignments (to score them with the solver's own objective)."""
    model = built.model
    for sv, (c, teacher, room) in zip(built.sessions, assignments):
        model.add(sv.present == (1 if c >= 0 else 0))
        if c >= 0:
            model.add(sv.choice == c)
            for iid, lit in sv.instructors.items():
                model.add(lit == (1 if iid == teacher else 0))
            for rid, lit in sv.rooms.items():
                model.add(lit == (1 if rid == room else 0))



def repair(problem: Problem, built: Built, value) -> list[Assignment]:
    """A solution's assignments with travel made good: sessions in time order keep their start and room;
    one whose instructor cannot reach it in time (or overlaps) gets another free qualified instructor, or,
    failing that, is left unplaced. `value(var)`: the solution's values."""
    rows = []
    for n, sv in enumerate(built.sessions):
        if not value(sv.present):
            rows.append((None, n, (-1, None, None)))
            continue
        c = int(value(sv.choice))
        teacher = next((iid for iid, lit in sv.instructors.items() if value(lit)), None)
        room = next((rid for rid, lit in sv.rooms.items() if value(lit)), None)
        rows.append((int(built.cands[sv.request].held_start[c][0]), n, (c, teacher, room)))
    holds: dict[int, list] = defaultdict(list)
    for instructor in problem.instructors:
        for (a, b), venue in zip(instructor.busy, instructor.busy_venues or [None] * len(instructor.busy)):
            if venue is not None:
                from .slots import minutes
                holds[instructor.id].append((minutes(a, built.origin), minutes(b, built.origin), venue))
    result: list[Assignment] = [(-1, None, None)] * len(built.sessions)
    for start, n, (c, teacher, room) in sorted(rows, key=lambda r: (r[0] is None, r[0] or 0, r[1])):
        if c < 0:
            continue
        sv = built.sessions[n]
        cands = built.cands[sv.request]
        held = [(int(a), int(b)) for a, b in zip(cands.held_start[c], cands.held_end[c])]
        venue = built.room_venue.get(room) if room is not None else None
        allowed_i, _ = built.allowed[sv.request]
        options = [teacher] + [iid for iid, ok in allowed_i.items() if iid != teacher and ok[c]]
        chosen = next((iid for iid in options if _free(holds[iid], held) and _travels(holds[iid], held, venue, problem)),
                      None)
        if chosen is None:
            continue
        for a, b in held:
            insort(holds[chosen], (a, b, venue))
        result[n] = (c, chosen, room)
    return result
