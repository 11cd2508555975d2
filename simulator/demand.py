"""Demand: merchants placed in the city's zones, and the orders they get.

Orders arrive as a non-homogeneous Poisson process. Its rate is constant
within each hour of the day (the scenario's hourly profile) and within
each demand spike, so the process is drawn exactly, segment by segment:
a Poisson count for each stretch of constant rate, then that many times
spread uniformly over it. No thinning is needed.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from engine import libm
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.model import Location
    from simulator.city import City
    from simulator.scenario import DemandConfig, Fault

logger = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0
"""Seconds in an hour of simulated time."""

NEAREST_CUSTOMERS = 8
"""Customers of a merchant with no other node within the delivery radius
are drawn from this many nodes nearest to it."""


@dataclass(frozen=True, slots=True)
class Merchant:
    """A place that prepares orders for pickup.

    ``weight`` is the merchant's relative popularity: its share of all
    orders is its weight over the sum of all weights.
    """

    id: str
    location: Location
    zone: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class OrderArrival:
    """An order as the customer places it.

    ``time`` is the simulated second of placement; the order is ready
    for pickup ``prep_s`` seconds later and promised ``sla_s`` seconds
    after placement. The customer cancels it if no driver is assigned
    within ``patience_s`` of placement.
    """

    id: str
    time: float
    merchant: Merchant
    customer: Location
    prep_s: float
    sla_s: float
    patience_s: float
    quantity: int


@dataclass(frozen=True, slots=True)
class RateSegment:
    """A stretch of simulated time with a constant order rate."""

    start: float
    end: float
    per_second: float

    @property
    def expected(self) -> float:
        """Expected orders in the stretch."""
        return self.per_second * (self.end - self.start)


def merchants(
    config: DemandConfig, city: City, rng: np.random.Generator
) -> tuple[Merchant, ...]:
    """The scenario's merchants, each on a node of a zone.

    Each merchant's zone is drawn with the zone weights, its node
    uniformly within the zone, and its popularity from a lognormal
    distribution with median 1.
    """
    settings = config.merchants
    weights = np.array(
        [
            settings.zone_weights.get(zone.id, settings.default_weight)
            for zone in city.zones
        ]
    )
    if weights.sum() <= 0:
        raise InvalidRequestError(
            "demand.merchants.zone_weights",
            dict(settings.zone_weights),
            "must give a zone that holds road nodes a weight > 0",
        )

    zones = rng.choice(
        len(city.zones), settings.count, p=weights / weights.sum()
    )
    popularity = libm.exp(
        rng.normal(0.0, settings.popularity_sigma, zones.size)
    )
    width = len(str(settings.count - 1))
    found: list[Merchant] = []
    for k, (zone_index, weight) in enumerate(
        zip(zones, popularity, strict=True)
    ):
        zone = city.zones[zone_index]
        merchant_id = f"m{k:0{width}d}"
        node = city.random_node(rng, zone)
        found.append(
            Merchant(
                merchant_id,
                city.location(node, merchant_id),
                zone.id,
                float(weight),
            )
        )
    return tuple(found)


def rate_segments(
    config: DemandConfig,
    duration_s: float,
    start_hour: float,
    spikes: Sequence[Fault] = (),
) -> list[RateSegment]:
    """The stretches of constant order rate in ``[0, duration_s)``.

    Boundaries fall on the hours of the day and at the start and end of
    every ``demand_spike`` among ``spikes``; faults of other kinds are
    ignored.
    """
    profile = np.asarray(config.hourly_profile, dtype=np.float64)
    per_hour = config.orders_per_day * profile / profile.sum()
    spikes = [fault for fault in spikes if fault.kind == "demand_spike"]

    first = math.floor(start_hour) + 1
    last = math.ceil(start_hour + duration_s / SECONDS_PER_HOUR)
    hours = [(h - start_hour) * SECONDS_PER_HOUR for h in range(first, last)]
    edges = [t for f in spikes for t in (f.start_s, f.end_s)]
    cuts = sorted(
        {0.0, duration_s, *(t for t in hours + edges if 0 < t < duration_s)}
    )

    segments: list[RateSegment] = []
    for start, end in itertools.pairwise(cuts):
        middle = (start + end) / 2
        hour = math.floor(start_hour + middle / SECONDS_PER_HOUR) % 24
        factor = math.prod(
            f.factor or 1.0 for f in spikes if f.start_s <= middle < f.end_s
        )
        rate = per_hour[hour] * factor / SECONDS_PER_HOUR
        segments.append(RateSegment(start, end, float(rate)))
    return segments


def expected_orders(
    config: DemandConfig,
    duration_s: float,
    start_hour: float,
    spikes: Sequence[Fault] = (),
) -> float:
    """Expected number of orders placed in ``[0, duration_s)``."""
    segments = rate_segments(config, duration_s, start_hour, spikes)
    return sum(segment.expected for segment in segments)


def order_arrivals(
    config: DemandConfig,
    city: City,
    merchants: Sequence[Merchant],
    duration_s: float,
    start_hour: float,
    rng: np.random.Generator,
    spikes: Sequence[Fault] = (),
) -> list[OrderArrival]:
    """Every order placed in ``[0, duration_s)``, sorted by time.

    The same ``rng`` state always gives the same orders. Each order's
    merchant is drawn by popularity; its customer is a node drawn
    uniformly among those within ``delivery_radius_m`` of the merchant
    (the merchant's own node left out).
    """
    if not merchants:
        raise InvalidRequestError("merchants", 0, "must hold a merchant")
    started = time.perf_counter()

    segments = rate_segments(config, duration_s, start_hour, spikes)
    counts = rng.poisson([segment.expected for segment in segments])
    times = np.concatenate(
        [
            np.sort(rng.uniform(segment.start, segment.end, count))
            for segment, count in zip(segments, counts, strict=True)
        ]
    )
    total = times.size

    popularity = np.array([merchant.weight for merchant in merchants])
    chosen = rng.choice(len(merchants), total, p=popularity / popularity.sum())
    customers = _customer_nodes(config, city, merchants, chosen, rng)
    prep = config.prep_time_s.sample(rng, total)
    quantities = _quantities(config, rng, total)

    width = max(5, len(str(total - 1)))
    arrivals = []
    for k in range(total):
        order_id = f"o{k:0{width}d}"
        node = int(customers[k])
        arrivals.append(
            OrderArrival(
                id=order_id,
                time=float(times[k]),
                merchant=merchants[chosen[k]],
                customer=city.location(node, f"{order_id}@n{node}"),
                prep_s=float(prep[k]),
                sla_s=config.sla_s,
                patience_s=config.patience_s,
                quantity=int(quantities[k]),
            )
        )
    logger.info(
        "drew %d orders (%.0f expected) over %.0f s in %.2f s",
        total,
        sum(segment.expected for segment in segments),
        duration_s,
        time.perf_counter() - started,
    )
    return arrivals


def _customer_nodes(
    config: DemandConfig,
    city: City,
    merchants: Sequence[Merchant],
    chosen: npt.NDArray[np.intp],
    rng: np.random.Generator,
) -> npt.NDArray[np.intp]:
    """A customer node for each order of the merchants ``chosen``."""
    homes = city.network.snap([merchant.location for merchant in merchants])
    candidates: dict[int, npt.NDArray[np.intp]] = {}
    for index in np.unique(chosen).tolist():
        home = int(homes[index])
        near = city.nodes_within(home, config.delivery_radius_m)
        near = near[near != home]
        if near.size == 0:
            near = city.nearest_nodes(home, NEAREST_CUSTOMERS + 1)
            near = near[near != home] if near.size > 1 else near
        candidates[index] = near

    sizes = np.array([candidates[i].size for i in chosen.tolist()], dtype=int)
    picks = rng.integers(0, np.maximum(sizes, 1))
    return np.fromiter(
        (
            candidates[i][pick]
            for i, pick in zip(chosen.tolist(), picks.tolist(), strict=True)
        ),
        dtype=np.intp,
        count=chosen.size,
    )


def _quantities(
    config: DemandConfig, rng: np.random.Generator, total: int
) -> npt.NDArray[np.int64]:
    settings = config.quantity
    values = np.array(settings.values, dtype=np.int64)
    if settings.weights is None:
        return values[rng.integers(0, values.size, total)]
    weights = np.array(settings.weights, dtype=np.float64)
    return rng.choice(values, total, p=weights / weights.sum())
