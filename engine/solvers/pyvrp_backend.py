"""The PyVRP backend: iterated local search on shipments.

PyVRP works in integers, so times are scaled by :data:`SCALE` and rounded
on the safe side: travel and service times up, earliest starts up, latest
starts down. A plan feasible in integers is then feasible in the request's
own seconds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyvrp
from pyvrp import search
from pyvrp.stop import MaxIterations, MaxRuntime

from engine.model import SolveStats
from engine.solvers.insertion import InsertionSolver

if TYPE_CHECKING:
    import numpy.typing as npt

    from engine.model import Plan, Request
    from engine.solvers.problem import Problem

SCALE = 1000
"""Integer units per second."""

UNREACHABLE = 10**12
"""Travel time, in scaled units, from the sink of open routes."""


def supports(problem: Problem) -> bool:
    """Whether this backend can model ``problem``.

    .. note:: PyVRP cannot pin an order to one vehicle, so requests with
       orders on board or committed go to another backend; nor can it
       price a delivery's time, so requests that weight it do too.
    """
    return (
        bool((problem.owner < 0).all())
        and problem.vehicle_count > 0
        and problem.request.options.weights.delivery_time == 0
    )


def _up(value: float) -> int:
    return math.ceil(value * SCALE - 1e-9)


def _down(value: float) -> int:
    if math.isinf(value):
        return int(np.iinfo(np.int64).max)
    return math.floor(value * SCALE + 1e-9)


def search_parameters(shipments_only: bool) -> pyvrp.SolveParams:
    """PyVRP's search, tuned for pickup and delivery.

    Models with depot deliveries get PyVRP's defaults, which are tuned for
    them; models of shipments alone get the tuning below.

    Measured on the 56 Li & Lim instances at 1 s each (see
    docs/benchmarks.md): the shipment moves alone, granular neighbourhoods
    of 25 instead of 50, at most 10 perturbations instead of 25 and a
    late-acceptance history of 50 instead of 300 bring the mean gap from
    +1.5% to about +0.7%, mostly by doing twice the iterations.
    """
    if not shipments_only:
        return pyvrp.SolveParams()
    return pyvrp.SolveParams(
        ils=pyvrp.IteratedLocalSearchParams(history_length=50),
        neighbourhood=search.NeighbourhoodParams(num_neighbours=25),
        perturbation=search.PerturbationParams(1, 10),
        operators=[
            search.RelocatePickup,
            search.RelocateDelivery,
            search.SwapTails,
            search.RelocateShipment,
            search.Swap11,
        ],
    )


class PyVRPSolver:
    """PyVRP's iterated local search.

    Parameters
    ----------
    deadline
        ``time.perf_counter()`` value by which to return in service mode;
        by default ``time_limit`` seconds after :meth:`solve` is called.
    """

    name = "pyvrp"

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline

    def solve(self, request: Request, problem: Problem) -> Plan:
        """Plan ``request``; stops at its work or time limit."""
        began = time.perf_counter()
        options = request.options
        model = _Model.of(problem)

        if options.work_limit is not None:
            stop: MaxIterations | MaxRuntime = MaxIterations(
                options.work_limit
            )
        else:
            deadline = self.deadline or began + options.time_limit
            stop = MaxRuntime(max(deadline - time.perf_counter(), 0.0))
        result = pyvrp.solve(
            model.data,
            stop,
            seed=options.seed,
            collect_stats=False,
            display=False,
            params=search_parameters(shipments_only=not model.clients.size),
        )

        routes = model.routes(result.best)
        if not result.best.is_feasible():
            routes = InsertionSolver().repair(problem, routes)
        stats = SolveStats(
            backend=self.name,
            iterations=result.num_iterations,
            wall_s=time.perf_counter() - began,
            deadline_hit=options.work_limit is None,
        )
        return problem.build_plan(routes, stats)


@dataclass(frozen=True, eq=False)
class _Model:
    """The problem in PyVRP's terms.

    Shipment ``k`` is order ``orders[k]``. Orders picked up where every
    vehicle starts, when it starts, are depot deliveries: client ``k`` is
    order ``clients[k]``, loaded at the start of the route, which is how
    PyVRP models them best (and how the Solomon set reads). Orders that no
    vehicle could serve even alone are left out, and every other order is
    required, so that the search minimises travel over a complete plan.
    Where the fleet is too small for that, PyVRP's best solution is late
    somewhere and :meth:`InsertionSolver.repair` drops orders until it
    holds.
    """

    problem: Problem
    data: pyvrp.ProblemData
    vehicles_of_type: list[list[int]]
    orders: npt.NDArray[np.int64]
    clients: npt.NDArray[np.int64]

    @classmethod
    def of(cls, problem: Problem) -> _Model:
        """Translate ``problem``."""
        weights = problem.request.options.weights
        per_second = max(weights.travel_time, 1e-9)
        sink = problem.sink
        everyone = np.arange(problem.order_count, dtype=np.int64)
        servable = everyone[problem.servable(everyone)]
        at_depot = _depot_deliveries(problem, servable)
        orders, clients = servable[~at_depot], servable[at_depot]

        matrix = np.ceil(problem.travel * SCALE - 1e-9)
        matrix[sink, :] = UNREACHABLE
        np.fill_diagonal(matrix, 0)
        matrix = matrix.astype(np.int64)
        locations = [
            pyvrp.Location(loc.x, loc.y) for loc in problem.request.locations
        ]
        locations.append(pyvrp.Location(0.0, 0.0))

        kinds: dict[tuple[int, int, float, float, int], list[int]] = {}
        for v in range(problem.vehicle_count):
            kind = (
                int(problem.start[v]),
                int(problem.end[v]),
                float(problem.shift_start[v]),
                float(problem.shift_end[v]),
                int(problem.capacity[v]),
            )
            kinds.setdefault(kind, []).append(v)
        depot_of: dict[int, int] = {}
        for start, end, *_ in kinds:
            depot_of.setdefault(start, len(depot_of))
            depot_of.setdefault(end, len(depot_of))
        depots = [pyvrp.Depot(location) for location in depot_of]
        vehicle_types = [
            pyvrp.VehicleType(
                num_available=len(members),
                capacity=[capacity],
                start_depot=depot_of[start],
                end_depot=depot_of[end],
                fixed_cost=round(weights.vehicle / per_second * SCALE),
                tw_early=_up(shift_start),
                tw_late=_down(shift_end),
            )
            for (start, end, shift_start, shift_end, capacity), members in (
                kinds.items()
            )
        ]

        shipments = [
            pyvrp.Shipment(
                pickup_location=int(problem.node_location[2 * o]),
                delivery_location=int(problem.node_location[2 * o + 1]),
                pickup_tw_early=_up(problem.early[2 * o]),
                pickup_tw_late=_down(problem.late[2 * o]),
                pickup_service_duration=_up(problem.service[2 * o]),
                delivery_tw_early=_up(problem.early[2 * o + 1]),
                delivery_tw_late=_down(problem.late[2 * o + 1]),
                delivery_service_duration=_up(problem.service[2 * o + 1]),
                amount=[int(problem.demand[2 * o])],
            )
            for o in orders.tolist()
        ]
        deliveries = [
            pyvrp.Client(
                location=int(problem.node_location[2 * o + 1]),
                delivery=[int(problem.demand[2 * o])],
                service_duration=_up(problem.service[2 * o + 1]),
                tw_early=_up(problem.early[2 * o + 1]),
                tw_late=_down(problem.late[2 * o + 1]),
            )
            for o in clients.tolist()
        ]
        matrices: list[Any] = [matrix]
        data = pyvrp.ProblemData(
            locations=locations,
            clients=deliveries,
            depots=depots,
            vehicle_types=vehicle_types,
            distance_matrices=matrices,
            duration_matrices=matrices,
            shipments=shipments,
        )
        return cls(problem, data, list(kinds.values()), orders, clients)

    def routes(self, solution: pyvrp.Solution) -> list[list[int]]:
        """Node sequences per vehicle of a PyVRP solution."""
        routes: list[list[int]] = [
            [] for _ in range(self.problem.vehicle_count)
        ]
        taken = [list(members) for members in self.vehicles_of_type]
        kind = pyvrp.ActivityType
        for route in solution.routes():
            v = taken[route.vehicle_type()].pop(0)
            loaded: list[int] = []
            for activity in route.schedule():
                if activity.type == kind.PICKUP:
                    routes[v].append(2 * int(self.orders[activity.idx]))
                elif activity.type == kind.DELIVERY:
                    routes[v].append(2 * int(self.orders[activity.idx]) + 1)
                elif activity.type == kind.CLIENT:
                    order = int(self.clients[activity.idx])
                    loaded.append(2 * order)
                    routes[v].append(2 * order + 1)
            routes[v][:0] = loaded
        return routes


def _depot_deliveries(
    problem: Problem, orders: npt.NDArray[np.int64]
) -> npt.NDArray[np.bool_]:
    """Which ``orders`` are picked up where and when every vehicle starts:
    at the common start location, ready by the earliest shift start,
    with no pickup service, and pickable at the latest shift start."""
    starts = np.unique(problem.start)
    if len(starts) != 1 or not len(orders):
        return np.zeros(len(orders), dtype=bool)
    pickup = 2 * orders
    return np.asarray(
        (problem.node_location[pickup] == starts[0])
        & (problem.early[pickup] <= problem.shift_start.min())
        & (problem.service[pickup] == 0)
        & (problem.late[pickup] >= problem.shift_start.max())
    )
