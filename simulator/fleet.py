"""The fleet: each driver's shift, start location, capacity and speed."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from engine.model import Location
    from simulator.city import City
    from simulator.scenario import FleetConfig, ShiftSettings

logger = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0
"""Seconds in an hour of simulated time."""

SECONDS_PER_DAY = 24 * SECONDS_PER_HOUR
"""Seconds in a day of simulated time."""


@dataclass(frozen=True, slots=True)
class DriverPlan:
    """What a driver will do in a run: when they work and from where.

    ``shift_start`` and ``shift_end`` are simulated seconds; a shift
    already under way at time 0 starts at 0. ``speed_factor`` divides
    the driver's travel times (1.2 drives 20% faster than planned).
    """

    id: str
    start: Location
    shift_start: float
    shift_end: float
    capacity: int
    speed_factor: float


def driver_plans(
    config: FleetConfig,
    city: City,
    duration_s: float,
    start_hour: float,
    rng: np.random.Generator,
) -> tuple[DriverPlan, ...]:
    """One plan per driver of the fleet, in id order.

    Drivers are split over the shifts in proportion to their shares
    (largest remainders), in the order the shifts are listed.

    .. note::
       Each driver works one shift in a run: of the daily occurrences of
       their shift, the one that overlaps the run the most (the earliest
       among equals). A run of several days therefore sees each driver
       on one day only, and a driver whose shift misses the run entirely
       still gets a plan, with ``shift_start >= duration_s``.
    """
    counts = _split(config.drivers, [shift.share for shift in config.shifts])
    shifts = [
        shift
        for shift, count in zip(config.shifts, counts, strict=True)
        for _ in range(count)
    ]
    offsets = (
        rng.uniform(-config.stagger_s / 2, config.stagger_s / 2, len(shifts))
        if config.stagger_s > 0
        else np.zeros(len(shifts))
    )
    speeds = config.speed_factor.sample(rng, len(shifts))
    nodes = _start_nodes(config, city, len(shifts), rng)

    width = len(str(config.drivers - 1))
    plans = []
    for k, shift in enumerate(shifts):
        driver_id = f"d{k:0{width}d}"
        begin, end = _shift_window(
            shift, start_hour, float(offsets[k]), duration_s
        )
        node = int(nodes[k])
        plans.append(
            DriverPlan(
                id=driver_id,
                start=city.location(node, f"{driver_id}@n{node}"),
                shift_start=begin,
                shift_end=end,
                capacity=config.capacity,
                speed_factor=float(speeds[k]),
            )
        )
    logger.info(
        "planned %d drivers over %d shifts", len(plans), len(config.shifts)
    )
    return tuple(plans)


def _split(total: int, shares: list[float]) -> list[int]:
    """``total`` split in proportion to ``shares`` by largest remainders;
    ties go to the earlier share."""
    exact = np.array(shares) / sum(shares) * total
    counts = np.floor(exact).astype(int)
    order = sorted(
        range(len(shares)), key=lambda i: (-(exact[i] - counts[i]), i)
    )
    for i in order[: total - int(counts.sum())]:
        counts[i] += 1
    return [int(count) for count in counts]


def _shift_window(
    shift: ShiftSettings, start_hour: float, offset: float, duration_s: float
) -> tuple[float, float]:
    """Start and end, in simulated seconds, of the occurrence of a daily
    shift that overlaps ``[0, duration_s)`` the most."""
    length = (shift.end_hour - shift.start_hour) * SECONDS_PER_HOUR
    first = (shift.start_hour - start_hour) * SECONDS_PER_HOUR + offset

    # The earliest occurrence that ends after time 0, and every later
    # one that starts within the run.
    day = math.floor(-(first + length) / SECONDS_PER_DAY) + 1
    best = (-math.inf, 0.0, 0.0)
    while True:
        begin = first + day * SECONDS_PER_DAY
        if begin >= duration_s and best[0] > -math.inf:
            break
        overlap = min(begin + length, duration_s) - max(begin, 0.0)
        if overlap > best[0]:
            best = (overlap, max(begin, 0.0), begin + length)
        day += 1
    return best[1], best[2]


def _start_nodes(
    config: FleetConfig, city: City, count: int, rng: np.random.Generator
) -> list[int]:
    """The node each driver starts from."""
    start = config.start
    if start.kind == "depot":
        depot = (
            city.centre_node()
            if start.depot is None
            else city.nearest_node(start.depot.x, start.depot.y)
        )
        return [depot] * count
    if start.kind == "zone":
        zones = [city.zone(zone_id) for zone_id in start.zones]
        picks = rng.integers(0, len(zones), count)
        return [city.random_node(rng, zones[int(i)]) for i in picks]
    return [city.random_node(rng) for _ in range(count)]
