"""Regret insertion of pickup-and-delivery pairs.

A deterministic construction heuristic, the engine's fallback and the
first solution of the other backends. Orders bound to a vehicle go into
its route first; then, repeatedly, the free order with the largest
*regret* (the extra cost of its second-best route over its best) is
inserted at its cheapest feasible positions (Ropke and Pisinger, "An
adaptive large neighborhood search heuristic for the pickup and delivery
problem with time windows", Transportation Science 40(4), 2006).

Feasibility of inserting every open order into a route at every pair of
positions is judged at once with numpy, in constant time per position
pair, from forward times, waits and backward latest starts kept per route
(Savelsbergh, "The vehicle routing problem with time windows: minimizing
route duration", ORSA Journal on Computing 4(2), 1992). Routes of one
length are judged together, in one pass of numpy calls: a dispatch
question has a hundred short routes, and a pass per route spent most of
its time in numpy's per-call overhead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from engine.model import Plan, SolveStats

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy.typing as npt

    from engine.model import Request
    from engine.solvers.problem import Problem


_BATCH_ELEMENTS = 1 << 20
"""Largest routes x candidates x positions x positions judged in one go:
about 8 MB per temporary array."""


@dataclass(frozen=True, eq=False)
class _Routes:
    """Times and loads of routes of equal length side by side.

    Row r is one route, positions 0 (start) to n + 1 (end). Routes of one
    length are stacked without padding, so that judging insertions into
    all of them at once costs one pass of numpy calls instead of one per
    route. ``waited`` is the waiting up to each position, summed;
    ``priced`` marks the deliveries of free orders, whose time from
    ready to delivery the objective may weigh.
    """

    location: npt.NDArray[np.int64]
    departure: npt.NDArray[np.float64]
    start: npt.NDArray[np.float64]
    latest: npt.NDArray[np.float64]
    slack: npt.NDArray[np.float64]
    waited: npt.NDArray[np.float64]
    load: npt.NDArray[np.int64]
    capacity: npt.NDArray[np.int64]
    priced: npt.NDArray[np.bool_]

    @property
    def gaps(self) -> int:
        """Places to insert a stop: after the start or after a node."""
        return int(self.location.shape[1]) - 1

    @classmethod
    def of(
        cls,
        problem: Problem,
        vehicles: npt.NDArray[np.int64],
        routes: Sequence[Sequence[int]],
        shift_end: npt.NDArray[np.float64],
    ) -> _Routes:
        """The routes ``routes[r]`` of ``vehicles[r]``, all of one length,
        each ending by ``shift_end[r]``."""
        nodes = np.array(routes, dtype=np.int64)
        count, size = len(vehicles), nodes.shape[1] + 2
        location = np.empty((count, size), dtype=np.int64)
        location[:, 0] = problem.start[vehicles]
        location[:, 1:-1] = problem.node_location[nodes]
        location[:, -1] = problem.end[vehicles]
        legs = problem.travel[location[:, :-1], location[:, 1:]]

        early = np.zeros((count, size))
        late = np.empty((count, size))
        late[:] = shift_end[:, None]
        service = np.zeros((count, size))
        change = np.zeros((count, size), dtype=np.int64)
        early[:, 1:-1] = problem.early[nodes]
        late[:, 1:-1] = problem.late[nodes]
        service[:, 1:-1] = problem.service[nodes]
        change[:, 1:-1] = problem.demand[nodes]
        change[:, 0] = problem.initial_load[vehicles]
        priced = np.zeros((count, size), dtype=bool)
        if problem.request.options.weights.delivery_time:
            priced[:, 1:-1] = (nodes % 2 == 1) & (
                problem.owner[nodes // 2] < 0
            )

        start = np.empty((count, size))
        waited = np.zeros((count, size))
        start[:, 0] = problem.shift_start[vehicles]
        for k in range(1, size):
            arrival = start[:, k - 1] + service[:, k - 1] + legs[:, k - 1]
            start[:, k] = np.maximum(arrival, early[:, k])
            waited[:, k] = start[:, k] - arrival

        latest = np.empty((count, size))
        latest[:, -1] = shift_end
        for k in range(size - 2, -1, -1):
            latest[:, k] = np.minimum(
                late[:, k], latest[:, k + 1] - service[:, k] - legs[:, k]
            )

        return cls(
            location=location,
            departure=start + service,
            start=start,
            latest=latest,
            slack=late - start,
            waited=np.cumsum(waited, axis=1),
            load=np.cumsum(change, axis=1),
            capacity=problem.capacity[vehicles],
            priced=priced,
        )


class _Candidates:
    """Orders to insert, as arrays of their two nodes.

    ``orders`` is two-dimensional: one row shared by every route, or one
    row per route, each route then judged for its own orders.
    """

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
    problem: Problem, routes: _Routes, c: _Candidates, delivery: float = 0.0
) -> tuple[
    npt.NDArray[np.float64], npt.NDArray[np.int64], npt.NDArray[np.int64]
]:
    """Cheapest feasible insertion of each candidate into each route.

    Returns, per route and candidate, the added cost in travel seconds
    (``inf`` where no insertion is feasible): the added travel, plus
    ``delivery`` times the seconds from the candidate's ready time to its
    delivery and the seconds by which the insertion delays the route's
    later deliveries of free orders (net of the waits that absorb the
    push); and the positions after which the pickup and the delivery go.
    Axes below: route, candidate, pickup position, delivery position.
    """
    travel = problem.travel
    gaps = routes.gaps
    head, tail = routes.location[:, None, :-1], routes.location[:, None, 1:]
    at_p, at_d = c.at_pickup[:, :, None], c.at_delivery[:, :, None]
    base = travel[head, tail]
    to_p = travel[head, at_p]
    p_to_next = travel[at_p, tail]
    to_d = travel[head, at_d]
    d_to_next = travel[at_d, tail]
    early_p, late_p = c.early_p[:, :, None], c.late_p[:, :, None]
    early_d, late_d = c.early_d[:, :, None], c.late_d[:, :, None]
    service_d = c.service_d[:, :, None]
    direct = c.direct[:, :, None]
    quantity = c.quantity[:, :, None]
    latest_next = routes.latest[:, None, 1:]

    # The pickup after position i, for every i at once.
    start_p = np.maximum(routes.departure[:, None, :-1] + to_p, early_p)
    ok_p = start_p <= late_p
    leave_p = start_p + c.service_p[:, :, None]

    # The delivery right after the pickup.
    start_d = np.maximum(leave_p + direct, early_d)
    ok_next = start_d + service_d + d_to_next <= latest_next
    adjacent_ok = (
        ok_p
        & (start_d <= late_d)
        & ok_next
        & (
            routes.load[:, None, :-1] + quantity
            <= routes.capacity[:, None, None]
        )
    )
    adjacent_cost = to_p + direct + d_to_next - base
    if delivery:
        pushed = np.maximum(
            0.0, start_d + service_d + d_to_next - routes.start[:, None, 1:]
        )
        adjacent_cost = adjacent_cost + delivery * (
            start_d - early_p + _knock_on(routes, pushed)
        )

    # The delivery after a later position j: the pickup delays the stops
    # between by a push that waiting absorbs, so the push at j is the
    # push at i + 1 less the waits in between (Savelsbergh's forward
    # time slack).
    push_first = np.maximum(
        0.0, leave_p + p_to_next - routes.start[:, None, 1:]
    )
    absorbed = routes.waited[:, None, :gaps] - routes.waited[:, 1:, None]
    push = np.maximum(0.0, push_first[..., None] - absorbed[:, None])
    start_d_far = np.maximum(
        routes.departure[:, None, None, :gaps] + push + to_d[:, :, None, :],
        early_d[..., None],
    )
    far_ok = (
        ok_p[..., None]
        & (push_first[..., None] <= _middle_room(routes)[:, None])
        & (start_d_far <= late_d[..., None])
        & (
            start_d_far + service_d[..., None] + d_to_next[:, :, None, :]
            <= latest_next[:, :, None, :]
        )
        & (
            _peak_load(routes)[:, None] + quantity[..., None]
            <= routes.capacity[:, None, None, None]
        )
    )
    far_cost = (to_p + p_to_next - base)[..., None] + (
        to_d + d_to_next - base
    )[:, :, None, :]
    if delivery:
        pushed = np.maximum(
            0.0,
            start_d_far
            + service_d[..., None]
            + d_to_next[:, :, None, :]
            - routes.start[:, None, None, 1:],
        )
        far_cost = far_cost + delivery * (
            start_d_far
            - early_p[..., None]
            + _pushed_between(routes, push_first)
            + _knock_on(routes, pushed)
        )

    cost = np.where(far_ok, far_cost, np.inf)
    diagonal = np.arange(gaps)
    cost[..., diagonal, diagonal] = np.where(
        adjacent_ok, adjacent_cost, np.inf
    )
    flat = cost.reshape(*cost.shape[:2], -1)
    best = flat.argmin(axis=2)
    return flat.min(axis=2), best // gaps, best % gaps


def _absorbed(
    routes: _Routes, pushed: npt.NDArray[np.float64]
) -> Iterator[tuple[int, npt.NDArray[np.float64]]]:
    """Per priced delivery at position k, the delay that a push at each
    position m + 1 <= k (``pushed[..., m]``, routes on the first axis)
    brings to it: the push less the waits between, which absorb it.
    Zero on routes whose position k is not priced."""
    waited = routes.waited
    shape = (len(waited),) + (1,) * (pushed.ndim - 2)
    for k in range(1, routes.gaps):
        if not routes.priced[:, k].any():
            continue
        absorbed = waited[:, k, None] - waited[:, 1 : k + 1]
        delay = np.maximum(0.0, pushed[..., :k] - absorbed.reshape(*shape, k))
        yield k, np.where(routes.priced[:, k].reshape(*shape, 1), delay, 0.0)


def _knock_on(
    routes: _Routes, pushed: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Delay that a push at position m + 1 (``pushed[..., m]``) brings to
    the priced deliveries from there on, summed."""
    total = np.zeros_like(pushed)
    for k, delay in _absorbed(routes, pushed):
        total[..., :k] += delay
    return total


def _pushed_between(
    routes: _Routes, push_first: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``[r, c, i, j]``: the delay that a pickup after position i, which
    pushes position i + 1 by ``push_first[r, c, i]``, brings to the
    priced deliveries at positions i + 1 .. j, summed."""
    count, candidates, gaps = push_first.shape
    total = np.zeros((count, candidates, gaps, gaps))
    for k, delay in _absorbed(routes, push_first):
        total[:, :, :k, k:] += delay[..., None]
    return total


@cache
def _later(gaps: int) -> npt.NDArray[np.bool_]:
    """``later[i, j]``: whether position j comes after position i."""
    return np.triu(np.ones((gaps, gaps), dtype=bool), 1)


@cache
def _onward(gaps: int) -> npt.NDArray[np.bool_]:
    """``onward[i, j]``: whether position j is i or comes after it."""
    return np.triu(np.ones((gaps, gaps), dtype=bool))


def _middle_room(routes: _Routes) -> npt.NDArray[np.float64]:
    """Largest push at position i + 1 that the stops i + 1 .. j absorb.

    ``room[r, i, j]`` is ``-inf`` where ``j <= i``, which leaves those
    position pairs to the adjacent case.
    """
    gaps = routes.gaps
    later = _later(gaps)
    keyed = routes.slack[:, 1:gaps] + routes.waited[:, 1:gaps]
    # Row i holds keyed[i:] from column i + 1 on, so that a running
    # minimum along the row gives min(keyed[i .. j - 1]) at column j.
    room = np.full((len(keyed), gaps, gaps), np.inf)
    room[:, :, 1:] = np.where(later[:, 1:], keyed[:, None, :], np.inf)
    room = np.minimum.accumulate(room, axis=2)
    room -= routes.waited[:, 1 : gaps + 1, None]
    room[:, ~later] = -np.inf
    return room


def _peak_load(routes: _Routes) -> npt.NDArray[np.int64]:
    """``peak[r, i, j]``: the largest load after positions i .. j."""
    onward = _onward(routes.gaps)
    loads = routes.load[:, None, : routes.gaps]
    floor = np.iinfo(np.int64).min
    peak = np.maximum.accumulate(np.where(onward, loads, floor), axis=2)
    peak[:, ~onward] = 0
    return peak


def _single_insertions(
    problem: Problem, routes: _Routes, nodes: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Cheapest position of ``nodes[r]``, a delivery of an order already
    on board, in route r.

    Only the shift end can make it infeasible, since bound orders have no
    due time; the position is -1 where no position fits.
    """
    travel = problem.travel
    at = problem.node_location[nodes][:, None]
    head, tail = routes.location[:, :-1], routes.location[:, 1:]
    start = np.maximum(
        routes.departure[:, :-1] + travel[head, at],
        problem.early[nodes][:, None],
    )
    finish = start + problem.service[nodes][:, None] + travel[at, tail]
    cost = travel[head, at] + travel[at, tail] - travel[head, tail]
    cost = np.where(finish <= routes.latest[:, 1:], cost, np.inf)
    best = cost.argmin(axis=1)
    fits = np.isfinite(cost[np.arange(len(best)), best])
    return np.where(fits, best, -1)


def _by_length(
    vehicles: Sequence[int], routes: Sequence[Sequence[int]], candidates: int
) -> list[npt.NDArray[np.int64]]:
    """``vehicles`` in groups whose routes are of one length, each small
    enough to judge ``candidates`` orders at once."""
    groups: dict[int, list[int]] = {}
    for v in vehicles:
        groups.setdefault(len(routes[v]), []).append(v)
    batches: list[npt.NDArray[np.int64]] = []
    for length, members in sorted(groups.items()):
        gaps = length + 1
        size = max(1, _BATCH_ELEMENTS // (candidates * gaps * gaps))
        batches.extend(
            np.array(members[k : k + size], dtype=np.int64)
            for k in range(0, len(members), size)
        )
    return batches


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
        # Each vehicle takes its bound orders one at a time, and vehicles
        # do not affect one another: the k-th order of every vehicle goes
        # in at once, in batches of routes of one length.
        # Per vehicle, deliveries of what is on board go in first: until
        # they are in the route, its initial load leaves no room to pick
        # up. Then by when the delivery may start, then by order.
        bound = np.flatnonzero(problem.owner >= 0)
        owner = problem.owner[bound]
        picked = ~problem.routable[2 * bound]
        due = problem.early[2 * bound + 1]
        ranked = np.lexsort((due, ~picked, owner))
        queues: dict[int, list[int]] = {}
        for o, v in zip(
            bound[ranked].tolist(), owner[ranked].tolist(), strict=True
        ):
            queues.setdefault(v, []).append(o)
        routable = problem.routable[0::2].tolist()
        unbounded = np.full(problem.vehicle_count, np.inf)

        def unbounded_routes(batch: npt.NDArray[np.int64]) -> _Routes:
            return _Routes.of(
                problem, batch, [routes[v] for v in batch], unbounded[batch]
            )

        for k in range(max(map(len, queues.values()), default=0)):
            turn = [v for v, queue in queues.items() if len(queue) > k]
            pairs = [v for v in turn if routable[queues[v][k]]]
            onboard = [v for v in turn if not routable[queues[v][k]]]
            for batch in _by_length(pairs, routes, 1):
                orders = np.array([[queues[v][k]] for v in batch])
                state = unbounded_routes(batch)
                _, i, j = _pair_insertions(
                    problem, state, _Candidates(problem, orders)
                )
                for r, v in enumerate(batch.tolist()):
                    _place(routes[v], queues[v][k], int(i[r, 0]), int(j[r, 0]))
            for batch in _by_length(onboard, routes, 1):
                deliveries = np.array([2 * queues[v][k] + 1 for v in batch])
                state = unbounded_routes(batch)
                at = _single_insertions(problem, state, deliveries)
                for v, node, position in zip(
                    batch.tolist(),
                    deliveries.tolist(),
                    at.tolist(),
                    strict=True,
                ):
                    routes[v].insert(position, node)

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
        candidates = _Candidates(problem, free[None, :])

        # A column per vehicle, but only used vehicles and one idle
        # vehicle of each kind are evaluated: idle vehicles alike in every
        # respect offer the same insertions.
        cost = np.full((len(free), problem.vehicle_count), np.inf)
        where = np.zeros((len(free), problem.vehicle_count, 2), np.int64)
        open_ = np.ones(len(free), dtype=bool)
        idle: dict[tuple[float, ...], list[int]] = {}
        judged = []
        for v in range(problem.vehicle_count):
            if routes[v]:
                judged.append(v)
            else:
                idle.setdefault(_vehicle_kind(problem, v), []).append(v)
        judged.extend(twins.pop(0) for twins in idle.values())
        for batch in _by_length(judged, routes, len(free)):
            self._evaluate(
                problem, routes, batch, candidates, open_, cost, where
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
            if open_.any():
                self._evaluate(
                    problem,
                    routes,
                    np.array([v]),
                    candidates,
                    open_,
                    cost,
                    where,
                )

    def _evaluate(
        self,
        problem: Problem,
        routes: list[list[int]],
        vehicles: npt.NDArray[np.int64],
        candidates: _Candidates,
        open_: npt.NDArray[np.bool_],
        cost: npt.NDArray[np.float64],
        where: npt.NDArray[np.int64],
    ) -> None:
        """Refresh the columns of ``vehicles``, whose routes are of one
        length, for the orders still open.

        Costs are in objective units: weighted travel, plus the vehicle
        weight when the route is still empty.
        """
        weights = problem.request.options.weights
        state = _Routes.of(
            problem,
            vehicles,
            [routes[v] for v in vehicles],
            problem.shift_end[vehicles],
        )
        added, i, j = _pair_insertions(
            problem,
            state,
            candidates,
            weights.delivery_time / max(weights.travel_time, 1e-9),
        )
        added = weights.travel_time * added
        if not routes[vehicles[0]]:
            added += weights.vehicle
        cost[:, vehicles] = np.where(open_[:, None], added.T, np.inf)
        where[:, vehicles, 0] = i.T
        where[:, vehicles, 1] = j.T


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
