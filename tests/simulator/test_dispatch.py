"""Tests of the dispatcher's question and of plans applied to the city."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from engine.cache.fingerprint import canonical
from engine.model import (
    Location,
    Options,
    Plan,
    Route,
    SolveStats,
    Stop,
    StopKind,
)
from engine.travel import Euclidean
from simulator.demand import Merchant, OrderArrival
from simulator.dispatch import apply_plan, dispatch_request, release_driver
from simulator.fleet import DriverPlan
from simulator.state import DriverState, OrderState, OrderStatus, Task

if TYPE_CHECKING:
    from engine.model import Request

PICKUP, DELIVERY = StopKind.PICKUP, StopKind.DELIVERY

SHOP = Merchant("m1", Location("m1", 0.0, 0.0), "z1")


def _order(order_id: str, created: float = 0.0) -> OrderState:
    arrival = OrderArrival(
        id=order_id,
        time=created,
        merchant=SHOP,
        customer=Location(f"c{order_id}", 500.0, 0.0),
        prep_s=60.0,
        sla_s=1800.0,
        patience_s=900.0,
        quantity=1,
    )
    return OrderState(arrival)


def _driver(driver_id: str, x: float = 100.0) -> DriverState:
    start = Location(f"s{driver_id}", x, 0.0)
    plan = DriverPlan(driver_id, start, 0.0, 36000.0, 4, 1.0)
    return DriverState(plan, start, 0, online=True)


def _ask(
    orders: dict[str, OrderState],
    drivers: dict[str, DriverState],
    **settings: Any,
) -> Request:
    """The dispatcher's question at 100 s, which must have one."""
    request = dispatch_request(
        100.0,
        orders,
        drivers,
        Euclidean(speed=10.0),
        Options(work_limit=10),
        reoptimize=False,
        **settings,
    )
    assert request is not None
    return request


def _plan(*routes: tuple[str, list[tuple[str, StopKind]]]) -> Plan:
    return Plan(
        routes=tuple(
            Route(
                vehicle_id,
                tuple(
                    Stop(order_id, kind, "x", 0.0, 0.0, 0.0, 0)
                    for order_id, kind in stops
                ),
                0.0,
                0.0,
            )
            for vehicle_id, stops in routes
        ),
        unassigned=(),
        cost=0.0,
        stats=SolveStats("heuristic", 0, 0.0),
    )


def test_plan_assigns_open_orders_and_wakes_idle_drivers() -> None:
    """An open order on a driver's route becomes assigned to it, with
    its assignment time, and the idle driver is woken."""
    orders = {"o1": _order("o1")}
    drivers = {"d1": _driver("d1")}

    woken = apply_plan(
        30.0,
        _plan(("d1", [("o1", PICKUP), ("o1", DELIVERY)])),
        orders,
        drivers,
        ["d1"],
    )

    assert woken == [drivers["d1"]]
    assert drivers["d1"].tasks == [Task("o1", PICKUP), Task("o1", DELIVERY)]
    assert orders["o1"].status is OrderStatus.ASSIGNED
    assert orders["o1"].driver == "d1"
    assert orders["o1"].assigned_s == 30.0


def test_stale_plan_never_gives_an_order_to_two_drivers() -> None:
    """A driver that set off to pick an order up while the engine was
    planning keeps it, even though the plan gives it to another driver:
    the other gets neither its pickup nor its delivery."""
    orders = {"o1": _order("o1")}
    d1, d2 = _driver("d1"), _driver("d2")
    drivers = {"d1": d1, "d2": d2}
    orders["o1"].status = OrderStatus.ASSIGNED
    orders["o1"].driver = "d1"
    d1.leg = Task("o1", PICKUP)
    d1.tasks = [Task("o1", DELIVERY)]

    apply_plan(
        60.0,
        _plan(("d2", [("o1", PICKUP), ("o1", DELIVERY)])),
        orders,
        drivers,
        ["d1", "d2"],
    )

    assert d2.tasks == []
    assert d1.tasks == [Task("o1", DELIVERY)]
    assert orders["o1"].driver == "d1"


def test_driver_without_a_route_gives_back_its_pickups() -> None:
    """A driver of the question that the plan leaves without a route
    keeps the deliveries of what it carries and gives back orders it
    was only going to fetch; those go back to open."""
    orders = {"o1": _order("o1"), "o2": _order("o2")}
    d1 = _driver("d1")
    drivers = {"d1": d1}
    orders["o1"].status = OrderStatus.PICKED
    orders["o1"].driver = "d1"
    orders["o2"].status = OrderStatus.ASSIGNED
    orders["o2"].driver = "d1"
    d1.onboard = {"o1"}
    d1.tasks = [Task("o2", PICKUP), Task("o1", DELIVERY), Task("o2", DELIVERY)]

    apply_plan(90.0, _plan(), orders, drivers, ["d1"])

    assert d1.tasks == [Task("o1", DELIVERY)]
    assert orders["o2"].status is OrderStatus.OPEN
    assert orders["o2"].driver is None


def test_driver_going_offline_keeps_only_deliveries_of_what_it_carries() -> (
    None
):
    """A driver that goes offline gives back the orders it was to fetch
    and their deliveries with them: it never delivers an order it did
    not pick up (a later driver fetches it). It keeps its leg's order
    and what it carries."""
    orders = {o: _order(o) for o in ("o1", "o2", "o3")}
    d1 = _driver("d1")
    for order_id in orders:
        orders[order_id].status = OrderStatus.ASSIGNED
        orders[order_id].driver = "d1"
    orders["o1"].status = OrderStatus.PICKED
    d1.onboard = {"o1"}
    d1.leg = Task("o3", PICKUP)
    d1.tasks = [
        Task("o2", PICKUP),
        Task("o1", DELIVERY),
        Task("o2", DELIVERY),
        Task("o3", DELIVERY),
    ]

    release_driver(d1, orders)

    assert d1.tasks == [Task("o1", DELIVERY), Task("o3", DELIVERY)]
    assert orders["o2"].status is OrderStatus.OPEN
    assert orders["o2"].driver is None
    assert orders["o3"].driver == "d1"


def test_reassigned_order_moves_to_the_new_driver() -> None:
    """An order assigned but not yet fetched moves to the driver the
    new plan gives it to, and leaves the old driver's tasks."""
    orders = {"o1": _order("o1")}
    d1, d2 = _driver("d1"), _driver("d2")
    drivers = {"d1": d1, "d2": d2}
    orders["o1"].status = OrderStatus.ASSIGNED
    orders["o1"].driver = "d1"
    d1.tasks = [Task("o1", PICKUP), Task("o1", DELIVERY)]

    apply_plan(
        60.0,
        _plan(("d2", [("o1", PICKUP), ("o1", DELIVERY)])),
        orders,
        drivers,
        ["d1", "d2"],
    )

    assert d1.tasks == []
    assert d2.tasks == [Task("o1", PICKUP), Task("o1", DELIVERY)]
    assert orders["o1"].driver == "d2"
    assert orders["o1"].status is OrderStatus.ASSIGNED


def test_question_takes_the_oldest_orders_first() -> None:
    """With more open orders than a solve may take, the question holds
    the oldest ones."""
    orders = {
        f"o{k}": _order(f"o{k}", created=float(10 - k)) for k in range(5)
    }
    drivers = {"d1": _driver("d1")}

    request = _ask(orders, drivers, max_orders=2)

    assert sorted(order.id for order in request.orders) == ["o3", "o4"]


@pytest.mark.parametrize(
    ("horizon_s", "expected"), [(600.0, 700.0), (1e9, 36000.0)]
)
def test_shift_in_the_question_ends_at_the_horizon(
    horizon_s: float, expected: float
) -> None:
    """A driver's shift in the question ends a horizon after it is next
    free, or at its real end when that comes first."""
    orders = {"o1": _order("o1")}
    drivers = {"d1": _driver("d1")}

    request = _ask(orders, drivers, horizon_s=horizon_s)

    assert request.vehicles[0].shift_end == expected


def test_question_rounded_to_the_cache_precision_is_canonical() -> None:
    """Rounded to the route cache's precision, the question's locations
    are those of the service's canonical form, which need not copy them;
    each is within half a unit of that precision of the exact one."""
    shop = Merchant("m1", Location("m1", 0.123456789, -7.000049), "z1")
    arrival = OrderArrival(
        id="o1",
        time=0.0,
        merchant=shop,
        customer=Location("co1", 500.98765432, 1e-9),
        prep_s=60.0,
        sla_s=1800.0,
        patience_s=900.0,
        quantity=1,
    )
    orders = {"o1": OrderState(arrival)}
    drivers = {"d1": _driver("d1", x=100.00000049)}

    exact = _ask(orders, drivers)
    orders["o1"].asked = None
    rounded = _ask(orders, drivers, precision=4)

    solved = canonical(rounded, 4)
    assert solved == canonical(exact, 4)
    assert {id(location) for location in solved.locations} == {
        id(location) for location in rounded.locations
    }
    assert set(exact.locations).isdisjoint(canonical(exact, 4).locations)
    for before, after in zip(exact.locations, rounded.locations, strict=True):
        assert abs(before.x - after.x) <= 0.5e-4
        assert abs(before.y - after.y) <= 0.5e-4


def test_question_is_its_own_canonical_form() -> None:
    """Asked at the route cache's precision, the question lists its
    locations and orders by id, as the service's canonical form does,
    whatever the order they were placed or bound in: the service solves
    the question itself, not a copy."""
    orders = {order_id: _order(order_id) for order_id in ("o2", "o10", "o1")}
    orders["o1"].status = OrderStatus.PICKED
    orders["o1"].driver = "d2"
    drivers = {"d1": _driver("d1", x=100.00000049), "d2": _driver("d2")}
    drivers["d2"].onboard = {"o1"}

    request = _ask(orders, drivers, precision=4)

    assert [order.id for order in request.orders] == ["o1", "o10", "o2"]
    assert canonical(request, 4) is request


def test_unchanged_driver_is_asked_about_with_the_same_vehicle() -> None:
    """A driver asked about again from the same place, with the same
    shift and load, comes with the very same start location and vehicle,
    which the engine's caches then meet again; a driver that moved starts
    from a new location."""
    orders = {"o1": _order("o1")}
    drivers = {"d1": _driver("d1")}

    first = _ask(orders, drivers, precision=4)
    again = _ask(orders, drivers, precision=4)
    drivers["d1"].location = Location("sd1", 250.0, 0.0)
    moved = _ask(orders, drivers, precision=4)

    assert again.vehicles[0] is first.vehicles[0]
    assert again.location_index == first.location_index
    start = first.locations[first.location_index["v:d1"]]
    assert again.locations[again.location_index["v:d1"]] is start
    assert moved.locations[moved.location_index["v:d1"]] != start
