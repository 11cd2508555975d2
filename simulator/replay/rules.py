"""The rules of the meal-delivery routing benchmark, in one place.

An :class:`Assignment` sends one courier to one restaurant to pick up a
bundle of its orders and deliver them in sequence. From the courier's
:class:`CourierState` (where it waits, and from when) :func:`execute`
derives the timing:

- the courier departs at the later of the assignment time and the time
  it is free (it cannot be diverted while executing an assignment);
- it arrives after the travel time: the Euclidean distance over the
  speed, rounded up to a whole minute;
- the pickup happens at the later of the latest ready time in the bundle
  and the arrival plus half the pickup service time, and the courier
  leaves half a pickup service time after it;
- each drop-off happens on arrival plus half the drop-off service time,
  and the courier leaves half a drop-off service time later, then waits
  there for its next assignment.

:func:`violations` lists the rules an assignment would break: orders of
another restaurant, an assignment made before an order was placed, a
pickup after the courier's off time (drop-offs after it are allowed).
The dispatcher and the solution validator both use these functions, so
the rules are written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.replay.instance import START

if TYPE_CHECKING:
    from simulator.replay.instance import (
        Courier,
        Instance,
        ReplayOrder,
        Restaurant,
    )


@dataclass(frozen=True, slots=True)
class Assignment:
    """A bundle of one restaurant's orders for one courier, decided at
    ``time`` (minutes); ``orders`` is the delivery sequence."""

    time: float
    courier: str
    restaurant: str
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CourierState:
    """Where a courier waits for instructions, and from when.

    ``location`` is :data:`~simulator.replay.instance.START` for the
    courier's start location, otherwise the id of its last drop-off.
    """

    courier: str
    location: str
    x: float
    y: float
    free: float

    @classmethod
    def start(cls, courier: Courier) -> CourierState:
        """The state of ``courier`` before its first assignment."""
        return cls(courier.id, START, courier.x, courier.y, courier.on)


@dataclass(frozen=True, slots=True)
class Move:
    """A courier leaving ``origin`` for ``destination`` at ``departure``.

    ``origin`` is :data:`~simulator.replay.instance.START`, a restaurant
    id or an order id; ``destination`` a restaurant or order id.
    """

    courier: str
    departure: float
    origin: str
    destination: str


@dataclass(frozen=True, slots=True)
class Execution:
    """The timing of an assignment, and the courier's state after it.

    ``arrival`` is the arrival at the restaurant; ``dropoffs`` follow the
    delivery sequence.
    """

    assignment: Assignment
    departure: float
    arrival: float
    pickup: float
    dropoffs: tuple[float, ...]
    moves: tuple[Move, ...]
    after: CourierState

    @property
    def busy(self) -> tuple[float, float]:
        """From the departure until the courier leaves its last
        drop-off, in minutes."""
        return self.departure, self.after.free


def execute(
    instance: Instance, assignment: Assignment, state: CourierState
) -> Execution:
    """The timing of ``assignment`` for a courier in ``state``.

    The rules are not checked here; see :func:`violations`.
    """
    p = instance.parameters
    restaurant = instance.restaurant[assignment.restaurant]
    orders = [instance.order[o] for o in assignment.orders]

    departure = max(assignment.time, state.free)
    arrival = departure + instance.travel_minutes(state, restaurant)
    ready = max(order.ready for order in orders)
    pickup = max(ready, arrival + p.pickup_service / 2)
    leave = pickup + p.pickup_service / 2

    moves = [Move(state.courier, departure, state.location, restaurant.id)]
    dropoffs = []
    origin: Restaurant | ReplayOrder = restaurant
    for order in orders:
        moves.append(Move(state.courier, leave, origin.id, order.id))
        dropoff = (
            leave
            + instance.travel_minutes(origin, order)
            + p.dropoff_service / 2
        )
        dropoffs.append(dropoff)
        leave = dropoff + p.dropoff_service / 2
        origin = order

    after = CourierState(state.courier, origin.id, origin.x, origin.y, leave)
    return Execution(
        assignment,
        departure,
        arrival,
        pickup,
        tuple(dropoffs),
        tuple(moves),
        after,
    )


def violations(
    instance: Instance, assignment: Assignment, state: CourierState
) -> list[str]:
    """The rules ``assignment`` breaks for a courier in ``state``, one
    line each; empty if it is legal."""
    found = []
    what = f"assignment at {assignment.time:g} of courier {assignment.courier}"
    if assignment.courier != state.courier:
        found.append(f"{what}: state is of courier {state.courier}")
    if assignment.restaurant not in instance.restaurant:
        return [*found, f"{what}: unknown restaurant {assignment.restaurant}"]
    if not assignment.orders:
        return [*found, f"{what}: has no orders"]
    if len(set(assignment.orders)) != len(assignment.orders):
        found.append(f"{what}: repeats an order")

    for order_id in assignment.orders:
        order = instance.order.get(order_id)
        if order is None:
            return [*found, f"{what}: unknown order {order_id}"]
        if order.restaurant != assignment.restaurant:
            found.append(
                f"{what}: order {order_id} is from restaurant "
                f"{order.restaurant}, not {assignment.restaurant}"
            )
        if assignment.time < order.placement:
            found.append(
                f"{what}: made before order {order_id} was placed "
                f"(at {order.placement})"
            )

    courier = instance.courier.get(state.courier)
    if courier is None:
        return [*found, f"{what}: unknown courier {state.courier}"]
    off = courier.off
    pickup = execute(instance, assignment, state).pickup
    if pickup > off:
        found.append(
            f"{what}: pickup at {pickup:g} is after the courier's off "
            f"time {off}"
        )
    return found
