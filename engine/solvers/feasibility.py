"""An independent check of a plan against the rules of its request.

The check reads only the request and the plan, not the arrays a backend
solved on, so that a mistake in compiling or decoding a backend's answer
is caught here rather than shipped.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine.errors import InfeasiblePlanError
from engine.model import StopKind

if TYPE_CHECKING:
    from engine.model import Order, Plan, Request, Route, Stop, Vehicle

TOLERANCE = 1e-6
"""Slack, in seconds, allowed on times for floating-point rounding."""


def check_plan(request: Request, plan: Plan) -> None:
    """Raise :class:`~engine.errors.InfeasiblePlanError` if ``plan`` breaks
    a rule of ``request``.

    The rules: every order is on exactly one route or unassigned, and
    bound orders are on their vehicle's route; a pickup comes before its
    delivery on the same route; the load never exceeds the capacity nor
    drops below zero; services start inside their windows (due times of
    bound orders aside) at the times the plan states; every route ends by
    the end of its vehicle's shift, unless it carries bound orders, which
    the vehicle must finish even in overtime.
    """
    violations = _violations(request, plan)
    if violations:
        raise InfeasiblePlanError(plan.stats.backend, violations)


def _violations(request: Request, plan: Plan) -> list[str]:
    found: list[str] = []
    vehicles = {vehicle.id: vehicle for vehicle in request.vehicles}
    bound = {
        order_id: vehicle.id
        for vehicle in request.vehicles
        for order_id in (*vehicle.onboard, *vehicle.committed)
    }
    onboard = {o for vehicle in request.vehicles for o in vehicle.onboard}
    visits: dict[str, list[tuple[str, StopKind]]] = {}

    seen_vehicles: set[str] = set()
    for route in plan.routes:
        vehicle = vehicles.get(route.vehicle_id)
        if vehicle is None:
            found.append(f"route for unknown vehicle {route.vehicle_id!r}")
            continue
        if route.vehicle_id in seen_vehicles:
            found.append(f"vehicle {route.vehicle_id} has two routes")
        seen_vehicles.add(route.vehicle_id)
        found.extend(_route_violations(request, vehicle, route, bound))
        for stop in route.stops:
            visits.setdefault(stop.order_id, []).append(
                (route.vehicle_id, stop.kind)
            )

    unassigned = [u.order_id for u in plan.unassigned]
    for order in request.orders:
        found.extend(
            _order_violations(
                order.id,
                visits.get(order.id, []),
                unassigned.count(order.id),
                order.id in onboard,
                bound.get(order.id),
            )
        )
    unknown = set(visits) | set(unassigned)
    unknown -= set(request.order_index)
    found.extend(f"plan names unknown order {o!r}" for o in sorted(unknown))
    return found


def _order_violations(
    order_id: str,
    visits: list[tuple[str, StopKind]],
    unassigned: int,
    onboard: bool,
    owner: str | None,
) -> list[str]:
    expected = (
        [StopKind.DELIVERY]
        if onboard
        else [StopKind.PICKUP, StopKind.DELIVERY]
    )
    kinds = [kind for _, kind in visits]
    vehicles = {vehicle for vehicle, _ in visits}
    if unassigned and visits:
        return [f"order {order_id} is both routed and unassigned"]
    if unassigned > 1:
        return [f"order {order_id} is unassigned {unassigned} times"]
    if unassigned:
        if owner is not None:
            return [f"order {order_id} bound to {owner} is unassigned"]
        return []
    if not visits:
        return [f"order {order_id} is neither routed nor unassigned"]
    if kinds != expected:
        return [f"order {order_id} has stops {kinds}, expected {expected}"]
    if len(vehicles) > 1:
        return [f"order {order_id} is split over vehicles {sorted(vehicles)}"]
    if owner is not None and vehicles != {owner}:
        return [f"order {order_id} bound to {owner} rides {vehicles.pop()}"]
    return []


def _route_violations(
    request: Request,
    vehicle: Vehicle,
    route: Route,
    bound: dict[str, str],
) -> list[str]:
    found: list[str] = []
    matrix = request.travel_matrix
    where = request.location_index
    orders = request.orders
    order_index = request.order_index

    load = sum(orders[order_index[o]].quantity for o in vehicle.onboard)
    time = vehicle.shift_start
    here = where[vehicle.start]
    picked: set[str] = set(vehicle.onboard)
    for n, stop in enumerate(route.stops):
        label = f"vehicle {vehicle.id} stop {n} ({stop.order_id})"
        o = order_index.get(stop.order_id)
        if o is None:
            continue
        order = orders[o]
        expected_at = (
            order.pickup if stop.kind is StopKind.PICKUP else order.delivery
        )
        if stop.location_id != expected_at:
            found.append(
                f"{label} is at {stop.location_id}, not {expected_at}"
            )
            continue
        there = where[expected_at]
        time += float(matrix[here, there])
        here = there
        early, late, service, change = _window(order, stop)
        start = max(time, early)
        if not _close(time, stop.arrival) or not _close(start, stop.start):
            found.append(
                f"{label} states arrival {stop.arrival:.6g} and start "
                f"{stop.start:.6g}, recomputed {time:.6g} and {start:.6g}"
            )
        if stop.order_id not in bound and start > late + TOLERANCE:
            found.append(f"{label} starts at {start:.6g}, after {late:.6g}")
        time = start + service

        if stop.kind is StopKind.PICKUP:
            picked.add(stop.order_id)
        elif stop.order_id not in picked:
            found.append(f"{label} delivers before its pickup")
        load += change
        if load > vehicle.capacity:
            found.append(f"{label} carries {load} > {vehicle.capacity}")
        if load != stop.load:
            found.append(f"{label} states load {stop.load}, actual {load}")

    if vehicle.end is not None:
        time += float(matrix[here, where[vehicle.end]])
    carries_bound = any(stop.order_id in bound for stop in route.stops)
    if time > vehicle.shift_end + TOLERANCE and not carries_bound:
        found.append(
            f"vehicle {vehicle.id} ends at {time:.6g}, after its shift "
            f"({vehicle.shift_end:.6g})"
        )
    return found


def _window(order: Order, stop: Stop) -> tuple[float, float, float, int]:
    """Earliest and latest start, service seconds and change of load."""
    if stop.kind is StopKind.PICKUP:
        return (
            order.ready_time,
            min(order.pickup_due, order.due_time),
            order.pickup_service,
            order.quantity,
        )
    return (
        order.delivery_ready,
        order.due_time,
        order.delivery_service,
        -order.quantity,
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=TOLERANCE)
