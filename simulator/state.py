"""The mutable state of a simulated city: orders and drivers as they go.

The engine's model is immutable and describes one question; these
records describe the city between questions, and change as simulated
time runs. Only the world's processes and the dispatcher write them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.model import StopKind

if TYPE_CHECKING:
    import simpy

    from engine.model import Location, Order
    from simulator.demand import OrderArrival
    from simulator.fleet import DriverPlan


class OrderStatus(enum.StrEnum):
    """Where an order is in its life."""

    OPEN = "open"
    """Placed, not assigned to a driver."""
    ASSIGNED = "assigned"
    """A driver plans to pick it up."""
    PICKED = "picked"
    """On board a driver."""
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


ACTIVE = frozenset(
    {OrderStatus.OPEN, OrderStatus.ASSIGNED, OrderStatus.PICKED}
)
"""Statuses of an order that is neither delivered nor cancelled."""


@dataclass(slots=True, eq=False)
class OrderState:
    """An order's life in simulated seconds (NaN: not happened)."""

    arrival: OrderArrival
    status: OrderStatus = OrderStatus.OPEN
    driver: str | None = None
    assigned_s: float = math.nan
    picked_s: float = math.nan
    delivered_s: float = math.nan
    cancelled_s: float = math.nan
    asked: tuple[Order, Location, Location] | None = None
    """The order, its pickup and its delivery as the dispatcher asks the
    engine about them: built on the first question, since none of it
    changes."""

    @property
    def id(self) -> str:
        """The order's id."""
        return self.arrival.id

    @property
    def created_s(self) -> float:
        """When the order was placed."""
        return self.arrival.time

    @property
    def ready_s(self) -> float:
        """When the merchant has it ready for pickup."""
        return self.arrival.time + self.arrival.prep_s

    @property
    def promised_s(self) -> float:
        """The promised delivery time (the SLA)."""
        return self.arrival.time + self.arrival.sla_s

    @property
    def pickup(self) -> Location:
        """The merchant's location."""
        return self.arrival.merchant.location

    @property
    def delivery(self) -> Location:
        """The customer's location."""
        return self.arrival.customer


@dataclass(frozen=True, slots=True)
class Task:
    """One stop of a driver's work: pick an order up, or deliver it."""

    order_id: str
    kind: StopKind

    @property
    def is_pickup(self) -> bool:
        """Whether the stop picks the order up."""
        return self.kind is StopKind.PICKUP


@dataclass(slots=True, eq=False)
class DriverState:
    """A driver: where it is, what it carries, what it will do next.

    ``location`` and ``node`` are where the driver is, or, while it is on
    a leg, where the leg ends; ``free_at`` is when it will be there with
    the leg's stop served.
    """

    plan: DriverPlan
    location: Location
    node: int
    online: bool = False
    offline_fault: bool = False
    tasks: list[Task] = field(default_factory=list)
    leg: Task | None = None
    free_at: float = 0.0
    onboard: set[str] = field(default_factory=set)
    busy_s: float = 0.0
    wake: simpy.Event | None = None

    @property
    def id(self) -> str:
        """The driver's id."""
        return self.plan.id

    def assigned(self) -> set[str]:
        """Orders it will pick up, the one on its current leg excluded."""
        return {task.order_id for task in self.tasks if task.is_pickup}
