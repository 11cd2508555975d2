"""The heuristic answer, and the feasibility rules every answer must keep.

A question is first reduced to :class:`Estimates`: for each order and
candidate driver, when the driver would reach the pickup and when it
would finish the delivery, going straight there from where it will be
free. The same numbers are sent to the model, checked against its answer,
and used by the heuristic, so that all three agree on what is feasible.

A driver can take an order when

- the driver can finish the delivery by the end of its shift, and
- the quantities of all orders given to it fit its free capacity.

.. note::
   Each order is judged as if the driver went straight to it: two orders
   given to one driver are not sequenced here (the solver does that), so
   the second may in fact finish later than estimated. Due times are not
   a rule either: a late order is still better served than refused, and
   the earliest arrival is what the heuristic prefers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.advisor.question import AssignmentQuestion
    from engine.travel import TravelTimes


@dataclass(frozen=True, slots=True)
class Estimates:
    """A question reduced to the numbers an answer is judged by.

    Times are seconds from the question's ``now``; ``math.inf`` stands
    for no bound (``shift_left``) or no route (``arrive``, ``finish``).
    ``arrive[o][c]`` and ``finish[o][c]`` are for order ``o`` and driver
    ``c`` in the order of ``order_ids`` and ``driver_ids``.
    """

    order_ids: tuple[str, ...]
    quantities: tuple[int, ...]
    driver_ids: tuple[str, ...]
    free_capacity: tuple[int, ...]
    shift_left: tuple[float, ...]
    arrive: tuple[tuple[float, ...], ...]
    finish: tuple[tuple[float, ...], ...]

    def feasible(self, order: int, driver: int) -> bool:
        """Whether ``driver`` can deliver ``order`` within its shift."""
        finish = self.finish[order][driver]
        return math.isfinite(finish) and finish <= self.shift_left[driver]


def estimate(question: AssignmentQuestion, travel: TravelTimes) -> Estimates:
    """The :class:`Estimates` of ``question`` under ``travel``."""
    places = {location.id: location for location in question.locations}
    pickups = [places[order.pickup] for order in question.orders]
    deliveries = [places[order.delivery] for order in question.orders]
    starts = [candidate.location for candidate in question.candidates]
    now = question.now

    carry = travel.matrix(pickups, deliveries).diagonal()
    to_pickup = (
        travel.matrix(starts, pickups)
        if starts
        else np.empty((0, len(pickups)))
    )

    arrive: list[tuple[float, ...]] = []
    finish: list[tuple[float, ...]] = []
    for o, order in enumerate(question.orders):
        arrive_row: list[float] = []
        finish_row: list[float] = []
        for c, candidate in enumerate(question.candidates):
            reach = max(candidate.available_at, now) + float(to_pickup[c, o])
            start = max(reach, order.ready_time) + order.pickup_service
            drop = max(start + float(carry[o]), order.delivery_ready)
            arrive_row.append(reach - now)
            finish_row.append(drop + order.delivery_service - now)
        arrive.append(tuple(arrive_row))
        finish.append(tuple(finish_row))

    return Estimates(
        order_ids=tuple(order.id for order in question.orders),
        quantities=tuple(order.quantity for order in question.orders),
        driver_ids=tuple(c.driver_id for c in question.candidates),
        free_capacity=tuple(c.free_capacity for c in question.candidates),
        shift_left=tuple(c.shift_end - now for c in question.candidates),
        arrive=tuple(arrive),
        finish=tuple(finish),
    )


def choose(estimates: Estimates) -> dict[str, str | None]:
    """The heuristic's answer: for each order in turn, the feasible driver
    with room left that reaches the pickup first (ties by driver id), or
    ``None`` if there is none."""
    room = list(estimates.free_capacity)
    answer: dict[str, str | None] = {}
    for o, order_id in enumerate(estimates.order_ids):
        quantity = estimates.quantities[o]
        able = [
            c
            for c in range(len(estimates.driver_ids))
            if room[c] >= quantity and estimates.feasible(o, c)
        ]
        if not able:
            answer[order_id] = None
            continue
        best = min(
            able,
            key=lambda c: (estimates.arrive[o][c], estimates.driver_ids[c]),
        )
        room[best] -= quantity
        answer[order_id] = estimates.driver_ids[best]
    return answer


def nearest_feasible(
    question: AssignmentQuestion, travel: TravelTimes
) -> dict[str, str | None]:
    """The heuristic's answer to ``question``: for each order in turn, the
    candidate with free capacity and shift left whose arrival at the
    pickup (``max(available_at, now)`` plus travel) is earliest; ties go to
    the smaller driver id. Deterministic."""
    return choose(estimate(question, travel))


def violation(
    estimates: Estimates, assignments: Mapping[str, str | None]
) -> str | None:
    """What is wrong with ``assignments`` as an answer, or ``None``.

    An answer must name every asked order and no other, each with a
    candidate driver or ``None``, and every driver must be able to take
    its orders (see the module's rules).
    """
    asked = set(estimates.order_ids)
    missing = [o for o in estimates.order_ids if o not in assignments]
    if missing:
        return f"order {missing[0]!r} is not answered"
    unknown = sorted(set(assignments) - asked)
    if unknown:
        return f"order {unknown[0]!r} was not asked"

    drivers = {driver: c for c, driver in enumerate(estimates.driver_ids)}
    room = list(estimates.free_capacity)
    for o, order_id in enumerate(estimates.order_ids):
        driver = assignments[order_id]
        if driver is None:
            continue
        c = drivers.get(driver)
        if c is None:
            return f"driver {driver!r} for {order_id!r} is not a candidate"
        if not estimates.feasible(o, c):
            return f"driver {driver!r} cannot deliver {order_id!r} in shift"
        room[c] -= estimates.quantities[o]
        if room[c] < 0:
            return f"driver {driver!r} has no room for {order_id!r}"
    return None
