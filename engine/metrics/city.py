"""Business metrics of a delivery city, and the speed of a simulation.

The engine does not see a city; a simulation (or, later, the order
service) sets these from its own state. Counts are of orders and
drivers, never labelled by an order's or a driver's id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from engine.metrics.buckets import DELIVERY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class CityMetrics:
    """Orders, deliveries and drivers, on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.created = Counter(
            "barq_orders_created",
            "Orders placed.",
            registry=registry,
        )
        self.orders = Gauge(
            "barq_orders",
            "Orders by state: open, assigned and picked now; delivered "
            "and cancelled since the start.",
            ["state"],
            registry=registry,
        )
        self.delivery = Histogram(
            "barq_delivery_duration_seconds",
            "Time from placing an order to its delivery.",
            buckets=DELIVERY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.on_time = Counter(
            "barq_deliveries_on_time",
            "Deliveries at or before the promised time.",
            registry=registry,
        )
        self.drivers = Gauge(
            "barq_drivers",
            "Drivers by state: busy (with work to do) and idle while "
            "online, offline otherwise.",
            ["state"],
            registry=registry,
        )
        self.capacity = Gauge(
            "barq_driver_capacity",
            "Orders the online drivers can carry at once, summed.",
            registry=registry,
        )
        self.utilization = Gauge(
            "barq_driver_utilization_ratio",
            "Time drivers spent travelling and serving stops over their "
            "shift time so far.",
            registry=registry,
        )

    def placed(self, count: int) -> None:
        """Count ``count`` new orders."""
        self.created.inc(count)

    def delivered(self, seconds: float, on_time: bool) -> None:
        """Observe a delivery ``seconds`` after its order was placed."""
        self.delivery.observe(seconds)
        if on_time:
            self.on_time.inc()

    def set_orders(self, state: str, count: int) -> None:
        """Set the number of orders in ``state``."""
        self.orders.labels(state).set(count)

    def set_drivers(
        self, busy: int, idle: int, offline: int, capacity: int
    ) -> None:
        """Set the drivers by state and the online drivers' capacity."""
        self.drivers.labels("busy").set(busy)
        self.drivers.labels("idle").set(idle)
        self.drivers.labels("offline").set(offline)
        self.capacity.set(capacity)

    def set_utilization(self, ratio: float) -> None:
        """Set the drivers' busy time over shift time so far."""
        self.utilization.set(ratio)


class SimulationMetrics:
    """How fast a simulation runs, on ``registry``.

    ``rate(barq_simulation_simulated_seconds_total)`` over a live scrape
    is the speed in simulated seconds per wall second; the gauge keeps
    the speed of the last simulated minute for backfilled runs, where
    the timestamps are simulated time.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.simulated = Counter(
            "barq_simulation_simulated_seconds",
            "Simulated seconds run.",
            unit="seconds",
            registry=registry,
        )
        self.wall = Counter(
            "barq_simulation_wall_seconds",
            "Wall seconds spent running the simulation.",
            unit="seconds",
            registry=registry,
        )
        self.speed = Gauge(
            "barq_simulation_speed_ratio",
            "Simulated seconds per wall second over the last step.",
            registry=registry,
        )

    def advanced(self, simulated_s: float, wall_s: float) -> None:
        """The simulation ran ``simulated_s`` seconds in ``wall_s``."""
        self.simulated.inc(simulated_s)
        self.wall.inc(wall_s)
        if wall_s > 0:
            self.speed.set(simulated_s / wall_s)
