"""Request fingerprints: one key for every request with the same answer.

The service solves a request in its canonical form (:func:`canonical`):
locations, orders and vehicles sorted by id, coordinates rounded to a
fixed number of decimals. Its answer therefore depends on the canonical
form alone, and :func:`fingerprint` digests exactly that form: every
field of every location, order and vehicle, the travel model's identity,
and every option (weights, time and work limits, seed, backend).

Two requests have the same fingerprint when their canonical forms are
equal, and, but for a collision of the 128-bit digest, only then.

.. note::
   Requests that differ only where the answer does not depend on them
   may still get different fingerprints, and cost a miss: a location no
   order uses, or a time limit that a work limit overrides.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import json
import math
import operator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidRequestError
from engine.model import Location, Request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.model import Order, Vehicle

FINGERPRINT_VERSION = 2
"""Part of every digest; raised whenever the encoding below changes."""


def canonical(request: Request, precision: int) -> Request:
    """``request`` as the service solves it.

    Locations, orders and vehicles are sorted by id, and so are the
    orders each vehicle has on board or committed; coordinates are
    rounded to ``precision`` decimals. Everything else is kept.
    """
    _check_precision(precision)
    locations = tuple(
        sorted(
            (
                rounded_location(location, precision)
                for location in request.locations
            ),
            key=_by_id,
        )
    )
    orders, vehicles = _sorted_orders_and_vehicles(request)
    if (
        locations == request.locations
        and orders == request.orders
        and vehicles == request.vehicles
    ):
        return request
    return Request(
        locations=locations,
        orders=orders,
        vehicles=vehicles,
        travel=request.travel,
        options=request.options,
    )


def fingerprint(request: Request, precision: int) -> str:
    """A hex digest of :func:`canonical` of ``request``: 32 characters.

    The digest is read off ``request`` directly, rounding coordinates as
    it goes, without building the canonical request: a cache hit needs
    only the key, and the canonical form is built on a miss alone.

    The JSON text digested is written piece by piece, and the text of
    each location, order and vehicle is remembered (the last
    :data:`REMEMBERED` of each kind): a dispatcher asks about the same
    orders and places epoch after epoch, and a busy driver's vehicle
    often stays as it was, so most are encoded once. The text is that of
    the whole document encoded in one go.

    .. note:: Texts are remembered by value, not by identity: an equal
       location, order or vehicle built anew finds the text, which is
       right because equal values are written the same (see
       :func:`_plain`). Each remembered text keeps its value alive.
    """
    _check_precision(precision)
    orders, vehicles = _sorted_orders_and_vehicles(request)
    locations = sorted(request.locations, key=_by_id)
    # The text is only digested, never read back, so an unbounded time
    # may be spelled Infinity.
    text = "".join(
        (
            '{"version":',
            _json(FINGERPRINT_VERSION),
            ',"locations":',
            _array(
                _location_json(location, precision) for location in locations
            ),
            ',"orders":',
            _array(map(_order_json, orders)),
            ',"vehicles":',
            _array(map(_vehicle_json, vehicles)),
            ',"travel":',
            _json(request.travel.identity()),
            ',"options":',
            _json(_plain(request.options)),
            "}",
        )
    )
    digest = hashlib.blake2b(text.encode(), digest_size=16, person=b"barq")
    return digest.hexdigest()


REMEMBERED = 4096
"""How many locations, orders and vehicles (of each kind) keep their
JSON text for :func:`fingerprint`."""

_json = functools.partial(json.dumps, separators=(",", ":"))


def _array(texts: Iterable[str]) -> str:
    """The JSON array of the JSON texts ``texts``."""
    return "[" + ",".join(texts) + "]"


@functools.lru_cache(maxsize=REMEMBERED)
def _location_json(location: Location, precision: int) -> str:
    return _json(_plain_rounded(location, precision))


@functools.lru_cache(maxsize=REMEMBERED)
def _order_json(order: Order) -> str:
    return _json(_plain(order))


@functools.lru_cache(maxsize=REMEMBERED)
def _vehicle_json(vehicle: Vehicle) -> str:
    return _json(_plain(vehicle))


def _check_precision(precision: int) -> None:
    if (
        isinstance(precision, bool)
        or not isinstance(precision, int)
        or precision < 0
    ):
        raise InvalidRequestError(
            "precision", precision, "must be an integer >= 0"
        )


def _by_id(item: Location | Order | Vehicle) -> str:
    return item.id


def _sorted_orders_and_vehicles(
    request: Request,
) -> tuple[tuple[Order, ...], tuple[Vehicle, ...]]:
    orders = tuple(sorted(request.orders, key=_by_id))
    vehicles = tuple(
        sorted(
            (_sorted_bound(vehicle) for vehicle in request.vehicles),
            key=_by_id,
        )
    )
    return orders, vehicles


COORDINATES = frozenset({"x", "y"})
"""The fields of a :class:`Location` that are rounded."""


def _plain_rounded(location: Location, precision: int) -> list[Any]:
    """:func:`_plain` of :func:`rounded_location` of ``location``, without
    building the rounded location."""
    return [
        _plain(_round(value, precision) if rounded else value)
        for rounded, value in zip(
            _ROUNDED, _values(Location)(location), strict=True
        )
    ]


def rounded_location(location: Location, precision: int) -> Location:
    """``location`` with its coordinates as :func:`canonical` rounds
    them; the location itself where they are so already.

    A client that sends locations rounded this way spares the service
    a copy of its request.
    """
    x = _round(location.x, precision)
    y = _round(location.y, precision)
    if _same(x, location.x) and _same(y, location.y):
        return location
    return Location(location.id, x, y)


def _same(rounded: float, value: float) -> bool:
    # A negative zero equals zero, but is not canonical.
    return rounded == value and (value != 0 or math.copysign(1.0, value) > 0)


def _sorted_bound(vehicle: Vehicle) -> Vehicle:
    onboard = tuple(sorted(vehicle.onboard))
    committed = tuple(sorted(vehicle.committed))
    if onboard == vehicle.onboard and committed == vehicle.committed:
        return vehicle
    return replace(vehicle, onboard=onboard, committed=committed)


def _round(coordinate: float, precision: int) -> float:
    # Adding zero turns a negative zero into zero.
    return round(float(coordinate), precision) + 0.0


_SCALARS = frozenset({str, int, bool, type(None)})


@functools.cache
def _names(kind: Any) -> tuple[str, ...]:
    if not dataclasses.is_dataclass(kind):
        raise TypeError(f"cannot fingerprint a {kind.__name__}")
    return tuple(field.name for field in dataclasses.fields(kind))


@functools.cache
def _values(kind: Any) -> Callable[[Any], tuple[Any, ...]]:
    """A function giving a dataclass's field values in declared order,
    read in one C call (``operator.attrgetter``)."""
    names = _names(kind)
    if len(names) == 1:
        (name,) = names
        return lambda value: (getattr(value, name),)
    return operator.attrgetter(*names)


_ROUNDED = tuple(name in COORDINATES for name in _names(Location))
"""For each field of a :class:`Location`, whether it is rounded."""


def _plain(value: Any) -> Any:
    """``value`` as JSON data in which equal values read the same.

    A number that is a whole number is written as an integer, so that
    ``0`` and ``0.0``, which the model treats as equal, cannot give two
    fingerprints; other floats are written exactly (``repr``). A
    dataclass is the list of its fields in declared order.
    """
    kind: Any = type(value)
    if kind is float:
        # Infinity and NaN are not whole numbers.
        return int(value) if value.is_integer() else value
    if kind in _SCALARS:
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float):
        return int(value) if value.is_integer() else float(value)
    items = value if kind is tuple or kind is list else _values(kind)(value)
    # Strings, integers, booleans and None are most fields, and are
    # taken as they are without a call.
    return [item if type(item) in _SCALARS else _plain(item) for item in items]
