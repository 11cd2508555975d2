"""Requests from plain data, as JSON or YAML gives them.

The layout mirrors the model::

    {
      "locations": [{"id": "depot", "x": 11.58, "y": 48.14}, ...],
      "orders": [{"id": "o1", "pickup": "depot", "delivery": "c1",
                  "quantity": 1, "ready_time": 0, "due_time": 3600}],
      "vehicles": [{"id": "v1", "start": "depot", "capacity": 4}],
      "travel": {"model": "haversine", "speed": 8.0},
      "options": {"time_limit": 1.0, "backend": "auto", "seed": 0,
                  "weights": {"travel_time": 1, "vehicle": 0}}
    }

``travel`` is ``{"model": "euclidean" | "haversine", "speed": ...}`` or
``{"model": "matrix", "seconds": [[...], ...]}`` over ``locations`` in
order. A field of the wrong type or an unknown field raises
:class:`~engine.errors.InvalidRequestError` with its path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from engine.errors import InvalidRequestError
from engine.model import (
    Location,
    Options,
    Order,
    Plan,
    Request,
    Route,
    SolveStats,
    Stop,
    StopKind,
    Unassigned,
    UnassignedReason,
    Vehicle,
    Weights,
)
from engine.travel import Euclidean, Haversine

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.travel import TravelTimes

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class MatrixTravelTimes:
    """Travel times given outright, over a fixed list of location ids."""

    ids: tuple[str, ...]
    seconds: npt.NDArray[np.float64]

    def __post_init__(self) -> None:
        size = len(self.ids)
        if self.seconds.shape != (size, size):
            raise InvalidRequestError(
                "travel.seconds",
                self.seconds.shape,
                f"must be a {size} x {size} matrix over the locations",
            )
        bad = ~np.isfinite(self.seconds) | (self.seconds < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise InvalidRequestError(
                f"travel.seconds[{i}][{j}]",
                float(self.seconds[i, j]),
                "must be a finite number >= 0",
            )

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        """The given seconds between the named locations."""
        index = {location_id: k for k, location_id in enumerate(self.ids)}
        rows = [index[location.id] for location in origins]
        columns = [index[location.id] for location in destinations]
        return self.seconds[np.ix_(rows, columns)].copy()

    def identity(self) -> str:
        """A digest of the ids and seconds, for request fingerprints.

        Rows and columns are taken in the order of the sorted ids, so the
        same times listed in another order have the same identity.
        """
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        ids = [self.ids[k] for k in order]
        seconds = self.seconds[np.ix_(order, order)].astype("<f8") + 0.0
        digest = hashlib.blake2b(digest_size=16)
        digest.update(json.dumps(ids, ensure_ascii=False).encode())
        digest.update(seconds.tobytes())
        return f"matrix({digest.hexdigest()})"


def _build(cls: type[T], path: str, data: Any) -> T:
    """Build dataclass ``cls`` from a mapping, naming bad fields."""
    if not isinstance(data, dict):
        raise InvalidRequestError(path, data, "must be a mapping")
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise InvalidRequestError(
            f"{path}.{unknown[0]}",
            data[unknown[0]],
            f"is not a field; allowed: {', '.join(sorted(names))}",
        )
    try:
        return cls(**data)
    except TypeError as error:
        raise InvalidRequestError(path, data, str(error)) from None


def _items(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InvalidRequestError(key, value, "must be a list")
    return value


UNBOUNDED_TIMES = frozenset({"due_time", "pickup_due", "shift_end"})
"""Fields where JSON's ``null`` stands for no bound (infinity)."""


def _id_list(path: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidRequestError(path, value, "must be a list of order ids")
    return tuple(value)


def _times(data: Any) -> Any:
    if not isinstance(data, dict):
        return data
    return {
        key: math.inf if value is None and key in UNBOUNDED_TIMES else value
        for key, value in data.items()
    }


def location_from_dict(data: Any, path: str) -> Location:
    """A :class:`~engine.model.Location` from ``{"id", "x", "y"}``;
    errors name the field under ``path``."""
    return _build(Location, path, data)


def order_from_dict(data: Any, path: str) -> Order:
    """An :class:`~engine.model.Order` from its fields, ``null`` due
    times standing for no bound; errors name the field under ``path``."""
    return _build(Order, path, _times(data))


def travel_from_dict(data: Any, locations: Sequence[Location]) -> TravelTimes:
    """The travel-time model a request's ``travel`` field names."""
    if not isinstance(data, dict):
        raise InvalidRequestError("travel", data, "must be a mapping")
    model = data.get("model")
    rest = {key: value for key, value in data.items() if key != "model"}
    if model == "euclidean":
        return _build(Euclidean, "travel", rest)
    if model == "haversine":
        return _build(Haversine, "travel", rest)
    if model == "matrix":
        unknown = sorted(set(rest) - {"seconds"})
        if unknown:
            raise InvalidRequestError(
                f"travel.{unknown[0]}",
                rest[unknown[0]],
                "is not a field; allowed: seconds",
            )
        try:
            seconds = np.asarray(rest.get("seconds"), dtype=float)
        except (TypeError, ValueError):
            raise InvalidRequestError(
                "travel.seconds",
                rest.get("seconds"),
                "must be a square list of lists of numbers",
            ) from None
        return MatrixTravelTimes(
            tuple(location.id for location in locations), seconds
        )
    raise InvalidRequestError(
        "travel.model", model, "must be euclidean, haversine or matrix"
    )


def request_from_dict(data: Any) -> Request:
    """Build and validate a :class:`~engine.model.Request`."""
    if not isinstance(data, dict):
        raise InvalidRequestError("request", data, "must be a mapping")
    allowed = {"locations", "orders", "vehicles", "travel", "options"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidRequestError(
            unknown[0], data[unknown[0]], f"allowed: {', '.join(allowed)}"
        )
    locations = [
        location_from_dict(item, f"locations[{k}]")
        for k, item in enumerate(_items(data, "locations"))
    ]
    orders = [
        order_from_dict(item, f"orders[{k}]")
        for k, item in enumerate(_items(data, "orders"))
    ]
    vehicles = []
    for k, item in enumerate(_items(data, "vehicles")):
        fields = _times(item)
        for bound in ("onboard", "committed"):
            if isinstance(fields, dict) and bound in fields:
                fields[bound] = _id_list(
                    f"vehicles[{k}].{bound}", fields[bound]
                )
        vehicles.append(_build(Vehicle, f"vehicles[{k}]", fields))
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidRequestError("options", options, "must be a mapping")
    options = dict(options)
    if "weights" in options:
        options["weights"] = _build(
            Weights, "options.weights", options["weights"]
        )
    return Request(
        locations=tuple(locations),
        orders=tuple(orders),
        vehicles=tuple(vehicles),
        travel=travel_from_dict(
            data.get("travel", {"model": "haversine"}), locations
        ),
        options=_build(Options, "options", options),
    )


STOP_KINDS = {kind.value: kind for kind in StopKind}
"""Stop kinds by value: a plain look-up, several times faster than the
enum's own call on the cached-plan path."""


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Rebuild a :class:`~engine.model.Plan` from :meth:`Plan.to_dict`."""
    routes = tuple(
        Route(
            vehicle_id=route["vehicle_id"],
            stops=tuple(
                Stop(
                    order_id=stop["order_id"],
                    kind=STOP_KINDS[stop["kind"]],
                    location_id=stop["location_id"],
                    arrival=stop["arrival"],
                    start=stop["start"],
                    departure=stop["departure"],
                    load=stop["load"],
                    late=stop["late"],
                )
                for stop in route["stops"]
            ),
            travel_time=route["travel_time"],
            end_time=route["end_time"],
        )
        for route in data["routes"]
    )
    unassigned = tuple(
        Unassigned(item["order_id"], UnassignedReason(item["reason"]))
        for item in data["unassigned"]
    )
    return Plan(routes, unassigned, data["cost"], SolveStats(**data["stats"]))


def request_to_dict(request: Request) -> dict[str, Any]:
    """A JSON-ready view of ``request``, as :func:`request_from_dict`
    reads it; unbounded times are ``null``.

    .. note::
       A travel model with no plain-data form (a road network, or the
       simulator's timed network) is written as its type name and
       :meth:`~engine.travel.TravelTimes.identity`, which
       :func:`request_from_dict` does not read back.
    """
    options = request.options
    return {
        "locations": [
            {"id": location.id, "x": location.x, "y": location.y}
            for location in request.locations
        ],
        "orders": [_plain(order) for order in request.orders],
        "vehicles": [_plain(vehicle) for vehicle in request.vehicles],
        "travel": _travel_to_dict(request),
        "options": {
            "weights": _plain(options.weights),
            "time_limit": options.time_limit,
            "work_limit": options.work_limit,
            "seed": options.seed,
            "backend": options.backend.value,
        },
    }


def _plain(item: Any) -> dict[str, Any]:
    """A model dataclass's fields, one level deep: tuples as lists,
    unbounded times as None."""
    fields: dict[str, Any] = {}
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if isinstance(value, tuple):
            value = list(value)
        elif field.name in UNBOUNDED_TIMES and value == math.inf:
            value = None
        fields[field.name] = value
    return fields


def _travel_to_dict(request: Request) -> dict[str, Any]:
    travel = request.travel
    if isinstance(travel, Euclidean | Haversine):
        model = "euclidean" if isinstance(travel, Euclidean) else "haversine"
        return {"model": model, "speed": travel.speed}
    if isinstance(travel, MatrixTravelTimes):
        seconds = travel.matrix(request.locations, request.locations)
        return {"model": "matrix", "seconds": seconds.tolist()}
    return {"model": type(travel).__name__, "identity": travel.identity()}
