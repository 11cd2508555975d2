"""Regret insertion of pickup-and-delivery pairs.

A deterministic construction heuristic, the engine's fallback and the
first solution of the other backends. Orders bound to a vehicle go into
its route first; then, repeatedly, the free order with the largest
*regret* (the extra cost of its second-best route over its best) is
inserted at its cheapest feasible positions (Ropke and Pisinger, "An
adaptive large neighborhood search heuristic for the pickup and delivery
problem with time windows", Transportation Science 40(4), 2006).

Feasibility of inserting every open order into one route at every pair of
positions is judged at once with numpy, in constant time per position
pair, from forward times, waits and backward latest starts kept per route
(Savelsbergh, "The vehicle routing problem with time windows: minimizing
route duration", ORSA Journal on Computing 4(2), 1992).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine.model import Plan, SolveStats

if TYPE_CHECKING:
    import numpy.typing as npt

    from engine.model import Request
    from engine.solvers.problem import Problem


@dataclass(frozen=True, eq=False)
class _RouteState:
    """Times and loads of one route, positions 0 (start) to n + 1 (end)."""

    location: npt.NDArray[np.int64]
    departure: npt.NDArray[np.float64]
    start: npt.NDArray[np.float64]
    latest: npt.NDArray[np.float64]
    slack: npt.NDArray[np.float64]
    waited: npt.NDArray[np.float64]
    load: npt.NDArray[np.int64]
    capacity: int

    @classmethod
    def of(
        cls, problem: Problem, v: int, nodes: list[int], shift_end: float
    ) -> _RouteState:
        travel = problem.travel
        location = np.empty(len(nodes) + 2, dtype=np.int64)
        location[0] = problem.start[v]
        location[1:-1] = problem.node_location[nodes]
        location[-1] = problem.end[v]
        legs = travel[location[:-1], location[1:]]

        size = len(location)
        early = np.zeros(size)
        late = np.full(size, shift_end)
        service = np.zeros(size)
        change = np.zeros(size, dtype=np.int64)
        early[1:-1] = problem.early[nodes]
        late[1:-1] = problem.late[nodes]
        service[1:-1] = problem.service[nodes]
        change[1:-1] = problem.demand[nodes]
        change[0] = problem.initial_load[v]

        start = np.empty(size)
        waited = np.zeros(size)
        start[0] = problem.shift_start[v]
        for k in range(1, size):
            arrival = start[k - 1] + service[k - 1] + legs[k - 1]
            start[k] = max(arrival, early[k])
            waited[k] = start[k] - arrival

        latest = np.empty(size)
        latest[-1] = shift_end
        for k in range(size - 2, -1, -1):
            latest[k] = min(late[k], latest[k + 1] - service[k] - legs[k])

        return cls(
            location=location,
            departure=start + service,
            start=start,
            latest=latest,
            slack=late - start,
            waited=np.cumsum(waited),
            load=np.cumsum(change),
            capacity=int(problem.capacity[v]),
        )


class _Candidates:
    """Orders still to insert, as arrays of their two nodes."""

    def __init__(self, problem: Problem, orders: npt.NDArray[np.int64]):
        pickup, delivery = 2 * orders, 2 * orders + 1
        self.orders = orders
        self.at_pickup = problem.node_location[pickup]
        self.at_delivery = problem.node_location[delivery]
        self.early_p = problem.early[pickup]
        self.late_p = problem.late[pickup]
        self.service_p = problem.service[pickup]
        self.early_d = problem.early[delivery]
        self.late_d = problem.late[delivery]
        self.service_d = problem.service[delivery]
        self.quantity = problem.demand[pickup]
        self.direct = problem.travel[self.at_pickup, self.at_delivery]


def _pair_insertions(
    problem: Problem, route: _RouteState, c: _Candidates
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Cheapest feasible insertion of each candidate into ``route``.

    Returns the added travel seconds (``inf`` where none is feasible) and
    the positions after which the pickup and the delivery go.
    """
    travel = problem.travel
    loc = route.location
    gaps = len(loc) - 1
    head, tail = loc[:-1], loc[1:]
    base = travel[head, tail]
    to_p = travel[head][:, c.at_pickup].T
    p_to_next = travel[c.at_pickup][:, tail]
    to_d = travel[head][:, c.at_delivery].T
    d_to_next = travel[c.at_delivery][:, tail]
    early_p, late_p = c.early_p[:, None], c.late_p[:, None]
    early_d, late_d = c.early_d[:, None], c.late_d[:, None]
    quantity = c.quantity[:, None]

    # The pickup after position i, for every i at once.
    start_p = np.maximum(route.departure[:-1] + to_p, early_p)
    ok_p = start_p <= late_p
    leave_p = start_p + c.service_p[:, None]

    # The delivery right after the pickup.
    start_d = np.maximum(leave_p + c.direct[:, None], early_d)
    ok_next = start_d + c.service_d[:, None] + d_to_next <= route.latest[1:]
    adjacent_ok = (
        ok_p
        & (start_d <= late_d)
        & ok_next
        & (route.load[:-1] + quantity <= route.capacity)
    )
    adjacent_cost = to_p + c.direct[:, None] + d_to_next - base

    # The delivery after a later position j: the pickup delays the stops
    # between by a push that waiting absorbs, so the push at j is the
    # push at i + 1 less the waits in between (Savelsbergh's forward
    # time slack).
    push_first = np.maximum(0.0, leave_p + p_to_next - route.start[1:])
    absorbed = route.waited[None, :gaps] - route.waited[1:, None]
    push = np.maximum(0.0, push_first[:, :, None] - absorbed[None])
    room = _middle_room(route, gaps)
    start_d_far = np.maximum(
        route.departure[None, None, :gaps] + push + to_d[:, None, :],
        early_d[:, :, None],
    )
    far_ok = (
        ok_p[:, :, None]
        & (push_first[:, :, None] <= room[None])
        & (start_d_far <= late_d[:, :, None])
        & (
            start_d_far + c.service_d[:, None, None] + d_to_next[:, None, :]
            <= route.latest[None, None, 1:]
        )
        & (
            _peak_load(route, gaps)[None] + quantity[:, :, None]
            <= route.capacity
        )
    )
    far_cost = (to_p + p_to_next - base)[:, :, None] + (
        to_d + d_to_next - base
    )[:, None, :]

    cost = np.where(far_ok, far_cost, np.inf)
    diagonal = np.arange(gaps)
    cost[:, diagonal, diagonal] = np.where(adjacent_ok, adjacent_cost, np.inf)
    flat = cost.reshape(len(c.orders), -1)
    best = flat.argmin(axis=1)
    added = flat[np.arange(len(best)), best]
    return added, best // gaps, best % gaps


def _middle_room(route: _RouteState, gaps: int) -> npt.NDArray[np.float64]:
    """Largest push at position i + 1 that the stops i + 1 .. j absorb.

    ``room[i, j]`` is ``-inf`` where ``j <= i``, which leaves those
    position pairs to the adjacent case.
    """
    keyed = route.slack[1:gaps] + route.waited[1:gaps]
    room = np.full((gaps, gaps), -np.inf)
    for i in range(gaps - 1):
        room[i, i + 1 :] = (
            np.minimum.accumulate(keyed[i:]) - route.waited[i + 1]
        )
    return room


def _peak_load(route: _RouteState, gaps: int) -> npt.NDArray[np.int64]:
    """``peak[i, j]``: the largest load after positions i .. j."""
    peak = np.zeros((gaps, gaps), dtype=np.int64)
    loads = route.load[:gaps]
    for i in range(gaps):
        peak[i, i:] = np.maximum.accumulate(loads[i:])
    return peak


def _single_insertion(
    problem: Problem, route: _RouteState, node: int
) -> tuple[float, int]:
    """Cheapest insertion of one delivery of an order already on board.

    Only the shift end can make it infeasible, since bound orders have no
    due time; the returned position is -1 if no position fits.
    """
    travel = problem.travel
    loc = route.location
    at = problem.node_location[node]
    head, tail = loc[:-1], loc[1:]
    start = np.maximum(
        route.departure[:-1] + travel[head, at], problem.early[node]
    )
    finish = start + problem.service[node] + travel[at, tail]
    cost = travel[head, at] + travel[at, tail] - travel[head, tail]
    cost = np.where(finish <= route.latest[1:], cost, np.inf)
    best = int(cost.argmin())
    return float(cost[best]), best if np.isfinite(cost[best]) else -1


class InsertionSolver:
    """Regret-2 insertion with numpy-vectorised feasibility checks.

    Deterministic: ties go to the lower order, route and position index.
    It runs once; ``work_limit`` and ``time_limit`` do not apply.

    .. note:: Bound orders that no longer fit their vehicle's shift are
       appended to its route anyway, since the parcel must be delivered;
       the route then reports overtime.
    """

    name = "heuristic"

    def solve(self, request: Request, problem: Problem) -> Plan:
        """Build a plan for ``request``."""
        began = time.perf_counter()
        routes = self.routes(problem)
        stats = SolveStats(
            backend=self.name,
            iterations=sum(len(nodes) for nodes in routes) // 2,
            wall_s=time.perf_counter() - began,
        )
        return problem.build_plan(routes, stats)

    def routes(self, problem: Problem) -> list[list[int]]:
        """Node sequences per vehicle; absent orders are unassigned."""
        routes: list[list[int]] = [[] for _ in range(problem.vehicle_count)]
        self._insert_bound(problem, routes)
        self._insert_free(problem, routes)
        return routes

    def repair(
        self, problem: Problem, routes: list[list[int]]
    ) -> list[list[int]]:
        """Make another backend's routes feasible, then fill them.

        Backends that search through infeasible space (PyVRP penalises
        lateness rather than forbidding it) may return a best solution
        that is late or overloaded somewhere. Each free order at a broken
        stop is taken out until every route holds; then the orders left
        out are inserted wherever they now fit.
        """
        repaired = [list(nodes) for nodes in routes]
        for v, nodes in enumerate(repaired):
            while (order := problem.first_violation(v, nodes)) is not None:
                nodes[:] = [n for n in nodes if n // 2 != order]
        self._insert_free(problem, repaired)
        return repaired

    def _insert_bound(self, problem: Problem, routes: list[list[int]]) -> None:
        owner = problem.owner
        for v in range(problem.vehicle_count):
            bound = np.flatnonzero(owner == v)
            if not len(bound):
                continue
            # Deliveries of what is on board go in first: until they are
            # in the route, its initial load leaves no room to pick up.
            due = problem.early[2 * bound + 1]
            picked = ~problem.routable[2 * bound]
            for o in bound[np.lexsort((due, ~picked))]:
                state = _RouteState.of(problem, v, routes[v], np.inf)
                if problem.routable[2 * o]:
                    _, i, j = _pair_insertions(
                        problem, state, _Candidates(problem, np.array([o]))
                    )
                    _place(routes[v], int(o), int(i[0]), int(j[0]))
                else:
                    _, at = _single_insertion(problem, state, 2 * int(o) + 1)
                    routes[v].insert(at, 2 * int(o) + 1)

    def _insert_free(self, problem: Problem, routes: list[list[int]]) -> None:
        weights = problem.request.options.weights
        routed = {node // 2 for nodes in routes for node in nodes}
        free = np.array(
            [
                o
                for o in np.flatnonzero(problem.owner < 0)
                if int(o) not in routed
            ],
            dtype=np.int64,
        )
        if not len(free) or not problem.vehicle_count:
            return
        candidates = _Candidates(problem, free)

        # A column per vehicle, but only used vehicles and one idle
        # vehicle of each kind are evaluated: idle vehicles alike in every
        # respect offer the same insertions.
        cost = np.full((len(free), problem.vehicle_count), np.inf)
        where = np.zeros((len(free), problem.vehicle_count, 2), np.int64)
        open_ = np.ones(len(free), dtype=bool)
        idle: dict[tuple[float, ...], list[int]] = {}
        for v in range(problem.vehicle_count):
            if routes[v]:
                self._evaluate(
                    problem, routes, v, candidates, open_, cost, where
                )
            else:
                idle.setdefault(_vehicle_kind(problem, v), []).append(v)
        for twins in idle.values():
            first = twins.pop(0)
            self._evaluate(
                problem, routes, first, candidates, open_, cost, where
            )

        while True:
            best, second = _two_smallest(cost)
            if not np.isfinite(best).any():
                break
            with np.errstate(invalid="ignore"):
                regret = np.where(np.isfinite(best), second - best, -np.inf)
            chosen = int(np.lexsort((best, -regret))[0])
            v = int(cost[chosen].argmin())
            added = float(cost[chosen, v])
            open_[chosen] = False
            cost[chosen] = np.inf
            if added >= weights.unassigned:
                continue

            i, j = where[chosen, v]
            if not routes[v]:
                twins = idle[_vehicle_kind(problem, v)]
                if twins:
                    cost[:, twins[0]] = cost[:, v]
                    where[:, twins[0]] = where[:, v]
                    twins.pop(0)
            _place(routes[v], int(free[chosen]), int(i), int(j))
            self._evaluate(problem, routes, v, candidates, open_, cost, where)

    def _evaluate(
        self,
        problem: Problem,
        routes: list[list[int]],
        v: int,
        candidates: _Candidates,
        open_: npt.NDArray[np.bool_],
        cost: npt.NDArray[np.float64],
        where: npt.NDArray[np.int64],
    ) -> None:
        """Refresh column ``v`` for the orders still open.

        Costs are in objective units: weighted travel, plus the vehicle
        weight when the route is still empty.
        """
        weights = problem.request.options.weights
        shift_end = float(problem.shift_end[v])
        state = _RouteState.of(problem, v, routes[v], shift_end)
        added, i, j = _pair_insertions(problem, state, candidates)
        added = weights.travel_time * added
        if not routes[v]:
            added += weights.vehicle
        cost[:, v] = np.where(open_, added, np.inf)
        where[:, v, 0] = i
        where[:, v, 1] = j


def _two_smallest(
    cost: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per row, the smallest and second-smallest cost (``inf`` if none)."""
    if cost.shape[1] == 1:
        return cost[:, 0], np.full(len(cost), np.inf)
    ranked = np.partition(cost, 1, axis=1)
    return ranked[:, 0], ranked[:, 1]


def _vehicle_kind(problem: Problem, v: int) -> tuple[float, ...]:
    return (
        float(problem.start[v]),
        float(problem.end[v]),
        float(problem.shift_start[v]),
        float(problem.shift_end[v]),
        float(problem.capacity[v]),
        float(problem.initial_load[v]),
    )


def _place(nodes: list[int], order: int, i: int, j: int) -> None:
    """Put ``order``'s pickup after position i and delivery after j.

    Positions count the route's start as 0, so position k is after the
    k-th node.
    """
    nodes.insert(j, 2 * order + 1)
    nodes.insert(i, 2 * order)
