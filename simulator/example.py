"""A seeded example request: a morning of deliveries in a small city.

This is what ``barq solve`` plans when no request file is given: merchants
and customers scattered around a city centre, couriers starting from a
few hubs, orders with a ready time and a promised delivery time.
"""

from __future__ import annotations

import numpy as np

from engine.model import Location, Options, Order, Request, Vehicle
from engine.travel import Haversine

CENTRE = (11.575, 48.137)
"""Longitude and latitude of the example city's centre (Munich)."""

COURIER_SPEED_MPS = 7.0
"""Average courier speed: about 25 km/h through city streets."""


def example_request(
    orders: int = 100,
    vehicles: int = 20,
    seed: int = 0,
    options: Options | None = None,
) -> Request:
    """A request with ``orders`` orders and ``vehicles`` couriers.

    Times are seconds since 08:00; each order is ready within the first
    two hours and promised 45 minutes after it is ready.
    """
    rng = np.random.default_rng(seed)
    merchants = [
        Location(f"m{k}", *_near(rng, 0.02))
        for k in range(max(orders // 8, 1))
    ]
    customers = [Location(f"c{k}", *_near(rng, 0.05)) for k in range(orders)]
    hubs = [Location(f"h{k}", *_near(rng, 0.03)) for k in range(3)]

    ready = np.sort(rng.uniform(0, 7200, orders)).round()
    order_list = tuple(
        Order(
            id=f"o{k}",
            pickup=merchants[int(rng.integers(len(merchants)))].id,
            delivery=customers[k].id,
            quantity=int(rng.integers(1, 3)),
            ready_time=float(ready[k]),
            due_time=float(ready[k] + 2700),
            pickup_service=60.0,
            delivery_service=120.0,
        )
        for k in range(orders)
    )
    fleet = tuple(
        Vehicle(
            id=f"v{k}",
            start=hubs[k % len(hubs)].id,
            capacity=6,
            shift_start=0.0,
            shift_end=4 * 3600.0,
        )
        for k in range(vehicles)
    )
    return Request(
        locations=(*hubs, *merchants, *customers),
        orders=order_list,
        vehicles=fleet,
        travel=Haversine(speed=COURIER_SPEED_MPS),
        options=options or Options(),
    )


def _near(rng: np.random.Generator, spread: float) -> tuple[float, float]:
    x, y = rng.normal(0.0, spread, 2)
    return CENTRE[0] + float(x), CENTRE[1] + float(y) * 0.67
