"""The OR-Tools backend: pickup and delivery on the routing library.

Times are scaled to integers as in the PyVRP backend. Every vehicle has a
start and an end node of its own; free orders sit in disjunctions whose
penalty is the unassigned weight, so an order that cannot be served is
dropped instead of failing the request; bound orders are pinned to their
vehicle, and that vehicle's shift end becomes a soft bound.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from engine.model import SolveStats

if TYPE_CHECKING:
    from engine.model import Plan, Request
    from engine.solvers.problem import Problem

SCALE = 1000
"""Integer units per second."""

OVERTIME_PENALTY = 1000
"""Cost per scaled unit a route with bound orders ends past its shift."""

WORK_GUARD_S = 600.0
"""Wall-time guard on work-bounded searches; hitting it is reported."""

BRANCHES_PER_WORK = 1000
"""Search branches allowed per unit of ``work_limit``.

Guided local search counts a solution only when it accepts a move; on a
small request it may accept none and never reach the solution limit, so
branches bound the work as well."""


def _up(value: float) -> int:
    return math.ceil(value * SCALE - 1e-9)


class ORToolsSolver:
    """Guided local search on OR-Tools, warm-started from insertion.

    ``first`` and ``deadline`` are as for
    :class:`~engine.solvers.pyvrp_backend.PyVRPSolver`.

    .. note:: Guided local search has no stopping rule of its own: in
       service mode it runs until the time limit; in simulation mode it
       stops after ``work_limit`` accepted solutions, which OR-Tools finds
       in the same order on every run.
    """

    name = "ortools"

    def __init__(
        self,
        first: list[list[int]] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.first = first
        self.deadline = deadline

    def solve(self, request: Request, problem: Problem) -> Plan:
        """Plan ``request``; stops at its work or time limit."""
        began = time.perf_counter()
        options = request.options
        nodes = [
            n for n in range(2 * problem.order_count) if problem.routable[n]
        ]
        model = _RoutingModel(problem, nodes)

        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = (
            routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
        )
        params.local_search_metaheuristic = (
            routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
        )
        if options.work_limit is not None:
            work = max(options.work_limit, 1)
            params.solution_limit = work
            solver = model.routing.solver()
            model.routing.AddSearchMonitor(
                solver.BranchesLimit(work * BRANCHES_PER_WORK)
            )
            limit = WORK_GUARD_S
        else:
            deadline = self.deadline or began + options.time_limit
            limit = deadline - time.perf_counter()
        params.time_limit.FromMilliseconds(max(int(limit * 1000), 1))

        solution = None
        if self.first is not None:
            start = model.assignment(self.first)
            if start is not None:
                solution = model.routing.SolveFromAssignmentWithParameters(
                    start, params
                )
        if solution is None:
            solution = model.routing.SolveWithParameters(params)
        if solution is None:
            raise RuntimeError("OR-Tools found no solution")

        wall = time.perf_counter() - began
        stats = SolveStats(
            backend=self.name,
            iterations=int(model.routing.solver().Solutions()),
            wall_s=wall,
            deadline_hit=wall >= limit * 0.99,
        )
        return problem.build_plan(model.routes(solution), stats)


class _RoutingModel:
    """The routing model: manager node ``k`` is ``nodes[k]``, then one
    start and one end node per vehicle."""

    def __init__(self, problem: Problem, nodes: list[int]) -> None:
        self.problem = problem
        self.nodes = nodes
        weights = problem.request.options.weights
        vehicles = problem.vehicle_count
        count = len(nodes)
        starts = [count + v for v in range(vehicles)]
        ends = [count + vehicles + v for v in range(vehicles)]
        self.manager = pywrapcp.RoutingIndexManager(
            count + 2 * vehicles, vehicles, starts, ends
        )
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing = self.routing

        location = np.concatenate(
            [problem.node_location[nodes], problem.start, problem.end]
        )
        service = np.concatenate(
            [problem.service[nodes], np.zeros(2 * vehicles)]
        )
        travel = np.ceil(problem.travel[location][:, location] * SCALE - 1e-9)
        travel[~np.isfinite(travel)] = 0
        arc = travel.astype(np.int64)
        duration = (
            arc + np.ceil(service * SCALE - 1e-9).astype(np.int64)[:, None]
        )
        horizon = self._horizon(duration)

        per_second = max(weights.travel_time, 1e-9)
        cost = routing.RegisterTransitMatrix(arc.tolist())
        routing.SetArcCostEvaluatorOfAllVehicles(cost)
        routing.SetFixedCostOfAllVehicles(
            round(weights.vehicle / per_second * SCALE)
        )
        timing = routing.RegisterTransitMatrix(duration.tolist())
        routing.AddDimension(timing, horizon, horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")
        change = np.concatenate(
            [problem.demand[nodes], np.zeros(2 * vehicles, dtype=np.int64)]
        )
        load = routing.RegisterUnaryTransitVector(change.tolist())
        routing.AddDimensionWithVehicleCapacity(
            load, 0, problem.capacity.tolist(), False, "load"
        )
        self.load = routing.GetDimensionOrDie("load")

        self._windows(horizon)
        self._orders(round(weights.unassigned / per_second * SCALE))
        self._shifts(horizon)
        if weights.delivery_time > 0:
            self._delivery_times(
                max(round(weights.delivery_time / per_second), 1)
            )

    def _horizon(self, duration: np.ndarray[Any, Any]) -> int:
        problem = self.problem
        finite = [
            value
            for array in (
                problem.early,
                problem.late,
                problem.shift_start,
                problem.shift_end,
            )
            for value in array.tolist()
            if math.isfinite(value)
        ]
        reach = int(duration.max(initial=0)) * (len(duration) + 1)
        return _up(max(finite, default=0.0)) + reach

    def _windows(self, horizon: int) -> None:
        problem = self.problem
        for k, node in enumerate(self.nodes):
            late = problem.late[node]
            upper = horizon if math.isinf(late) else int(late * SCALE)
            self.time.CumulVar(self.manager.NodeToIndex(k)).SetRange(
                _up(problem.early[node]), upper
            )

    def _delivery_times(self, per_unit: int) -> None:
        """Price each free order's delivery at ``per_unit`` per scaled
        unit of time past its ready time.

        Travel costs one per scaled unit, so the weight is carried in
        whole multiples of the travel weight (at least one).
        """
        problem = self.problem
        for k, node in enumerate(self.nodes):
            order = node // 2
            if node % 2 == 1 and problem.owner[order] < 0:
                self.time.SetCumulVarSoftUpperBound(
                    self.manager.NodeToIndex(k),
                    _up(problem.early[2 * order]),
                    per_unit,
                )

    def _orders(self, penalty: int) -> None:
        problem, routing = self.problem, self.routing
        solver = routing.solver()
        index_of = {
            node: self.manager.NodeToIndex(k)
            for k, node in enumerate(self.nodes)
        }
        for o in range(problem.order_count):
            delivery = index_of[2 * o + 1]
            owner = int(problem.owner[o])
            if 2 * o in index_of:
                pickup = index_of[2 * o]
                routing.AddPickupAndDelivery(pickup, delivery)
                solver.Add(
                    routing.VehicleVar(pickup) == routing.VehicleVar(delivery)
                )
                solver.Add(
                    self.time.CumulVar(pickup) <= self.time.CumulVar(delivery)
                )
                if owner < 0:
                    routing.AddDisjunction([pickup], penalty // 2)
                    routing.AddDisjunction([delivery], penalty - penalty // 2)
                else:
                    routing.VehicleVar(pickup).SetValue(owner)
            if owner >= 0:
                # Bound nodes are mandatory, so their vehicle is fixed.
                routing.VehicleVar(delivery).SetValue(owner)

    def _shifts(self, horizon: int) -> None:
        problem, routing = self.problem, self.routing
        for v in range(problem.vehicle_count):
            start = routing.Start(v)
            end = routing.End(v)
            first = _up(problem.shift_start[v])
            self.time.CumulVar(start).SetRange(first, horizon)
            self.load.CumulVar(start).SetValue(int(problem.initial_load[v]))
            shift_end = problem.shift_end[v]
            last = horizon if math.isinf(shift_end) else int(shift_end * SCALE)
            if (problem.owner == v).any():
                self.time.SetCumulVarSoftUpperBound(
                    end, last, OVERTIME_PENALTY
                )
            else:
                self.time.CumulVar(end).SetRange(first, last)
            self.time.CumulVar(start).SetMax(last)
            routing.AddVariableMinimizedByFinalizer(self.time.CumulVar(start))

    def assignment(self, routes: list[list[int]]) -> Any:
        """The solver's assignment for node sequences, or ``None``."""
        position = {node: k for k, node in enumerate(self.nodes)}
        indices = [
            [self.manager.NodeToIndex(position[node]) for node in nodes]
            for nodes in routes
        ]
        return self.routing.ReadAssignmentFromRoutes(indices, True)

    def routes(self, solution: Any) -> list[list[int]]:
        """Node sequences per vehicle in ``solution``."""
        routing, manager = self.routing, self.manager
        routes: list[list[int]] = []
        for v in range(self.problem.vehicle_count):
            nodes: list[int] = []
            index = solution.Value(routing.NextVar(routing.Start(v)))
            while not routing.IsEnd(index):
                nodes.append(self.nodes[manager.IndexToNode(index)])
                index = solution.Value(routing.NextVar(index))
            routes.append(nodes)
        return routes
