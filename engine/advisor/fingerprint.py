"""Cache keys for advisor questions.

A key is a BLAKE2b digest of what the answer depends on, coarsened so that
questions which deserve the same answer share a key:

- an assignment question: for each order in sequence, its pickup and
  delivery coordinates rounded to ``precision`` decimals, its quantity and
  its urgency bucket ``floor((due_time - now) / bucket_s)``; and the
  candidate drivers' ids with their rounded locations, sorted by id;
- a plan review: each route's vehicle and stops (order, kind, rounded
  coordinates), and the unassigned orders with their reasons.

Order ids are not in an assignment key (a new order at the same places
deserves the same driver), so cached assignments are stored by position
in the question. Drivers' free capacity and shifts are not in it either:
a cached answer is checked against the current question before it is
used.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.advisor.question import AssignmentQuestion
    from engine.model import Location, Plan, Request

SCHEMA = 1
"""Version of the key layout and of the cached values; part of every key."""


def _round(value: float, precision: int) -> str:
    text = f"{value:.{precision}f}"
    return text.lstrip("-") if float(text) == 0 else text


@functools.lru_cache(maxsize=4096)
def _place(location: Location, precision: int) -> tuple[str, str]:
    """The rounded coordinates of ``location``, remembered by value: a
    plan's stops are mostly at places of earlier plans."""
    return _round(location.x, precision), _round(location.y, precision)


def _digest(kind: str, data: Any) -> str:
    encoded = json.dumps(data, separators=(",", ":")).encode()
    digest = hashlib.blake2b(encoded, digest_size=16).hexdigest()
    return f"advisor:{kind}:{SCHEMA}:{digest}"


def assign_key(
    question: AssignmentQuestion, precision: int, bucket_s: float
) -> str:
    """The cache key of an assignment question."""
    places = {location.id: location for location in question.locations}
    orders = [
        [
            *_place(places[order.pickup], precision),
            *_place(places[order.delivery], precision),
            order.quantity,
            (
                math.floor((order.due_time - question.now) / bucket_s)
                if math.isfinite(order.due_time)
                else None
            ),
        ]
        for order in question.orders
    ]
    drivers = sorted(
        [candidate.driver_id, *_place(candidate.location, precision)]
        for candidate in question.candidates
    )
    return _digest("assign", {"orders": orders, "drivers": drivers})


def review_key(request: Request, plan: Plan, precision: int) -> str:
    """The cache key of a review of ``plan``."""
    places = request.location_index
    routes = [
        [
            route.vehicle_id,
            [
                [
                    stop.order_id,
                    stop.kind.value,
                    *_place(
                        request.locations[places[stop.location_id]],
                        precision,
                    ),
                ]
                for stop in route.stops
            ],
        ]
        for route in plan.routes
    ]
    unassigned = [[u.order_id, u.reason.value] for u in plan.unassigned]
    return _digest("review", {"routes": routes, "unassigned": unassigned})
