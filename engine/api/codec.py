"""The API's bodies: requests and questions from JSON, answers to JSON.

An optimize body is the request of :mod:`engine.codec` with an optional
top-level ``"async": true``. An assignment question reads::

    {
      "orders": [{"id": "o1", "pickup": "m1", "delivery": "c1"}],
      "locations": [{"id": "m1", "x": 0, "y": 0}, ...],
      "candidates": [
        {"driver_id": "d1", "location": "m1", "available_at": 0,
         "free_capacity": 3, "shift_end": null},
        {"driver_id": "d2", "location": {"x": 4.5, "y": 1.0},
         "available_at": 60, "free_capacity": 1}
      ],
      "now": 0,
      "travel": {"model": "euclidean", "speed": 10}
    }

A candidate's ``location`` names a location of the question by id, or
gives coordinates where the driver is; ``shift_end`` is optional and
``null`` for no bound. ``travel`` is as in a request (haversine by
default); with a ``matrix``, whose rows are the question's locations in
order, every candidate must name a location by id.

:func:`question_to_dict` and :func:`optimize_to_dict` write bodies that
the readers here accept, for load tests and other clients;
:func:`~engine.codec.request_to_dict`, exported here too, writes the
same body for a request whose travel is euclidean, haversine or a
matrix.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from engine.advisor import AssignmentQuestion, Candidate
from engine.codec import (
    UNBOUNDED_TIMES,
    MatrixTravelTimes,
    location_from_dict,
    order_from_dict,
    request_from_dict,
    request_to_dict,
    travel_from_dict,
)
from engine.errors import InvalidRequestError
from engine.model import Options
from engine.travel import Euclidean, Haversine

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from engine.advisor import Advice
    from engine.api.config import ApiConfig
    from engine.model import Location, Order, Request
    from engine.service import Eta, Optimized
    from engine.travel import TravelTimes

CANDIDATE_FIELDS = (
    "driver_id",
    "location",
    "available_at",
    "free_capacity",
    "shift_end",
)
"""The fields of a candidate; all but ``shift_end`` are required."""

QUESTION_FIELDS = ("orders", "locations", "candidates", "now", "travel")
"""The fields of an assignment question; ``travel`` is optional."""

__all__ = [
    "CANDIDATE_FIELDS",
    "DEFAULT_TRAVEL",
    "QUESTION_FIELDS",
    "advice_to_dict",
    "default_time_limit",
    "eta_to_dict",
    "optimize_from_dict",
    "optimize_to_dict",
    "optimized_to_dict",
    "position_from_dict",
    "question_from_dict",
    "question_to_dict",
    "request_to_dict",
    "travel_to_dict",
]

DEFAULT_TRAVEL: dict[str, Any] = {"model": "haversine"}
"""The travel model of a body that names none."""


def optimize_from_dict(data: Any, config: ApiConfig) -> tuple[Request, bool]:
    """The request of an optimize body, and whether it asks to run as a
    job (``"async": true``).

    Beyond the model's rules, the request must keep the service's
    bounds: at most ``max_locations`` locations, a ``time_limit`` of at
    most ``max_time_limit_s`` and a ``work_limit`` of at most
    ``max_work_limit``. A request that gives no ``time_limit`` gets the
    model's default or the service's bound, whichever is shorter.
    """
    if not isinstance(data, dict):
        raise InvalidRequestError("request", data, "must be a mapping")
    fields = dict(data)
    wants_async = fields.pop("async", False)
    if not isinstance(wants_async, bool):
        raise InvalidRequestError("async", wants_async, "must be a boolean")
    _bounded_list(fields, "locations", config.max_locations)
    options = fields.get("options")
    if options is None or (
        isinstance(options, dict) and "time_limit" not in options
    ):
        fields["options"] = {
            **(options or {}),
            "time_limit": default_time_limit(config),
        }

    request = request_from_dict(fields)
    options = request.options
    if options.time_limit > config.max_time_limit_s:
        raise InvalidRequestError(
            "options.time_limit",
            options.time_limit,
            f"must be <= {config.max_time_limit_s:g} s on this service",
        )
    if options.work_limit is not None and (
        options.work_limit > config.max_work_limit
    ):
        raise InvalidRequestError(
            "options.work_limit",
            options.work_limit,
            f"must be <= {config.max_work_limit} on this service",
        )
    return request, wants_async


def default_time_limit(config: ApiConfig) -> float:
    """The search time of a request that names none: the model's
    default, or the service's bound if that is shorter."""
    return min(Options().time_limit, config.max_time_limit_s)


def _bounded_list(data: dict[str, Any], key: str, most: int) -> None:
    items = data.get(key, [])
    if isinstance(items, list) and len(items) > most:
        raise InvalidRequestError(
            key, len(items), f"must hold at most {most} items"
        )


def optimized_to_dict(answer: Optimized) -> dict[str, Any]:
    """The body of an optimize answer."""
    return {
        "fingerprint": answer.fingerprint,
        "cache": answer.cache.value,
        "plan": answer.plan.to_dict(),
        "etas": dict(answer.etas),
        "stages": dict(answer.stages),
    }


def eta_to_dict(eta: Eta) -> dict[str, Any]:
    """The body of a delivery estimate."""
    return {
        "order_id": eta.order_id,
        "vehicle_id": eta.vehicle_id,
        "delivery_s": eta.delivery_s,
        "planned_at": eta.planned_at,
    }


def position_from_dict(driver_id: str, data: Any) -> Location:
    """A driver's reported position, ``{"x": ..., "y": ...}``, as a
    location named after the driver."""
    if not isinstance(data, dict):
        raise InvalidRequestError("location", data, "must be a mapping")
    _known(data, "", ("x", "y"))
    try:
        return location_from_dict({"id": driver_id, **data}, "location")
    except InvalidRequestError as error:
        # The body holds the coordinates alone: name them as such.
        field = error.field.rsplit(".", 1)[-1]
        raise InvalidRequestError(field, error.value, error.rule) from None


def question_from_dict(data: Any) -> tuple[AssignmentQuestion, TravelTimes]:
    """The question of an advice body, and its travel-time model."""
    if not isinstance(data, dict):
        raise InvalidRequestError("question", data, "must be a mapping")
    _known(data, "", QUESTION_FIELDS)
    locations = tuple(
        location_from_dict(item, f"locations[{k}]")
        for k, item in enumerate(_list(data, "locations"))
    )
    orders = tuple(
        order_from_dict(item, f"orders[{k}]")
        for k, item in enumerate(_list(data, "orders"))
    )
    travel = travel_from_dict(data.get("travel", DEFAULT_TRAVEL), locations)
    by_id = {location.id: location for location in locations}
    candidates = tuple(
        _candidate(item, f"candidates[{k}]", by_id, travel)
        for k, item in enumerate(_list(data, "candidates"))
    )
    if "now" not in data:
        raise InvalidRequestError("now", None, "is required")
    try:
        question = AssignmentQuestion(
            orders, locations, candidates, data["now"]
        )
    except InvalidRequestError as error:
        # The body is the question: its fields are at the top level.
        field = error.field.removeprefix("question.")
        raise InvalidRequestError(field, error.value, error.rule) from None
    return question, travel


def _candidate(
    data: Any,
    path: str,
    locations: Mapping[str, Location],
    travel: TravelTimes,
) -> Candidate:
    if not isinstance(data, dict):
        raise InvalidRequestError(path, data, "must be a mapping")
    _known(data, f"{path}.", CANDIDATE_FIELDS)
    for name in CANDIDATE_FIELDS[:-1]:
        if name not in data:
            raise InvalidRequestError(f"{path}.{name}", None, "is required")

    where = data["location"]
    location: Location
    if isinstance(where, str) and where in locations:
        location = locations[where]
    elif isinstance(where, str):
        raise InvalidRequestError(
            f"{path}.location", where, "must name a location of the question"
        )
    elif isinstance(travel, MatrixTravelTimes):
        raise InvalidRequestError(
            f"{path}.location",
            where,
            "must name a location of the question by id when travel is a "
            "matrix",
        )
    elif isinstance(where, dict):
        _known(where, f"{path}.location.", ("x", "y"))
        location = location_from_dict(
            {"id": f"{path}.location", **where}, f"{path}.location"
        )
    else:
        raise InvalidRequestError(
            f"{path}.location",
            where,
            'must be a location id or {"x": ..., "y": ...}',
        )

    shift_end = data.get("shift_end")
    try:
        return Candidate(
            driver_id=data["driver_id"],
            location=location,
            available_at=data["available_at"],
            free_capacity=data["free_capacity"],
            shift_end=math.inf if shift_end is None else shift_end,
        )
    except InvalidRequestError as error:
        name = error.field.rsplit(".", 1)[-1]
        raise InvalidRequestError(
            f"{path}.{name}", error.value, error.rule
        ) from None


def _known(data: Mapping[str, Any], path: str, names: Sequence[str]) -> None:
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise InvalidRequestError(
            f"{path}{unknown[0]}",
            data[unknown[0]],
            f"is not a field; allowed: {', '.join(names)}",
        )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise InvalidRequestError(key, value, "must be a list")
    return value


def question_to_dict(
    question: AssignmentQuestion, travel: TravelTimes
) -> dict[str, Any]:
    """The advice body that asks ``question`` under ``travel``.

    A candidate at one of the question's locations is written by that
    location's id, any other by its coordinates. Travel models other
    than the straight-line ones are written as a matrix over the
    question's locations, which then must hold every candidate's.
    """
    known = {location.id: location for location in question.locations}
    candidates = []
    for candidate in question.candidates:
        at = candidate.location
        item: dict[str, Any] = {
            "driver_id": candidate.driver_id,
            "location": (
                at.id if known.get(at.id) == at else {"x": at.x, "y": at.y}
            ),
            "available_at": candidate.available_at,
            "free_capacity": candidate.free_capacity,
        }
        if math.isfinite(candidate.shift_end):
            item["shift_end"] = candidate.shift_end
        candidates.append(item)
    return {
        "orders": [_order(order) for order in question.orders],
        "locations": [_location(place) for place in question.locations],
        "candidates": candidates,
        "now": question.now,
        "travel": travel_to_dict(travel, question.locations),
    }


def optimize_to_dict(
    request: Request, *, wants_async: bool = False
) -> dict[str, Any]:
    """The optimize body of ``request``; travel models without a plain
    form of their own are written as their matrix."""
    body = request_to_dict(request)
    body["travel"] = travel_to_dict(request.travel, request.locations)
    if wants_async:
        body["async"] = True
    return body


def travel_to_dict(
    travel: TravelTimes, locations: Sequence[Location]
) -> dict[str, Any]:
    """``travel`` as a body's ``travel`` field: the straight-line models
    by name and speed, any other as its matrix over ``locations``."""
    if isinstance(travel, Euclidean):
        return {"model": "euclidean", "speed": travel.speed}
    if isinstance(travel, Haversine):
        return {"model": "haversine", "speed": travel.speed}
    seconds = travel.matrix(locations, locations)
    return {"model": "matrix", "seconds": seconds.tolist()}


def advice_to_dict(advice: Advice) -> dict[str, Any]:
    """The body of an advice: per order the chosen driver (or null), how
    the advisor call ended, and whose answer was used."""
    return {
        "assignments": dict(advice.assignments),
        "outcome": advice.outcome.value,
        "source": advice.source,
        "latency_s": advice.latency_s,
    }


def _location(location: Location) -> dict[str, Any]:
    return {"id": location.id, "x": location.x, "y": location.y}


def _order(order: Order) -> dict[str, Any]:
    fields = {}
    for field in dataclasses.fields(order):
        value = getattr(order, field.name)
        unbounded = field.name in UNBOUNDED_TIMES and value == math.inf
        fields[field.name] = None if unbounded else value
    return fields
