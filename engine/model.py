"""The routing domain: locations, orders, vehicles, requests and plans.

Every class here is immutable and checks itself when built; a rule broken
raises :class:`~engine.errors.InvalidRequestError` naming the field, the
value and the rule. Times are seconds on the caller's clock (for example
seconds since midnight), quantities are whole units.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Iterable

    import numpy as np
    import numpy.typing as npt

    from engine.travel import TravelTimes


def _number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(name, value, "must be a number")


def _finite(name: str, value: float) -> None:
    _number(name, value)
    if not math.isfinite(value):
        raise InvalidRequestError(name, value, "must be a finite number")


def _not_nan(name: str, value: float) -> None:
    _number(name, value)
    if math.isnan(value):
        raise InvalidRequestError(name, value, "must be a number, not NaN")


def _non_negative(name: str, value: float) -> None:
    _finite(name, value)
    if value < 0:
        raise InvalidRequestError(name, value, "must be >= 0")


def _identifier(name: str, value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError(name, value, "must be a non-empty string")


def _integer(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(name, value, "must be an integer")


def _unique(name: str, ids: Iterable[str]) -> None:
    repeated = [key for key, n in Counter(ids).items() if n > 1]
    if repeated:
        raise InvalidRequestError(name, repeated[0], "ids must be unique")


@dataclass(frozen=True, slots=True)
class Location:
    """A place on the map.

    ``x`` and ``y`` are planar coordinates, or longitude and latitude in
    degrees when the travel-time model is geographic.
    """

    id: str
    x: float
    y: float

    def __post_init__(self) -> None:
        _identifier("location.id", self.id)
        _finite(f"locations[{self.id}].x", self.x)
        _finite(f"locations[{self.id}].y", self.y)


@dataclass(frozen=True, slots=True)
class Order:
    """A parcel to carry from a pickup location to a delivery location.

    Service at the pickup starts in ``[ready_time, pickup_due]`` and
    service at the delivery in ``[delivery_ready, due_time]``; a vehicle
    that arrives early waits.
    """

    id: str
    pickup: str
    delivery: str
    quantity: int = 1
    ready_time: float = 0.0
    due_time: float = math.inf
    pickup_due: float = math.inf
    delivery_ready: float = 0.0
    pickup_service: float = 0.0
    delivery_service: float = 0.0

    def __post_init__(self) -> None:
        where = f"orders[{self.id}]"
        _identifier("order.id", self.id)
        _identifier(f"{where}.pickup", self.pickup)
        _identifier(f"{where}.delivery", self.delivery)
        _integer(f"{where}.quantity", self.quantity)
        if self.quantity <= 0:
            raise InvalidRequestError(
                f"{where}.quantity", self.quantity, "must be > 0"
            )
        _non_negative(f"{where}.ready_time", self.ready_time)
        _non_negative(f"{where}.delivery_ready", self.delivery_ready)
        _non_negative(f"{where}.pickup_service", self.pickup_service)
        _non_negative(f"{where}.delivery_service", self.delivery_service)
        _not_nan(f"{where}.due_time", self.due_time)
        _not_nan(f"{where}.pickup_due", self.pickup_due)
        if self.due_time < self.ready_time:
            raise InvalidRequestError(
                f"{where}.due_time",
                self.due_time,
                f"must be >= ready_time ({self.ready_time})",
            )
        if self.pickup_due < self.ready_time:
            raise InvalidRequestError(
                f"{where}.pickup_due",
                self.pickup_due,
                f"must be >= ready_time ({self.ready_time})",
            )
        if self.due_time < self.delivery_ready:
            raise InvalidRequestError(
                f"{where}.due_time",
                self.due_time,
                f"must be >= delivery_ready ({self.delivery_ready})",
            )


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A driver and their vehicle.

    The vehicle is free at ``start`` from ``shift_start`` on. With an
    ``end`` it must reach that location by ``shift_end``; without one its
    route is open and its last service must end by ``shift_end``.

    ``onboard`` lists orders already picked up: only their delivery is
    left, and this vehicle must make it. ``committed`` lists orders this
    vehicle is on its way to pick up: it must carry them too. Due times
    of these bound orders are soft, since the parcel cannot be refused any
    more: a plan may serve them late and reports by how much, and a route
    that carries them may end after ``shift_end``.
    """

    id: str
    start: str
    capacity: int
    end: str | None = None
    shift_start: float = 0.0
    shift_end: float = math.inf
    onboard: tuple[str, ...] = ()
    committed: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"vehicles[{self.id}]"
        _identifier("vehicle.id", self.id)
        _identifier(f"{where}.start", self.start)
        if self.end is not None:
            _identifier(f"{where}.end", self.end)
        _integer(f"{where}.capacity", self.capacity)
        if self.capacity < 0:
            raise InvalidRequestError(
                f"{where}.capacity", self.capacity, "must be >= 0"
            )
        _non_negative(f"{where}.shift_start", self.shift_start)
        _not_nan(f"{where}.shift_end", self.shift_end)
        if self.shift_end < self.shift_start:
            raise InvalidRequestError(
                f"{where}.shift_end",
                self.shift_end,
                f"must be >= shift_start ({self.shift_start})",
            )
        _unique(f"{where}.onboard", self.onboard)
        _unique(f"{where}.committed", self.committed)


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the objective that every backend minimises.

    cost = travel_time * seconds travelled + vehicle * vehicles used
    + unassigned * orders left unserved
    + delivery_time * seconds from each served order's ready time to its
    delivery

    Travel alone is indifferent to when a customer is served: it lets an
    order wait up to its due time whenever that saves a driver a detour.
    ``delivery_time`` prices that wait. OR-Tools models it in full; the
    insertion heuristic prices each insertion exactly (the order's own
    delivery and the delay to the deliveries after it), though it
    inserts greedily; PyVRP cannot, so a request that weights it goes to
    OR-Tools where PyVRP is preferred.
    """

    travel_time: float = 1.0
    vehicle: float = 0.0
    unassigned: float = 1e6
    delivery_time: float = 0.0

    def __post_init__(self) -> None:
        _non_negative("options.weights.travel_time", self.travel_time)
        _non_negative("options.weights.vehicle", self.vehicle)
        _non_negative("options.weights.unassigned", self.unassigned)
        _non_negative("options.weights.delivery_time", self.delivery_time)


class Backend(enum.StrEnum):
    """The solver backends, and ``auto`` to let the engine choose."""

    AUTO = "auto"
    HEURISTIC = "heuristic"
    ORTOOLS = "ortools"
    PYVRP = "pyvrp"


@dataclass(frozen=True, slots=True)
class Options:
    """How to solve: objective, budget, seed and backend.

    With ``work_limit`` set the solver stops after that many iterations of
    its search, whatever the machine's speed, so a seed always gives the
    same plan (simulation mode). Otherwise it stops at ``time_limit``
    seconds of wall time (service mode).
    """

    weights: Weights = field(default_factory=Weights)
    time_limit: float = 1.0
    work_limit: int | None = None
    seed: int = 0
    backend: Backend = Backend.AUTO

    def __post_init__(self) -> None:
        _finite("options.time_limit", self.time_limit)
        if self.time_limit <= 0:
            raise InvalidRequestError(
                "options.time_limit", self.time_limit, "must be > 0 seconds"
            )
        if self.work_limit is not None:
            _integer("options.work_limit", self.work_limit)
        _integer("options.seed", self.seed)
        if self.work_limit is not None and self.work_limit < 0:
            raise InvalidRequestError(
                "options.work_limit", self.work_limit, "must be >= 0"
            )
        if self.seed < 0:
            raise InvalidRequestError(
                "options.seed", self.seed, "must be >= 0"
            )
        try:
            object.__setattr__(self, "backend", Backend(self.backend))
        except ValueError:
            allowed = ", ".join(b.value for b in Backend)
            raise InvalidRequestError(
                "options.backend", self.backend, f"must be one of {allowed}"
            ) from None

    @property
    def deterministic(self) -> bool:
        """Whether the search is bounded by work rather than wall time."""
        return self.work_limit is not None


@dataclass(frozen=True)
class Request:
    """Everything a solver needs: orders, vehicles, travel times, options.

    Orders and vehicles refer to locations by id. The travel-time matrix
    over ``locations`` is computed once, on first use.
    """

    locations: tuple[Location, ...]
    orders: tuple[Order, ...]
    vehicles: tuple[Vehicle, ...]
    travel: TravelTimes
    options: Options = field(default_factory=Options)

    def __post_init__(self) -> None:
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "vehicles", tuple(self.vehicles))
        _unique("locations", (loc.id for loc in self.locations))
        _unique("orders", (order.id for order in self.orders))
        _unique("vehicles", (vehicle.id for vehicle in self.vehicles))
        self._check_references()
        self._check_bound_orders()

    def _check_references(self) -> None:
        known = self.location_index
        for order in self.orders:
            for role in ("pickup", "delivery"):
                ref = getattr(order, role)
                if ref not in known:
                    raise InvalidRequestError(
                        f"orders[{order.id}].{role}",
                        ref,
                        "must name a location of the request",
                    )
        for vehicle in self.vehicles:
            for role in ("start", "end"):
                ref = getattr(vehicle, role)
                if ref is not None and ref not in known:
                    raise InvalidRequestError(
                        f"vehicles[{vehicle.id}].{role}",
                        ref,
                        "must name a location of the request",
                    )

    def _check_bound_orders(self) -> None:
        orders = self.order_index
        bound_to: dict[str, str] = {}
        for vehicle in self.vehicles:
            load = 0
            for role in ("onboard", "committed"):
                for order_id in getattr(vehicle, role):
                    where = f"vehicles[{vehicle.id}].{role}"
                    if order_id not in orders:
                        raise InvalidRequestError(
                            where,
                            order_id,
                            "must name an order of the request",
                        )
                    if order_id in bound_to:
                        raise InvalidRequestError(
                            where,
                            order_id,
                            f"order is already bound to vehicle "
                            f"{bound_to[order_id]}",
                        )
                    bound_to[order_id] = vehicle.id
                    if role == "onboard":
                        load += self.orders[orders[order_id]].quantity
            if load > vehicle.capacity:
                raise InvalidRequestError(
                    f"vehicles[{vehicle.id}].onboard",
                    load,
                    f"load on board must be <= capacity ({vehicle.capacity})",
                )

    @cached_property
    def location_index(self) -> dict[str, int]:
        """Position of each location id in ``locations``."""
        return {loc.id: i for i, loc in enumerate(self.locations)}

    @cached_property
    def order_index(self) -> dict[str, int]:
        """Position of each order id in ``orders``."""
        return {order.id: i for i, order in enumerate(self.orders)}

    @cached_property
    def travel_matrix(self) -> npt.NDArray[np.float64]:
        """Travel seconds between every pair of ``locations``."""
        matrix = self.travel.matrix(self.locations, self.locations)
        matrix.setflags(write=False)
        return matrix


class StopKind(enum.StrEnum):
    """What a vehicle does at a stop."""

    PICKUP = "pickup"
    DELIVERY = "delivery"


@dataclass(frozen=True, slots=True)
class Stop:
    """One visit of a route: when the vehicle arrives, serves and leaves.

    ``load`` is the quantity on board after the stop; ``late`` is how far
    past its due time the service started (only bound orders may be late).
    """

    order_id: str
    kind: StopKind
    location_id: str
    arrival: float
    start: float
    departure: float
    load: int
    late: float = 0.0


@dataclass(frozen=True, slots=True)
class Route:
    """The ordered stops of one vehicle, and when it ends its route."""

    vehicle_id: str
    stops: tuple[Stop, ...]
    travel_time: float
    end_time: float


class UnassignedReason(enum.StrEnum):
    """Why an order was left out of a plan."""

    CAPACITY = "capacity"
    """Its quantity exceeds the capacity of every vehicle."""

    TIME_WINDOW = "time_window"
    """No vehicle can serve it in its time windows, even on its own."""

    FLEET_BUSY = "fleet_busy"
    """Some vehicle could serve it alone, but no route of the plan had
    room for it within the budget."""


@dataclass(frozen=True, slots=True)
class Unassigned:
    """An order left out of a plan, with the reason."""

    order_id: str
    reason: UnassignedReason


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How a plan was found."""

    backend: str
    iterations: int
    wall_s: float
    deadline_hit: bool = False
    fallback: bool = False
    fallback_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """The answer to a request: one route per used vehicle.

    Every order of the request is either on exactly one route (both its
    stops, or only its delivery if it was on board) or in ``unassigned``.
    """

    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    cost: float
    stats: SolveStats

    @property
    def travel_time(self) -> float:
        """Total seconds travelled over all routes."""
        return sum(route.travel_time for route in self.routes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the plan."""
        return {
            "routes": [
                {
                    "vehicle_id": route.vehicle_id,
                    "travel_time": route.travel_time,
                    "end_time": route.end_time,
                    "stops": [
                        {
                            "order_id": stop.order_id,
                            "kind": stop.kind.value,
                            "location_id": stop.location_id,
                            "arrival": stop.arrival,
                            "start": stop.start,
                            "departure": stop.departure,
                            "load": stop.load,
                            "late": stop.late,
                        }
                        for stop in route.stops
                    ],
                }
                for route in self.routes
            ],
            "unassigned": [
                {"order_id": u.order_id, "reason": u.reason.value}
                for u in self.unassigned
            ],
            "cost": self.cost,
            "stats": {
                "backend": self.stats.backend,
                "iterations": self.stats.iterations,
                "wall_s": self.stats.wall_s,
                "deadline_hit": self.stats.deadline_hit,
                "fallback": self.stats.fallback,
                "fallback_reason": self.stats.fallback_reason,
            },
        }
