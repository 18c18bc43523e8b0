"""First fit, the way a coordinator fills a spreadsheet: requests in the order of their windows, each
session at its earliest start where the first free qualified instructor and the first free suitable room
can take it. The bench's baseline, and the solver's first hint (a feasible start it then improves on)."""
from __future__ import annotations

import random
import threading
import time
from bisect import insort
from collections import defaultdict

import numpy as np

from .model import UNPLACED, Built, resource_cost
from .problem import Problem
from .slots import minutes

PAUSE_EVERY = 0.001
"""The search is pure Python: every this many seconds it sleeps a moment, letting go of the interpreter lock.
Without the pause the server's event loop (and its database threads) would wait up to the 5 ms switch
interval at every hand-over, hundreds of milliseconds per request while a solve runs."""
_last_pause = threading.local()


def _pause() -> None:
    now = time.monotonic()
    if now - getattr(_last_pause, "at", 0.0) >= PAUSE_EVERY:
        time.sleep(0.0001)
        _last_pause.at = time.monotonic()

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



class _Holds:
    """One resource's (or learner's) holds, kept sorted, for tests over every candidate at once."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int, int | None]] = []
        self._arrays: tuple | None = None
        self._needs: dict = {}

    def add(self, a: int, b: int, venue: int | None) -> None:
        insort(self.items, (a, b, venue))
        self._arrays, self._needs = None, {}

    def remove(self, a: int, b: int, venue: int | None) -> None:
        self.items.remove((a, b, venue))
        self._arrays, self._needs = None, {}

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._arrays is None:
            starts = np.array([a for a, _, _ in self.items], dtype=np.int64)
            ends = np.array([b for _, b, _ in self.items], dtype=np.int64)
            self._arrays = (starts, ends, np.maximum.accumulate(ends) if len(ends) else ends)
        return self._arrays

    def free(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """[candidate]: none of the spans (columns) overlaps a hold."""
        ok = np.ones(starts.shape[0], dtype=bool)
        if not self.items:
            return ok
        hold_starts, _, latest_end = self.arrays()
        for j in range(starts.shape[1]):
            # of the holds starting before the span ends, the latest end must be at or before its start
            last = np.searchsorted(hold_starts, ends[:, j], side="left") - 1
            ok &= (last < 0) | (latest_end[np.clip(last, 0, None)] <= starts[:, j])
        return ok

    def reachable(self, starts: np.ndarray, ends: np.ndarray, venue: int | None, row: dict) -> np.ndarray:
        """[candidate]: the instructor can travel between each span at `venue` and each hold elsewhere
        (`row`: the travel minutes from `venue` to each venue)."""
        ok = np.ones(starts.shape[0], dtype=bool)
        if venue is None or not self.items:
            return ok
        need = self._needs.get(venue)
        if need is None:
            need = self._needs[venue] = np.array([row.get(other, 0) for _, _, other in self.items], dtype=np.int64)
        if not need.any():
            return ok
        hold_starts, hold_ends, _ = self.arrays()
        reach = int(need.max())
        lo = np.searchsorted(hold_starts, int(starts.min()) - reach - (int((hold_ends - hold_starts).max())))
        hi = np.searchsorted(hold_starts, int(ends.max()) + reach, side="right")
        if lo >= hi:
            return ok
        a, b, n = hold_starts[lo:hi], hold_ends[lo:hi], need[lo:hi]
        close = (starts[:, :, None] - n < b) & (a < ends[:, :, None] + n) & (n > 0)
        return ~close.any(axis=(1, 2))


class Prices:
    """What each placement of a session costs by the model's own objective coefficients (cost, preferred
    instructors, travel from home, learner local time, changes), and each session's (instructor, room)
    pairs cheapest first; computed once a session and shared by every board of one problem."""

    def __init__(self, problem: Problem, built: Built) -> None:
        self.problem, self.built = problem, built
        self.travel_weight = problem.weights.travel if problem.travel_minutes else 0
        self.homes = {i.id: i.home_venue_id for i in problem.instructors}
        self._options: dict[int, list] = {}
        self._rows: dict[int, dict] = {}

    def travel_row(self, venue: int) -> dict:
        """Travel minutes from `venue` to each venue."""
        if venue not in self._rows:
            others = {v for pair in self.problem.travel_minutes for v in pair}
            self._rows[venue] = {other: self.problem.travel(venue, other) for other in others}
        return self._rows[venue]

    def pair(self, n: int, iid: int, rid: int | None) -> int:
        """Session n taught by iid in room rid (None: virtual), its start aside."""
        sv = self.built.sessions[n]
        total = sv.costs.get(("i", iid), 0) + (sv.costs.get(("r", rid), 0) if rid is not None else 0)
        if rid is not None and self.travel_weight:
            days = len(self.problem.requests[sv.request].parts)
            total += self.travel_weight * 2 * days * self.problem.travel(self.homes.get(iid),
                                                                         self.built.room_venue.get(rid))
        return total

    def of(self, n: int, assignment: Assignment) -> int:
        """What the session costs by its own terms (the spread of a request's sessions aside)."""
        c, iid, rid = assignment
        if c < 0:
            return UNPLACED
        sv = self.built.sessions[n]
        total = self.pair(n, iid, rid)
        if sv.start_costs is not None:
            total += int(sv.start_costs[c])
        return total

    def options(self, n: int) -> list:
        """The session's instructors, cheapest first, each with its rooms by what the pair costs:
        [(cheapest pair, instructor, [(price, room, venue)])]."""
        if n not in self._options:
            sv = self.built.sessions[n]
            allowed_i, allowed_r = self.built.allowed[sv.request]
            rooms = list(allowed_r) if self.problem.requests[sv.request].needs_room else [None]
            rows = []
            for iid in allowed_i:
                options = sorted((self.pair(n, iid, rid), rid, self.built.room_venue.get(rid))
                                 for rid in rooms) if rooms else []
                if options:
                    rows.append((options[0][0], iid, options))
            rows.sort(key=lambda row: (row[0], row[1]))
            self._options[n] = rows
        return self._options[n]


class Board:
    """A timetable being filled: what each instructor, room and cohort learner holds, and the cheapest
    free (start, instructor, room) of a session by the model's own objective coefficients (cost, preferred
    instructors, travel from home, learner local time, changes)."""

    def __init__(self, problem: Problem, built: Built, assignments: list[Assignment] | None = None,
                 prices: Prices | None = None) -> None:
        self.problem, self.built = problem, built
        self.prices = prices or Prices(problem, built)
        self.holds: dict[int, _Holds] = defaultdict(_Holds)
        self.learners: dict[int, _Holds] = defaultdict(_Holds)
        for instructor in problem.instructors:
            for (a, b), venue in zip(instructor.busy, instructor.busy_venues or [None] * len(instructor.busy)):
                if venue is not None:
                    self.holds[instructor.id].add(minutes(a, built.origin), minutes(b, built.origin), venue)
        self.result: list[Assignment] = list(assignments or [(-1, None, None)] * len(built.sessions))
        for n, assignment in enumerate(self.result):
            if assignment[0] >= 0:
                self.take(n, assignment)

    def _held(self, n: int, assignment: Assignment) -> list[tuple[_Holds, int, int, int | None]]:
        """What a session placed so holds: its instructor's and room's held spans (the instructor's with the
        room's venue, for travel) and its cohort learners' parts."""
        c, iid, rid = assignment
        sv = self.built.sessions[n]
        cands = self.built.cands[sv.request]
        venue = self.built.room_venue.get(rid) if rid is not None else None
        held = []
        for a, b in zip(cands.held_start[c], cands.held_end[c]):
            held.append((self.holds[iid], int(a), int(b), venue))
            if rid is not None:
                held.append((self.holds[rid], int(a), int(b), None))
        for learner in self.problem.requests[sv.request].learner_ids:
            held += [(self.learners[learner], int(a), int(b), None)
                     for a, b in zip(cands.part_start[c], cands.part_end[c])]
        return held

    def take(self, n: int, assignment: Assignment) -> None:
        for holds, a, b, venue in self._held(n, assignment):
            holds.add(a, b, venue)
        self.result[n] = assignment

    def drop(self, n: int) -> None:
        if self.result[n][0] < 0:
            return
        for holds, a, b, venue in self._held(n, self.result[n]):
            holds.remove(a, b, venue)
        self.result[n] = (-1, None, None)

    def cheapest(self, n: int, rng: random.Random | None = None) -> Assignment | None:
        """The session's cheapest (start, instructor, room) that every hold leaves free (travel included)."""
        problem, built = self.problem, self.built
        sv = built.sessions[n]
        if sv.request not in built.allowed:
            return None
        request = problem.requests[sv.request]
        cands = built.cands[sv.request]
        allowed_i, allowed_r = built.allowed[sv.request]
        hs, he = cands.held_start, cands.held_end
        base = np.ones(len(cands), dtype=bool)
        for learner in request.learner_ids:
            base &= self.learners[learner].free(cands.part_start, cands.part_end)
        extra = sv.start_costs if sv.start_costs is not None else np.zeros(len(cands), dtype=np.int64)
        least_extra = int(extra.min())
        room_ok = {}
        if request.needs_room:
            for rid, ok in allowed_r.items():
                ok = ok & base
                if ok.any():
                    ok &= self.holds[rid].free(hs, he)
                    if ok.any():
                        room_ok[rid] = ok
            if not room_ok:
                return None
        best = None
        for floor, iid, options in self.prices.options(n):
            if best is not None and floor + least_extra > best[0]:
                break
            ok = allowed_i[iid] & base
            if not ok.any():
                continue
            ok &= self.holds[iid].free(hs, he)
            if not ok.any():
                continue
            reach: dict = {}
            for price, rid, venue in options:
                if best is not None and price + least_extra > best[0]:
                    break
                if rid is not None and rid not in room_ok:
                    continue
                mask = ok & room_ok[rid] if rid is not None else ok
                if not mask.any():
                    continue
                if venue is not None and problem.travel_minutes:
                    if venue not in reach:
                        reach[venue] = self.holds[iid].reachable(hs, he, venue, self.prices.travel_row(venue))
                    mask = mask & reach[venue]
                    if not mask.any():
                        continue
                c = int(np.argmin(np.where(mask, extra, np.iinfo(np.int64).max)))
                total = price + int(extra[c])
                tie = rng.random() if rng is not None else 0.0
                if best is None or (total, tie) < best[:2]:
                    best = (total, tie, c, iid, rid)
        return None if best is None else best[2:]

    def fill(self, order: list[int], rng: random.Random | None = None) -> None:
        for n in order:
            found = self.cheapest(n, rng)
            if found is not None:
                self.take(n, found)
            _pause()


def spread_cost(problem: Problem, built: Built, assignments: list[Assignment], only: list[int] | None = None
                ) -> int:
    """The spread term of the objective (model._spread) for assignments in the model's order; `only`: of
    those sessions (a request's, in order) alone."""
    from .model import SPREAD_DAY
    weight = problem.weights.spread
    if not weight:
        return 0
    total = 0
    members = range(len(built.sessions)) if only is None else only
    for n in members:
        sv = built.sessions[n]
        previous = built.sessions[n - 1] if n > 0 and (only is None or n - 1 in only) else None
        request = problem.requests[sv.request]
        if previous is None or previous.request != sv.request or request.current or request.count < 2:
            continue
        ideal = max(1, (request.window_to - request.window_from).days) // request.count
        c0, c1 = assignments[n - 1][0], assignments[n][0]
        if ideal <= 0 or c1 < 0:
            continue
        days = built.cands[sv.request].day
        total += weight * SPREAD_DAY * max(0, ideal - int(days[c1] - days[c0]))
    return total


def objective(problem: Problem, built: Built, assignments: list[Assignment], prices: Prices | None = None) -> int:
    """The model's objective of assignments in the model's order, counted here instead of by the solver."""
    prices = prices or Prices(problem, built)
    return sum(prices.of(n, a) for n, a in enumerate(assignments)) + spread_cost(problem, built, assignments)


def cheapest_fit(problem: Problem, built: Built, order: list[int], rng: random.Random | None = None,
                 prices: Prices | None = None) -> list[Assignment]:
    """Each session in `order` takes the cheapest (start, instructor, room) still free: a first timetable
    close to the per-session optimum, which the solver then improves. `rng` breaks ties at random."""
    board = Board(problem, built, prices=prices)
    board.fill(order, rng)
    return in_order(problem, built, board.result)


def in_order(problem: Problem, built: Built, assignments: list[Assignment], only: list[int] | None = None
             ) -> list[Assignment]:
    """The same timetable with each request's interchangeable sessions in the model's order (placed ones
    first, by candidate), so a hint keeps the model's symmetry breaking; `only`: those sessions alone."""
    result = list(assignments)
    by_request: dict[int, list[int]] = defaultdict(list)
    for n in (range(len(built.sessions)) if only is None else only):
        sv = built.sessions[n]
        if not problem.requests[sv.request].current:
            by_request[sv.request].append(n)
    for members in by_request.values():
        taken = sorted((assignments[n] for n in members), key=lambda a: (a[0] < 0, a[0]))
        for n, assignment in zip(members, taken):
            result[n] = assignment
    return result


def cheapest_start(problem: Problem, built: Built, seconds: float, seed: int = 0, tries: int = 20,
                   found=None) -> tuple[list[Assignment], int]:
    """Cheapest fit, most constrained sessions first, then again in shaken orders with ties broken at random
    (at most `tries` times, for up to `seconds`): the cheapest timetable (the most sessions placed first).
    `found(assignments)` is told of the first."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    prices = Prices(problem, built)
    best = cheapest_fit(problem, built, constrained_order(built), prices=prices)
    if found is not None:
        found(best)
    spent = objective(problem, built, best, prices)
    for _ in range(tries):
        if time.monotonic() >= deadline:
            break
        found = cheapest_fit(problem, built, constrained_order(built, rng), rng, prices)
        cost = objective(problem, built, found, prices)
        if cost < spent:
            best, spent = found, cost
    return best, spent


CHAIN = 2
"""An ejection's sessions that cannot go back eject what is in their own way, this many times at most."""


def ruin_and_recreate(problem: Problem, built: Built, assignments: list[Assignment], deadline: float,
                      seed: int = 0, cancelled=lambda: False, size: tuple[int, int] = (4, 16),
                      target: float | None = None, on_better=None) -> tuple[list[Assignment], int, int]:
    """Improve a timetable until `deadline`: take a few related sessions out and put them back, each at its
    cheapest free place, in a random order; keep the result when it costs no more (the same objective as the
    model's; a session left out costs UNPLACED, so the most placed comes first). A round either re-opens one
    session costing more than its cheapest, with sessions placed where it could go on instructors or rooms
    it could take or sharing a cohort learner; or, while some are left out, ejects the sessions in the way
    of one of them at one of its places and puts it there first, an ejected one that cannot go back
    ejecting what is in its own way (CHAIN times at most; kept when no more are left out, so the ones left
    out change). Stops early at `target` (a proven bound); `on_better(objective)` hears of each better
    timetable. Returns the best assignments, their objective and the rounds tried."""
    rng = random.Random(seed)
    board = Board(problem, built, in_order(problem, built, assignments))
    sessions = built.sessions
    price = [board.prices.of(n, a) for n, a in enumerate(board.result)]
    siblings: dict[int, list[int]] = defaultdict(list)
    for n, sv in enumerate(sessions):
        siblings[sv.request].append(n)
    spread = {r: spread_cost(problem, built, board.result, members) for r, members in siblings.items()}
    spent = sum(price) + sum(spread.values())
    best, best_spent = list(board.result), spent
    least = [sv.least for sv in sessions]
    firsts = {r: cands.held_start.min(axis=1).tolist() if len(cands) else [] for r, cands in enumerate(built.cands)}
    lasts = {r: cands.held_end.max(axis=1).tolist() if len(cands) else [] for r, cands in enumerate(built.cands)}
    windows = [(min(firsts[sv.request]), max(lasts[sv.request])) if firsts[sv.request] else (0, 0) for sv in sessions]
    usable = [{*sv.instructors, *sv.rooms} for sv in sessions]
    cohorts = [set(problem.requests[sv.request].learner_ids) for sv in sessions]
    rounds = 0
    movable = [n for n, sv in enumerate(sessions) if sv.request in built.allowed]
    while movable and time.monotonic() < deadline and not cancelled() and (target is None or best_spent > target):
        rounds += 1
        result = board.result
        missing = [n for n in movable if result[n][0] < 0]
        ejecting = bool(missing) and rng.random() < 0.7
        if ejecting:
            out = _in_the_way(problem, built, board, rng.choice(missing), rng, firsts, lasts)
            if out is None:
                continue
        else:
            worse = [n for n in movable if price[n] > least[n] and result[n][0] >= 0]
            seed_n = rng.choice(worse) if worse and rng.random() < 0.8 else rng.choice(movable)
            lo, hi = windows[seed_n]
            mine, cohort = usable[seed_n], cohorts[seed_n]
            related = []
            for n in movable:
                c, iid, rid = result[n]
                if c < 0 or n == seed_n:
                    continue
                r = sessions[n].request
                if firsts[r][c] < hi and lo < lasts[r][c] and (iid in mine or rid in mine or cohort & cohorts[n]):
                    related.append(n)
            rng.shuffle(related)
            out = [seed_n, *related[:rng.randint(*size) - 1]]
        # a request's sessions are ordered (model.py): its siblings come out with it
        requests = {sessions[n].request for n in out}
        out = list(dict.fromkeys([*out, *(n for r in requests for n in siblings[r])]))
        before = {n: result[n] for n in out}
        for n in out:
            board.drop(n)
        first = [n for n in out if before[n][0] < 0]
        rest = [n for n in out if before[n][0] >= 0]
        rng.shuffle(rest)
        board.fill(first + rest, rng)
        if ejecting:   # an ejection chain: what could not go back ejects what is in its own way, twice at most
            for _ in range(CHAIN):
                stuck = [n for n in out if board.result[n][0] < 0 and before[n][0] >= 0]
                if not stuck:
                    break
                n = rng.choice(stuck)
                more = _in_the_way(problem, built, board, n, rng, firsts, lasts, avoid=set(out))
                if more is None:
                    break
                added = {sessions[m].request for m in more} - requests
                requests |= added
                more = [m for m in dict.fromkeys([*more[1:], *(m for r in added for m in siblings[r])])
                        if m not in before]
                for m in more:
                    before[m] = result[m]
                    board.drop(m)
                out += more
                board.fill([n, *more], rng)
        for r in requests:
            ordered = in_order(problem, built, board.result, siblings[r])
            for n in siblings[r]:
                board.result[n] = ordered[n]
        prices = {n: board.prices.of(n, board.result[n]) for n in out}
        spreads = {r: spread_cost(problem, built, board.result, siblings[r]) for r in requests}
        cost = (spent + sum(prices.values()) - sum(price[n] for n in out)
                + sum(spreads.values()) - sum(spread[r] for r in requests))
        # an ejection that leaves as many out is kept whatever it costs: it changes which are left out
        if cost <= spent or (ejecting and cost // UNPLACED <= spent // UNPLACED):
            spent = cost
            for n, value in prices.items():
                price[n] = value
            spread.update(spreads)
            if cost < best_spent:
                best, best_spent = list(board.result), cost
                if on_better is not None:
                    on_better(cost)
        else:
            for n in out:
                board.drop(n)
            for n, assignment in before.items():
                if assignment[0] >= 0:
                    board.take(n, assignment)
    return best, best_spent, rounds


def _in_the_way(problem: Problem, built: Built, board: Board, n: int, rng: random.Random, firsts: dict,
                lasts: dict, samples: int = 24, avoid: set | None = None) -> list[int] | None:
    """A session left out, then the placed sessions in the way of one of its places: for each of a sample of
    its starts, the sessions of its cohort's learners then, and those of the instructor and of the room
    (that may take it then) with the fewest in the way; the start with the fewest in all."""
    sv = built.sessions[n]
    request = problem.requests[sv.request]
    cands = built.cands[sv.request]
    allowed_i, allowed_r = built.allowed[sv.request]
    reach = max(problem.travel_minutes.values(), default=0)
    holders: dict = defaultdict(list)
    mine = set(request.learner_ids)
    for m, (c, iid, rid) in enumerate(board.result):
        if c < 0 or m == n:
            continue
        r = built.sessions[m].request
        a, b = firsts[r][c], lasts[r][c]
        if avoid and m in avoid:   # not to be moved again: in the way for good (counted heavily below)
            m = -1 - m
        holders[iid].append((a, b, m))
        if rid is not None:
            holders[rid].append((a, b, m))
        for learner in mine & set(problem.requests[r].learner_ids):
            holders[("learner", learner)].append((a, b, m))
    starts = list(range(len(cands)))
    if len(starts) > samples:
        starts = rng.sample(starts, samples)
    best = None
    for c in starts:
        lo, hi = int(cands.held_start[c].min()), int(cands.held_end[c].max())
        way = set()
        for learner in mine:
            way |= {m for a, b, m in holders[("learner", learner)] if a < hi and lo < b}

        def fewest(resources: dict, margin: int):
            choices = [(len({m for a, b, m in holders[k] if a < hi + margin and lo - margin < b} - way), rng.random(), k)
                       for k, ok in resources.items() if ok[c]]
            return min(choices) if choices else None

        teacher = fewest(allowed_i, reach)
        if teacher is None:
            continue
        way |= {m for a, b, m in holders[teacher[2]] if a < hi + reach and lo - reach < b}
        if request.needs_room:
            room = fewest(allowed_r, 0)
            if room is None:
                continue
            way |= {m for a, b, m in holders[room[2]] if a < hi and lo < b}
        size = len(way) + 1000 * sum(1 for m in way if m < 0)
        if best is None or (size, rng.random()) < best[:2]:
            best = (size, rng.random(), way)
    if best is None or best[0] >= 1000:
        return None
    return [n, *best[2]]
