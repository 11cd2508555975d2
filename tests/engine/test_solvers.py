"""Solver backends: feasibility, determinism, fallback, bound orders."""

from __future__ import annotations

import dataclasses
import math
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InfeasiblePlanError
from engine.model import (
    Backend,
    Location,
    Options,
    Order,
    Plan,
    Request,
    Route,
    StopKind,
    UnassignedReason,
    Vehicle,
    Weights,
)
from engine.solvers import (
    InsertionSolver,
    ORToolsSolver,
    Problem,
    PyVRPSolver,
    SolverConfig,
    check_plan,
    choose_backend,
    solve,
)
from engine.solvers.pyvrp_backend import supports
from engine.travel import Euclidean

BACKENDS = {
    "heuristic": InsertionSolver,
    "ortools": ORToolsSolver,
    "pyvrp": PyVRPSolver,
}

SOLVER_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def requests(draw: st.DrawFn, bound: bool = True) -> Request:
    """Small random requests: up to 8 orders, up to 3 vehicles, open or
    closed routes, tight or loose windows, and (if ``bound``) orders on
    board or committed to a vehicle."""
    n_loc = draw(st.integers(2, 8))
    coordinate = st.integers(0, 100)
    locations = tuple(
        Location(f"l{k}", draw(coordinate), draw(coordinate))
        for k in range(n_loc)
    )
    place = st.sampled_from([loc.id for loc in locations])

    orders = []
    for k in range(draw(st.integers(0, 8))):
        ready = draw(st.integers(0, 200))
        width = draw(st.sampled_from([30, 100, 400, math.inf]))
        orders.append(
            Order(
                id=f"o{k}",
                pickup=draw(place),
                delivery=draw(place),
                quantity=draw(st.integers(1, 4)),
                ready_time=ready,
                due_time=ready + width,
                pickup_service=draw(st.sampled_from([0, 5])),
                delivery_service=draw(st.sampled_from([0, 5])),
            )
        )

    vehicles = []
    free = [order.id for order in orders]
    for k in range(draw(st.integers(1, 3))):
        capacity = draw(st.integers(2, 6))
        onboard: list[str] = []
        committed: list[str] = []
        if bound and free and draw(st.booleans()):
            order = next(o for o in orders if o.id == free[0])
            if order.quantity <= capacity:
                chosen = onboard if draw(st.booleans()) else committed
                chosen.append(free.pop(0))
        shift_start = draw(st.integers(0, 50))
        vehicles.append(
            Vehicle(
                id=f"v{k}",
                start=draw(place),
                end=draw(st.one_of(st.none(), place)),
                capacity=capacity,
                shift_start=shift_start,
                shift_end=shift_start + draw(st.sampled_from([300, 900])),
                onboard=tuple(onboard),
                committed=tuple(committed),
            )
        )
    return Request(
        locations=locations,
        orders=tuple(orders),
        vehicles=tuple(vehicles),
        travel=Euclidean(),
        options=Options(work_limit=20, seed=draw(st.integers(0, 3))),
    )


def _served(plan: Plan) -> list[str]:
    return [
        stop.order_id
        for route in plan.routes
        for stop in route.stops
        if stop.kind is StopKind.DELIVERY
    ]


def _solve_with(name: str, request: Request) -> Plan:
    problem = Problem.from_request(request)
    return BACKENDS[name]().solve(request, problem)


@pytest.mark.parametrize("name", ["heuristic", "ortools"])
@SOLVER_SETTINGS
@given(request=requests())
def test_backend_plans_are_feasible(name: str, request: Request) -> None:
    """Every backend's plan passes the independent check, and every order
    is served exactly once or unassigned with a reason."""
    plan = _solve_with(name, request)

    check_plan(request, plan)
    served = _served(plan)
    unassigned = [u.order_id for u in plan.unassigned]
    assert sorted(served + unassigned) == sorted(o.id for o in request.orders)
    assert all(isinstance(u.reason, UnassignedReason) for u in plan.unassigned)


@SOLVER_SETTINGS
@given(request=requests(bound=False))
def test_pyvrp_plans_are_feasible(request: Request) -> None:
    """PyVRP's plans, on the requests it supports, pass the check and
    account for every order once."""
    plan = _solve_with("pyvrp", request)

    check_plan(request, plan)
    served = _served(plan)
    unassigned = [u.order_id for u in plan.unassigned]
    assert sorted(served + unassigned) == sorted(o.id for o in request.orders)


@SOLVER_SETTINGS
@given(request=requests())
def test_solve_never_falls_back(request: Request) -> None:
    """The engine's entry point returns checked plans from the chosen
    backend: on valid input no backend produces a plan that fails."""
    plan = solve(request)

    check_plan(request, plan)
    assert not plan.stats.fallback, plan.stats.fallback_reason


@SOLVER_SETTINGS
@given(request=requests())
def test_work_budget_gives_the_same_plan(request: Request) -> None:
    """With a work budget, the same seed gives the same plan."""
    first = solve(request)
    again = solve(dataclasses.replace(request))

    assert first.routes == again.routes
    assert first.unassigned == again.unassigned


@SOLVER_SETTINGS
@given(request=requests())
def test_bound_orders_ride_their_vehicle(request: Request) -> None:
    """Orders on board or committed are routed on their own vehicle, and
    an order on board gets only its delivery stop."""
    plan = _solve_with("heuristic", request)

    routes = {route.vehicle_id: route for route in plan.routes}
    for vehicle in request.vehicles:
        for order_id in (*vehicle.onboard, *vehicle.committed):
            stops = [
                stop.kind
                for stop in routes[vehicle.id].stops
                if stop.order_id == order_id
            ]
            expected = (
                [StopKind.DELIVERY]
                if order_id in vehicle.onboard
                else [StopKind.PICKUP, StopKind.DELIVERY]
            )
            assert stops == expected


def _line_request(**options: object) -> Request:
    """Three locations on a line, one vehicle, two orders."""
    return Request(
        locations=(
            Location("a", 0, 0),
            Location("b", 10, 0),
            Location("c", 20, 0),
        ),
        orders=(
            Order("o1", pickup="a", delivery="b", quantity=2),
            Order("o2", pickup="b", delivery="c", quantity=2),
        ),
        vehicles=(Vehicle("v1", start="a", capacity=2),),
        travel=Euclidean(),
        options=Options(**options),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backends_find_the_obvious_route(name: str) -> None:
    """On a line, every backend serves both orders in one sweep: 20 units
    of travel, load back to 0 before the second pickup."""
    request = _line_request(work_limit=10)

    plan = _solve_with(name, request)

    check_plan(request, plan)
    assert plan.travel_time == pytest.approx(20.0)
    (route,) = plan.routes
    assert [(s.order_id, s.kind.value, s.load) for s in route.stops] == [
        ("o1", "pickup", 2),
        ("o1", "delivery", 0),
        ("o2", "pickup", 2),
        ("o2", "delivery", 0),
    ]


def test_unservable_orders_are_unassigned_with_reasons() -> None:
    """An order too big for every vehicle is dropped for capacity, one
    whose window closes before any vehicle can arrive for its time
    window, and the rest of the request is still served."""
    request = Request(
        locations=(Location("a", 0, 0), Location("b", 100, 0)),
        orders=(
            Order("big", pickup="a", delivery="b", quantity=9),
            Order("late", pickup="b", delivery="a", due_time=50),
            Order("ok", pickup="a", delivery="b"),
        ),
        vehicles=(Vehicle("v1", start="a", capacity=3),),
        travel=Euclidean(),
        options=Options(work_limit=10),
    )

    for name in sorted(BACKENDS):
        plan = _solve_with(name, request)
        reasons = {u.order_id: u.reason for u in plan.unassigned}
        assert reasons == {
            "big": UnassignedReason.CAPACITY,
            "late": UnassignedReason.TIME_WINDOW,
        }, name
        assert _served(plan) == ["ok"]


def test_check_catches_a_broken_plan() -> None:
    """The feasibility check rejects a plan whose delivery comes before
    its pickup, and names the rule."""
    request = _line_request(work_limit=10)
    plan = _solve_with("heuristic", request)
    route = plan.routes[0]
    swapped = Route(
        route.vehicle_id,
        (route.stops[1], route.stops[0], *route.stops[2:]),
        route.travel_time,
        route.end_time,
    )

    with pytest.raises(InfeasiblePlanError, match="before its pickup"):
        check_plan(request, dataclasses.replace(plan, routes=(swapped,)))


def test_broken_backend_falls_back_to_the_heuristic(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A backend whose plan fails the check is replaced by the
    heuristic's plan, marked as a fallback with the reason."""

    def broken(self: PyVRPSolver, request: Request, problem: Problem) -> Plan:
        plan = InsertionSolver().solve(request, problem)
        return dataclasses.replace(plan, unassigned=())

    monkeypatch.setattr(PyVRPSolver, "solve", broken)
    request = _line_request(work_limit=10, backend=Backend.PYVRP)
    request = dataclasses.replace(
        request,
        orders=(*request.orders, Order("far", "a", "c", due_time=1)),
    )

    plan = solve(request)

    assert plan.stats.fallback
    assert "neither routed nor unassigned" in str(plan.stats.fallback_reason)
    check_plan(request, plan)


def test_choose_backend_by_configuration_and_size() -> None:
    """``auto`` takes the preferred backend, the heuristic above the size
    threshold, and OR-Tools where PyVRP cannot pin bound orders."""
    request = _line_request()
    problem = Problem.from_request(request)
    assert choose_backend(problem, SolverConfig()) is Backend.PYVRP
    assert (
        choose_backend(problem, SolverConfig(heuristic_above=1))
        is Backend.HEURISTIC
    )

    bound = dataclasses.replace(
        request,
        vehicles=(
            dataclasses.replace(request.vehicles[0], committed=("o1",)),
        ),
    )
    assert not supports(Problem.from_request(bound))
    assert (
        choose_backend(Problem.from_request(bound), SolverConfig())
        is Backend.ORTOOLS
    )


def test_overload_at_a_bound_stop_names_the_free_order() -> None:
    """A free pickup that fills the vehicle before its committed pickup
    breaks the capacity at the bound stop, and the free order is the one
    to take out."""
    request = _line_request()
    bound = dataclasses.replace(
        request,
        vehicles=(
            dataclasses.replace(request.vehicles[0], committed=("o1",)),
        ),
    )
    problem = Problem.from_request(bound)
    o1, o2 = 0, 1

    assert (
        problem.first_violation(0, [2 * o2, 2 * o1, 2 * o1 + 1, 2 * o2 + 1])
        == o2
    )
    assert (
        problem.first_violation(0, [2 * o1, 2 * o1 + 1, 2 * o2, 2 * o2 + 1])
        is None
    )


def test_insertion_solves_a_hundred_orders() -> None:
    """The heuristic serves a 100-order example request with a feasible
    plan (its speed is measured in benchmarks/, not here)."""
    from simulator.example import example_request

    request = example_request(orders=100, vehicles=20)
    plan = _solve_with("heuristic", request)

    check_plan(request, plan)
    assert len(_served(plan)) + len(plan.unassigned) == 100
    assert np.isfinite(plan.cost)


def _bind_some(request: Request) -> Request:
    """``request`` with the first orders on board (one per vehicle) and
    committed (two per vehicle), so that routes grow to unequal lengths."""
    order_ids = [order.id for order in request.orders]
    count = len(request.vehicles)
    vehicles = tuple(
        dataclasses.replace(
            vehicle,
            onboard=(order_ids[k],) if k % 2 else (),
            committed=(order_ids[count + k], order_ids[2 * count + k]),
        )
        for k, vehicle in enumerate(request.vehicles)
    )
    return dataclasses.replace(request, vehicles=vehicles)


@SOLVER_SETTINGS
@given(request=requests())
def test_judging_routes_together_changes_no_route(request: Request) -> None:
    """The heuristic judges insertions into routes of one length in one
    batch; judging every route alone gives the very same routes."""
    from engine.solvers import insertion

    problem = Problem.from_request(request)
    together = InsertionSolver().routes(problem)
    with mock.patch.object(insertion, "_BATCH_ELEMENTS", 1):
        alone = InsertionSolver().routes(problem)

    assert together == alone


def test_judging_routes_together_changes_no_route_of_a_large_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, on 120 orders and 20 vehicles with bound orders, where
    many routes share a length."""
    from engine.solvers import insertion
    from simulator.example import example_request

    request = _bind_some(example_request(orders=120, vehicles=20))
    problem = Problem.from_request(request)
    together = InsertionSolver().routes(problem)
    monkeypatch.setattr(insertion, "_BATCH_ELEMENTS", 1)
    alone = InsertionSolver().routes(problem)

    assert together == alone
    assert sum(map(len, together)) > 2 * 60


def _busy_near_or_idle_far(
    delivery_time: float, backend: Backend = Backend.AUTO
) -> Request:
    """One order ready at once: a driver beside the restaurant starts
    its shift in five minutes, another 50 m away is free now."""
    return Request(
        locations=(
            Location("restaurant", 0, 0),
            Location("customer", 10, 0),
            Location("near", 1, 0),
            Location("far", 50, 0),
        ),
        orders=(Order("o", "restaurant", "customer"),),
        vehicles=(
            Vehicle("busy", "near", 1, end="near", shift_start=300),
            Vehicle("idle", "far", 1, end="far"),
        ),
        travel=Euclidean(speed=1),
        options=Options(
            weights=Weights(delivery_time=delivery_time),
            work_limit=10,
            backend=backend,
        ),
    )


def test_delivery_time_weight_serves_the_customer_sooner() -> None:
    """Travel alone sends the driver who is near but busy; weighting the
    delivery's time sends the one free now, and the plan's cost counts
    the seconds from ready to delivery. PyVRP cannot price it, so the
    request goes to OR-Tools."""
    by_travel = solve(_busy_near_or_idle_far(0.0))
    by_delivery = solve(_busy_near_or_idle_far(1.0))

    assert [r.vehicle_id for r in by_travel.routes] == ["busy"]
    assert [r.vehicle_id for r in by_delivery.routes] == ["idle"]
    assert by_delivery.stats.backend == "ortools"
    (route,) = by_delivery.routes
    delivered = route.stops[-1].start
    assert delivered == pytest.approx(60.0)
    assert by_delivery.cost == pytest.approx(route.travel_time + delivered)


def test_pyvrp_leaves_delivery_time_weights_to_ortools() -> None:
    """A request that weights delivery time is not PyVRP's to model."""
    assert supports(Problem.from_request(_busy_near_or_idle_far(0.0)))
    assert not supports(Problem.from_request(_busy_near_or_idle_far(1.0)))


def test_heuristic_prices_each_orders_own_delivery_time() -> None:
    """The insertion heuristic alone also sends the driver free now once
    delivery time is weighted, and travel alone the one nearby."""
    heuristic = Backend.HEURISTIC
    by_travel = solve(_busy_near_or_idle_far(0.0, heuristic))
    by_delivery = solve(_busy_near_or_idle_far(1.0, heuristic))

    assert by_delivery.stats.backend == "heuristic"
    assert [r.vehicle_id for r in by_travel.routes] == ["busy"]
    assert [r.vehicle_id for r in by_delivery.routes] == ["idle"]


def _route_cost(
    problem: Problem, v: int, nodes: list[int], delivery: float
) -> float:
    """Travel of ``nodes`` on vehicle v, plus ``delivery`` times the
    seconds from ready to delivery of its free orders: scheduled stop by
    stop, without the heuristic's tables."""
    travel, where = 0.0, int(problem.start[v])
    time = float(problem.shift_start[v])
    waiting = 0.0
    for node in nodes:
        here = int(problem.node_location[node])
        travel += problem.travel[where, here]
        start = max(time + problem.travel[where, here], problem.early[node])
        if node % 2 and problem.owner[node // 2] < 0:
            waiting += start - problem.early[node - 1]
        time, where = start + problem.service[node], here
    travel += problem.travel[where, int(problem.end[v])]
    return float(travel + delivery * waiting)


@SOLVER_SETTINGS
@given(request=requests(), delivery=st.sampled_from([0.0, 0.5, 3.0]))
def test_heuristic_prices_an_insertion_exactly(
    request: Request, delivery: float
) -> None:
    """Taking each free order out of the heuristic's route and pricing
    its insertion back gives the least added cost over every feasible
    pair of positions, scheduled stop by stop: the added travel, its own
    time from ready to delivery, and the delay it brings to the free
    deliveries after it, each weighted."""
    from engine.solvers.insertion import _Candidates, _pair_insertions, _Routes

    options = request.options
    weights = Weights(delivery_time=delivery)
    request = dataclasses.replace(
        request, options=dataclasses.replace(options, weights=weights)
    )
    problem = Problem.from_request(request)
    routes = InsertionSolver().routes(problem)
    for v, nodes in enumerate(routes):
        for order in sorted(
            {n // 2 for n in nodes if problem.owner[n // 2] < 0}
        ):
            rest = [n for n in nodes if n // 2 != order]
            state = _Routes.of(
                problem, np.array([v]), [rest], problem.shift_end[[v]]
            )
            priced, _, _ = _pair_insertions(
                problem,
                state,
                _Candidates(problem, np.array([[order]])),
                delivery,
            )
            base = _route_cost(problem, v, rest, delivery)
            best = math.inf
            for i in range(len(rest) + 1):
                for j in range(i, len(rest) + 1):
                    tried = [*rest[:j], 2 * order + 1, *rest[j:]]
                    tried.insert(i, 2 * order)
                    if problem.first_violation(v, tried) is None:
                        added = _route_cost(problem, v, tried, delivery) - base
                        best = min(best, added)
            assert float(priced[0, 0]) == pytest.approx(best, abs=1e-6)
