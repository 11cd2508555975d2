"""The dispatcher's two halves: a question for the engine from the state
of the city, and the engine's plan applied back to it.

Each epoch the dispatcher sends the engine the open orders (the oldest
first, at most a configured number) and every online driver. A driver
starts where its current leg ends, when it ends, with what it will then
carry on board; those orders are bound to it. With re-optimization on,
orders assigned but not yet picked up may move to another driver; with
it off, they are bound to theirs as committed.

The engine minimises travel time, which alone would chain order after
order onto the driver already nearby while others wait idle. So each
driver's shift in the question ends a rolling horizon after it is next
free: it takes only what it can finish by then, and the rest waits for
a later round, when drivers have moved on.

.. note::
   The engine plans with hard delivery windows. An order's window in
   the question closes at twice its promised delivery time after it was
   placed: a plan may deliver late, up to that, and on-time deliveries
   are judged against the promise alone. An order no plan can serve by
   then waits, and is cancelled when the customer's patience runs out.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

from engine.cache.fingerprint import rounded_location
from engine.model import (
    Location,
    Options,
    Order,
    Request,
    StopKind,
    Vehicle,
)
from simulator.state import OrderStatus, Task

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from engine.model import Plan, Stop
    from engine.travel import TravelTimes
    from simulator.state import DriverState, OrderState

DUE_FACTOR = 2.0
"""An order's hard window in a question closes this many promised
delivery times after it was placed."""


def dispatch_request(
    now: float,
    orders: Mapping[str, OrderState],
    drivers: Mapping[str, DriverState],
    travel: TravelTimes,
    options: Options,
    reoptimize: bool,
    service_s: tuple[float, float] = (0.0, 0.0),
    max_orders: int | None = None,
    horizon_s: float = math.inf,
    precision: int | None = None,
) -> Request | None:
    """The engine's question at ``now``, or None when there is nothing
    to decide (no open order).

    ``orders`` holds at least every order neither delivered nor
    cancelled, in the order they were placed. Coordinates are rounded to
    ``precision`` decimals if given: the route cache's precision, so that
    the service solves the question as it is asked instead of a rounded
    copy. Locations and orders are listed by id, and vehicles in the
    order of ``drivers``.
    """
    free = [
        order
        for order in orders.values()
        if order.status is OrderStatus.OPEN
        or (
            reoptimize
            and order.status is OrderStatus.ASSIGNED
            and not _heading_to(order, drivers)
        )
    ]
    if max_orders is not None and len(free) > max_orders:
        free = sorted(free, key=lambda order: order.created_s)[:max_orders]
    if not free:
        return None
    online = [
        d for d in drivers.values() if d.online and d.plan.shift_end > now
    ]
    if not online:
        return None

    locations: dict[str, Location] = {}
    vehicles = []
    bound: list[OrderState] = []
    for driver in online:
        start = _start(
            driver.id, driver.location.x, driver.location.y, precision
        )
        locations[start.id] = start
        onboard = _onboard_at_leg_end(driver)
        load = sum(orders[o].arrival.quantity for o in onboard)
        free_at = max(now, driver.free_at)
        committed = (
            () if reoptimize else tuple(sorted(driver.assigned() - onboard))
        )
        bound.extend(orders[order_id] for order_id in sorted(onboard))
        bound.extend(orders[order_id] for order_id in committed)
        vehicles.append(
            _vehicle(
                driver.id,
                start.id,
                max(driver.plan.capacity, load),
                free_at,
                # A leg may end after the shift: the route then carries
                # its load home late, and takes nothing new.
                max(min(driver.plan.shift_end, free_at + horizon_s), free_at),
                tuple(sorted(onboard)),
                committed,
            )
        )

    requested = {order.id: order for order in free}
    requested.update((order.id, order) for order in bound)
    engine_orders = []
    for order in requested.values():
        if order.asked is None:
            order.asked = _asked(order, service_s, precision)
        engine_order, pickup, delivery = order.asked
        locations[pickup.id] = pickup
        locations[delivery.id] = delivery
        engine_orders.append(engine_order)

    # Locations and orders are listed by id, as in the service's
    # canonical form: with the coordinates rounded and the drivers
    # listed by id, the question is its own canonical form, and the
    # service solves it without a copy.
    return Request(
        locations=tuple(sorted(locations.values(), key=_by_id)),
        orders=tuple(sorted(engine_orders, key=_by_id)),
        vehicles=tuple(vehicles),
        travel=travel,
        options=options,
    )


@functools.lru_cache(maxsize=4096)
def _start(
    driver_id: str, x: float, y: float, precision: int | None
) -> Location:
    """Where a driver's vehicle starts in a question: remembered, as a
    busy driver is asked about from the end of the same leg epoch after
    epoch, and the engine's caches then meet the same object."""
    return _rounded(Location(f"v:{driver_id}", x, y), precision)


@functools.lru_cache(maxsize=4096)
def _vehicle(
    driver_id: str,
    start: str,
    capacity: int,
    shift_start: float,
    shift_end: float,
    onboard: tuple[str, ...],
    committed: tuple[str, ...],
) -> Vehicle:
    """A driver's vehicle in a question: remembered, for the same
    reason as :func:`_start`; a busy driver's stays as it was until its
    leg ends."""
    return Vehicle(
        id=driver_id,
        start=start,
        capacity=capacity,
        shift_start=shift_start,
        shift_end=shift_end,
        onboard=onboard,
        committed=committed,
    )


def _asked(
    order: OrderState, service_s: tuple[float, float], precision: int | None
) -> tuple[Order, Location, Location]:
    """``order`` as the engine is asked about it, with its pickup and
    delivery locations."""
    merchant = order.arrival.merchant
    pickup = _rounded(
        Location(f"m:{merchant.id}", *_xy(order.pickup)), precision
    )
    delivery = _rounded(
        Location(f"c:{order.id}", *_xy(order.delivery)), precision
    )
    asked = Order(
        id=order.id,
        pickup=pickup.id,
        delivery=delivery.id,
        quantity=order.arrival.quantity,
        ready_time=order.ready_s,
        due_time=order.created_s + DUE_FACTOR * order.arrival.sla_s,
        pickup_service=service_s[0],
        delivery_service=service_s[1],
    )
    return asked, pickup, delivery


def apply_plan(
    now: float,
    plan: Plan,
    orders: Mapping[str, OrderState],
    drivers: Mapping[str, DriverState],
    vehicle_ids: Iterable[str],
) -> list[DriverState]:
    """Give each driver of the question its route from ``plan``; returns
    the drivers that have work now and had none, so that they can be
    woken.

    The plan answers the question asked at the start of the epoch, and
    the city moved on while the engine worked: a stop is kept only if it
    can still be done by that driver (an order picked up or claimed by
    another driver meanwhile, served, or cancelled is dropped). A driver
    of the question without a route keeps only the deliveries of what it
    carries; an order no driver is to pick up any more goes back to open.
    """
    routes = {route.vehicle_id: route for route in plan.routes}
    asked = [drivers[vehicle_id] for vehicle_id in vehicle_ids]
    before = {
        task.order_id
        for driver in asked
        for task in driver.tasks
        if task.is_pickup
    }
    claimed: set[str] = set()
    woken = []
    for driver in asked:
        route = routes.get(driver.id)
        stops = route.stops if route is not None else ()
        tasks = _tasks(driver, stops, orders, drivers)
        idle = not driver.tasks and driver.leg is None
        driver.tasks = tasks
        for task in tasks:
            if task.is_pickup:
                order = orders[task.order_id]
                if order.status is OrderStatus.OPEN:
                    order.assigned_s = now
                order.status = OrderStatus.ASSIGNED
                order.driver = driver.id
                claimed.add(order.id)
        if idle and tasks:
            woken.append(driver)

    for order_id in sorted(before - claimed):
        order = orders[order_id]
        if order.status is OrderStatus.ASSIGNED and not _heading_to(
            order, drivers
        ):
            order.status = OrderStatus.OPEN
            order.driver = None
    return woken


def release_driver(
    driver: DriverState, orders: Mapping[str, OrderState]
) -> None:
    """Give back the orders a driver was to pick up (it went offline);
    it keeps its current leg and the deliveries of what it carries,
    and drops the deliveries of what it gives back."""
    for task in driver.tasks:
        order = orders[task.order_id]
        if task.is_pickup and order.status is OrderStatus.ASSIGNED:
            order.status = OrderStatus.OPEN
            order.driver = None
    carried = _onboard_at_leg_end(driver)
    driver.tasks = [
        task
        for task in driver.tasks
        if not task.is_pickup and task.order_id in carried
    ]


def _tasks(
    driver: DriverState,
    stops: Iterable[Stop],
    orders: Mapping[str, OrderState],
    drivers: Mapping[str, DriverState],
) -> list[Task]:
    """The stops of a route that ``driver`` can still do, in order, then
    the deliveries of anything it carries that the route left out."""
    carried = _onboard_at_leg_end(driver)
    listed: set[str] = set()
    tasks = []
    for stop in stops:
        task = Task(stop.order_id, stop.kind)
        if driver.leg == task:
            continue
        if task.is_pickup:
            order = orders[stop.order_id]
            if driver.online and _can_pick(order, driver, drivers):
                tasks.append(task)
                carried.add(order.id)
        elif stop.order_id in carried and stop.order_id not in listed:
            tasks.append(task)
            listed.add(stop.order_id)
    # A driver never drops what it carries, whatever a plan says.
    for order_id in sorted(carried - listed):
        if driver.leg != Task(order_id, StopKind.DELIVERY):
            tasks.append(Task(order_id, StopKind.DELIVERY))
    return tasks


def _can_pick(
    order: OrderState,
    driver: DriverState,
    drivers: Mapping[str, DriverState],
) -> bool:
    if order.status is OrderStatus.OPEN:
        return True
    return order.status is OrderStatus.ASSIGNED and (
        order.driver == driver.id or not _heading_to(order, drivers)
    )


def _onboard_at_leg_end(driver: DriverState) -> set[str]:
    onboard = set(driver.onboard)
    leg = driver.leg
    if leg is not None:
        if leg.is_pickup:
            onboard.add(leg.order_id)
        else:
            onboard.discard(leg.order_id)
    return onboard


def _heading_to(order: OrderState, drivers: Mapping[str, DriverState]) -> bool:
    driver = drivers.get(order.driver) if order.driver else None
    return driver is not None and driver.leg == Task(order.id, StopKind.PICKUP)


def _rounded(location: Location, precision: int | None) -> Location:
    if precision is None:
        return location
    return rounded_location(location, precision)


def _by_id(item: Location | Order) -> str:
    return item.id


def _xy(location: Location) -> tuple[float, float]:
    return location.x, location.y
