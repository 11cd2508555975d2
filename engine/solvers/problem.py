"""A request compiled to arrays, the common input of every backend.

Each order ``o`` becomes two nodes, its pickup ``2 * o`` and its delivery
``2 * o + 1``. A vehicle's route runs from its start location through
nodes to its end; an open route (no end location) ends at a *sink*, one
extra matrix index that every location reaches in zero seconds.

Orders bound to a vehicle (on board or committed) keep their ready times
but lose their due times here: they must be served whatever the delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from engine.model import (
    Plan,
    Route,
    SolveStats,
    Stop,
    StopKind,
    Unassigned,
    UnassignedReason,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.model import Request


@dataclass(frozen=True, eq=False)
class Problem:
    """Arrays over nodes and vehicles, built once per request.

    Attributes
    ----------
    travel
        Seconds between matrix indices; the last index is the sink.
    node_location, early, late, service, demand
        Per node: matrix index, service window, service seconds, and the
        change of load (``+q`` at a pickup, ``-q`` at a delivery).
    routable
        Per node: whether it still needs a visit (a pickup already made,
        for an order on board, does not).
    start, end, shift_start, shift_end, capacity, initial_load
        Per vehicle; ``end`` is the sink for open routes.
    owner
        Per order: the vehicle it is bound to, or -1 if free.
    """

    request: Request
    travel: npt.NDArray[np.float64]
    node_location: npt.NDArray[np.int64]
    early: npt.NDArray[np.float64]
    late: npt.NDArray[np.float64]
    service: npt.NDArray[np.float64]
    demand: npt.NDArray[np.int64]
    routable: npt.NDArray[np.bool_]
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    shift_start: npt.NDArray[np.float64]
    shift_end: npt.NDArray[np.float64]
    capacity: npt.NDArray[np.int64]
    initial_load: npt.NDArray[np.int64]
    owner: npt.NDArray[np.int64]

    @property
    def order_count(self) -> int:
        """Number of orders."""
        return len(self.owner)

    @property
    def vehicle_count(self) -> int:
        """Number of vehicles."""
        return len(self.start)

    @property
    def sink(self) -> int:
        """Matrix index of the zero-cost end of open routes."""
        return len(self.travel) - 1

    @classmethod
    def from_request(cls, request: Request) -> Problem:
        """Compile ``request``; its travel matrix is computed here."""
        n_loc = len(request.locations)
        travel = np.zeros((n_loc + 1, n_loc + 1))
        travel[:n_loc, :n_loc] = request.travel_matrix
        travel[n_loc, :n_loc] = np.inf
        loc = request.location_index
        orders = request.orders
        n = len(orders)

        node_location = np.empty(2 * n, dtype=np.int64)
        early = np.empty(2 * n)
        late = np.empty(2 * n)
        service = np.empty(2 * n)
        demand = np.empty(2 * n, dtype=np.int64)
        for o, order in enumerate(orders):
            p, d = 2 * o, 2 * o + 1
            node_location[p] = loc[order.pickup]
            node_location[d] = loc[order.delivery]
            early[p] = order.ready_time
            late[p] = min(order.pickup_due, order.due_time)
            early[d] = order.delivery_ready
            late[d] = order.due_time
            service[p] = order.pickup_service
            service[d] = order.delivery_service
            demand[p] = order.quantity
            demand[d] = -order.quantity

        vehicles = request.vehicles
        owner = np.full(n, -1, dtype=np.int64)
        routable = np.ones(2 * n, dtype=bool)
        initial_load = np.zeros(len(vehicles), dtype=np.int64)
        order_index = request.order_index
        for v, vehicle in enumerate(vehicles):
            for order_id in vehicle.onboard:
                o = order_index[order_id]
                owner[o] = v
                routable[2 * o] = False
                initial_load[v] += orders[o].quantity
            for order_id in vehicle.committed:
                owner[order_index[order_id]] = v
        bound = np.repeat(owner >= 0, 2)
        late[bound] = np.inf

        return cls(
            request=request,
            travel=travel,
            node_location=node_location,
            early=early,
            late=late,
            service=service,
            demand=demand,
            routable=routable,
            start=np.array([loc[v.start] for v in vehicles], dtype=np.int64),
            end=np.array(
                [n_loc if v.end is None else loc[v.end] for v in vehicles],
                dtype=np.int64,
            ),
            shift_start=np.array([v.shift_start for v in vehicles]),
            shift_end=np.array([v.shift_end for v in vehicles]),
            capacity=np.array([v.capacity for v in vehicles], dtype=np.int64),
            initial_load=initial_load,
            owner=owner,
        )

    def route_cost(self, vehicle: int, nodes: Sequence[int]) -> float:
        """Travel seconds of ``vehicle`` visiting ``nodes`` in order."""
        path = [self.start[vehicle]]
        path.extend(self.node_location[node] for node in nodes)
        path.append(self.end[vehicle])
        index = np.asarray(path)
        return float(self.travel[index[:-1], index[1:]].sum())

    def build_plan(
        self,
        routes: Sequence[Sequence[int]],
        stats: SolveStats,
    ) -> Plan:
        """Schedule each vehicle's nodes and assemble the plan.

        ``routes[v]`` lists the nodes vehicle ``v`` visits in order; an
        empty list leaves the vehicle unused. Orders on no route become
        unassigned, with a reason from :meth:`unassigned_reason`.
        """
        request = self.request
        weights = request.options.weights
        planned: list[Route] = []
        served: set[int] = set()
        for v, nodes in enumerate(routes):
            if not nodes:
                continue
            planned.append(self._schedule(v, nodes))
            served.update(node // 2 for node in nodes)
        left = np.array(
            [o for o in range(self.order_count) if o not in served],
            dtype=np.int64,
        )
        unassigned = tuple(
            Unassigned(request.orders[o].id, reason)
            for o, reason in zip(
                left.tolist(), self.unassigned_reasons(left), strict=True
            )
        )
        travel = sum(route.travel_time for route in planned)
        cost = (
            weights.travel_time * travel
            + weights.vehicle * len(planned)
            + weights.unassigned * len(unassigned)
        )
        if weights.delivery_time > 0:
            cost += weights.delivery_time * self._delivery_seconds(planned)
        return Plan(tuple(planned), unassigned, cost, stats)

    def _delivery_seconds(self, routes: Sequence[Route]) -> float:
        """Seconds from ready time to delivery, summed over the free
        orders that ``routes`` deliver."""
        orders = self.request.order_index
        total = 0.0
        for route in routes:
            for stop in route.stops:
                o = orders[stop.order_id]
                if stop.kind is StopKind.DELIVERY and self.owner[o] < 0:
                    total += max(stop.start - self.early[2 * o], 0.0)
        return total

    def first_violation(self, v: int, nodes: Sequence[int]) -> int | None:
        """The first free order whose stop on this route breaks its time
        window, the capacity or the shift end, or ``None``.

        Bound orders are never named: their due times are soft here. A
        load over the capacity at a bound stop names the free order
        picked up last of those on board.
        """
        time = float(self.shift_start[v])
        where = int(self.start[v])
        load = int(self.initial_load[v])
        last_free = None
        aboard: list[int] = []
        for node in nodes:
            here = int(self.node_location[node])
            start = max(time + self.travel[where, here], self.early[node])
            load += int(self.demand[node])
            order = node // 2
            free = self.owner[order] < 0
            if free:
                last_free = order
                if node % 2 == 0:
                    aboard.append(order)
                elif order in aboard:
                    aboard.remove(order)
                if start > self.late[node]:
                    return order
            if load > self.capacity[v]:
                if free:
                    return order
                if aboard:
                    return aboard[-1]
            time = start + float(self.service[node])
            where = here
        if time + self.travel[where, self.end[v]] > self.shift_end[v]:
            return last_free
        return None

    def node_routes(self, plan: Plan) -> list[list[int]]:
        """Node sequences per vehicle of ``plan``, for a warm start."""
        vehicles = {v.id: k for k, v in enumerate(self.request.vehicles)}
        orders = self.request.order_index
        routes: list[list[int]] = [[] for _ in range(self.vehicle_count)]
        for route in plan.routes:
            routes[vehicles[route.vehicle_id]] = [
                2 * orders[stop.order_id] + (stop.kind is StopKind.DELIVERY)
                for stop in route.stops
            ]
        return routes

    def _schedule(self, v: int, nodes: Sequence[int]) -> Route:
        request = self.request
        orders = request.orders
        locations = request.locations
        due = self._due_times
        node_location = self._node_locations
        early, service, demand = self._node_lists
        time = float(self.shift_start[v])
        where = int(self.start[v])
        load = int(self.initial_load[v])
        travelled = 0.0
        stops = []
        for node in nodes:
            here = node_location[node]
            leg = float(self.travel[where, here])
            travelled += leg
            arrival = time + leg
            start = max(arrival, early[node])
            time = start + service[node]
            load += demand[node]
            kind = StopKind.PICKUP if node % 2 == 0 else StopKind.DELIVERY
            stops.append(
                Stop(
                    order_id=orders[node // 2].id,
                    kind=kind,
                    location_id=locations[here].id,
                    arrival=arrival,
                    start=start,
                    departure=time,
                    load=load,
                    late=max(0.0, start - due[node]),
                )
            )
            where = here
        leg = float(self.travel[where, self.end[v]])
        return Route(
            vehicle_id=request.vehicles[v].id,
            stops=tuple(stops),
            travel_time=travelled + leg,
            end_time=time + leg,
        )

    @cached_property
    def _due_times(self) -> list[float]:
        """Per node, the latest service start as the request states it
        (bound orders keep theirs here)."""
        due = []
        for order in self.request.orders:
            due.append(min(order.pickup_due, order.due_time))
            due.append(order.due_time)
        return due

    @cached_property
    def _node_locations(self) -> list[int]:
        """``node_location`` as Python integers, for scheduling loops."""
        return [int(at) for at in self.node_location]

    @cached_property
    def _node_lists(self) -> tuple[list[float], list[float], list[int]]:
        """``early``, ``service`` and ``demand`` as Python numbers, for
        scheduling loops that would otherwise box a numpy scalar per
        read."""
        return (
            [float(t) for t in self.early],
            [float(t) for t in self.service],
            [int(q) for q in self.demand],
        )

    def unassigned_reasons(
        self, orders: npt.NDArray[np.int64]
    ) -> list[UnassignedReason]:
        """Why each of ``orders`` may be off a plan, judged from the order
        alone."""
        fits = np.asarray(
            (self.capacity[:, None] >= self.demand[2 * orders]).any(axis=0)
        )
        servable = self.servable(orders)
        return [
            UnassignedReason.CAPACITY
            if not fit
            else UnassignedReason.FLEET_BUSY
            if can
            else UnassignedReason.TIME_WINDOW
            for fit, can in zip(fits.tolist(), servable.tolist(), strict=True)
        ]

    def servable(self, orders: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Whether some idle vehicle could serve each order on its own:
        capacity, both time windows and the shift end."""
        p, d = 2 * orders, 2 * orders + 1
        at_p = self.node_location[p][None, :]
        at_d = self.node_location[d][None, :]
        start = self.start[:, None]
        start_p = np.maximum(
            self.shift_start[:, None] + self.travel[start, at_p],
            self.early[p],
        )
        start_d = np.maximum(
            start_p + self.service[p] + self.travel[at_p, at_d],
            self.early[d],
        )
        finish = (
            start_d + self.service[d] + self.travel[at_d, self.end[:, None]]
        )
        able = (
            (self.capacity[:, None] >= self.demand[p])
            & (start_p <= self.late[p])
            & (start_d <= self.late[d])
            & (finish <= self.shift_end[:, None])
        )
        return np.asarray(able.any(axis=0))
