"""Request fingerprints: the same for every listing of a request, and
different whenever the canonical request, and so the answer, differs."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.cache import canonical, fingerprint
from engine.cache.fingerprint import FINGERPRINT_VERSION, _plain
from engine.codec import MatrixTravelTimes
from engine.errors import InvalidRequestError
from engine.model import (
    Backend,
    Location,
    Options,
    Order,
    Request,
    Vehicle,
    Weights,
)
from engine.solvers import solve
from engine.travel import Euclidean, Haversine, RoadNetwork

if TYPE_CHECKING:
    from collections.abc import Callable

PRECISION = 5

SETTINGS = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    """Small requests on a grid of a thousandth, with time windows,
    orders on board or committed, and varied options and speeds."""
    grid = st.integers(-50_000, 50_000).map(lambda n: n / 1000)
    locations = tuple(
        Location(f"l{k}", draw(grid), draw(grid))
        for k in range(draw(st.integers(2, 5)))
    )
    place = st.sampled_from([location.id for location in locations])

    orders = []
    for k in range(draw(st.integers(0, 5))):
        ready = draw(st.integers(0, 100))
        orders.append(
            Order(
                id=f"o{k}",
                pickup=draw(place),
                delivery=draw(place),
                quantity=draw(st.integers(1, 3)),
                ready_time=ready,
                due_time=ready + draw(st.sampled_from([50, 500, math.inf])),
                delivery_service=draw(st.sampled_from([0, 5])),
            )
        )

    vehicles = []
    free = [order.id for order in orders]
    for k in range(draw(st.integers(1, 3))):
        bound = free[:2] if draw(st.booleans()) else []
        del free[: len(bound)]
        split = draw(st.integers(0, len(bound)))
        vehicles.append(
            Vehicle(
                id=f"v{k}",
                start=draw(place),
                end=draw(st.one_of(st.none(), place)),
                capacity=draw(st.integers(6, 9)),
                shift_end=draw(st.sampled_from([900, math.inf])),
                onboard=tuple(bound[:split]),
                committed=tuple(bound[split:]),
            )
        )

    options = Options(
        weights=Weights(vehicle=draw(st.sampled_from([0.0, 100.0]))),
        time_limit=draw(st.sampled_from([0.5, 1.0])),
        work_limit=draw(st.sampled_from([None, 30])),
        seed=draw(st.integers(0, 2)),
        backend=draw(st.sampled_from([Backend.AUTO, Backend.HEURISTIC])),
    )
    return Request(
        locations=locations,
        orders=tuple(orders),
        vehicles=tuple(vehicles),
        travel=Euclidean(speed=draw(st.sampled_from([1.0, 2.0]))),
        options=options,
    )


def permute(draw: st.DrawFn, request: Request) -> Request:
    """``request`` with locations, orders, vehicles and each vehicle's
    bound orders listed in another order."""
    vehicles = [
        dataclasses.replace(
            vehicle,
            onboard=tuple(draw(st.permutations(vehicle.onboard))),
            committed=tuple(draw(st.permutations(vehicle.committed))),
        )
        for vehicle in request.vehicles
    ]
    return dataclasses.replace(
        request,
        locations=tuple(draw(st.permutations(request.locations))),
        orders=tuple(draw(st.permutations(request.orders))),
        vehicles=tuple(draw(st.permutations(vehicles))),
    )


def _first_order(request: Request, **changes: Any) -> Request:
    order = dataclasses.replace(request.orders[0], **changes)
    return dataclasses.replace(request, orders=(order, *request.orders[1:]))


def _first_vehicle(request: Request, **changes: Any) -> Request:
    vehicle = dataclasses.replace(request.vehicles[0], **changes)
    return dataclasses.replace(
        request, vehicles=(vehicle, *request.vehicles[1:])
    )


def _options(request: Request, **changes: Any) -> Request:
    options = dataclasses.replace(request.options, **changes)
    return dataclasses.replace(request, options=options)


def _later_due(request: Request) -> Request | None:
    if not request.orders:
        return None
    due = request.orders[0].due_time
    return _first_order(
        request,
        due_time=request.orders[0].ready_time + 7
        if math.isinf(due)
        else due + 1,
    )


def _moved(request: Request) -> Request:
    # One unit of the last decimal kept: beyond the precision.
    first = request.locations[0]
    moved = Location(first.id, first.x + 10.0**-PRECISION, first.y)
    return dataclasses.replace(
        request, locations=(moved, *request.locations[1:])
    )


def _other_backend(request: Request) -> Request:
    backend = request.options.backend
    changed = (
        Backend.PYVRP if backend is Backend.HEURISTIC else Backend.HEURISTIC
    )
    return _options(request, backend=changed)


def _faster(travel: object) -> Euclidean:
    """The requests drawn here travel at Euclidean speeds; 1.5 times as
    fast."""
    assert isinstance(travel, Euclidean)
    return Euclidean(speed=travel.speed * 1.5)


CHANGES: dict[str, Callable[[Request], Request | None]] = {
    "due time": _later_due,
    "quantity": lambda r: (
        _first_order(r, quantity=r.orders[0].quantity + 1)
        if r.orders
        else None
    ),
    "capacity": lambda r: _first_vehicle(
        r, capacity=r.vehicles[0].capacity + 1
    ),
    "shift end": lambda r: _first_vehicle(r, shift_end=12_345.0),
    "vehicle end": lambda r: _first_vehicle(
        r, end=None if r.vehicles[0].end else r.locations[0].id
    ),
    "coordinate": _moved,
    "seed": lambda r: _options(r, seed=r.options.seed + 1),
    "time limit": lambda r: _options(r, time_limit=r.options.time_limit * 2),
    "work limit": lambda r: _options(
        r, work_limit=7 if r.options.work_limit is None else None
    ),
    "backend": _other_backend,
    "weights": lambda r: _options(
        r, weights=Weights(travel_time=r.options.weights.travel_time + 1)
    ),
    "speed": lambda r: dataclasses.replace(r, travel=_faster(r.travel)),
    "travel model": lambda r: dataclasses.replace(r, travel=Haversine(8.0)),
}


def canonical_form(request: Request) -> tuple[Any, ...]:
    """What canonical equality means: every field of the canonical
    request, the travel model by its identity."""
    form = canonical(request, PRECISION)
    return (
        form.locations,
        form.orders,
        form.vehicles,
        form.options,
        form.travel.identity(),
    )


@SETTINGS
@given(st.data())
def test_listing_order_does_not_change_the_fingerprint(
    data: st.DataObject,
) -> None:
    """Listing locations, orders, vehicles or bound orders in another
    order gives the same canonical request and the same fingerprint."""
    request = data.draw(requests())
    shuffled = permute(data.draw, request)
    assert canonical(shuffled, PRECISION) == canonical(request, PRECISION)
    assert fingerprint(shuffled, PRECISION) == fingerprint(request, PRECISION)


@SETTINGS
@given(st.data(), st.sampled_from(sorted(CHANGES)))
def test_every_change_to_the_answer_changes_the_fingerprint(
    data: st.DataObject, change: str
) -> None:
    """A due time, quantity, capacity, shift, route end, a coordinate
    beyond the precision, seed, time or work limit, backend, weights,
    speed or travel model changed: another fingerprint, also when the
    changed request is listed in another order."""
    request = data.draw(requests())
    changed = CHANGES[change](request)
    if changed is None:
        return
    shuffled = permute(data.draw, changed)
    assert fingerprint(shuffled, PRECISION) != fingerprint(request, PRECISION)


@SETTINGS
@given(st.data())
def test_same_fingerprint_iff_same_canonical_request(
    data: st.DataObject,
) -> None:
    """For a request and another that is it, or it changed in one field,
    in any listing order: the fingerprints are equal exactly when the
    canonical requests are."""
    first = data.draw(requests())
    change = data.draw(st.sampled_from([None, *sorted(CHANGES)]))
    second = first if change is None else CHANGES[change](first) or first
    second = permute(data.draw, second)

    same_form = canonical_form(first) == canonical_form(second)
    same_print = fingerprint(first, PRECISION) == fingerprint(
        second, PRECISION
    )
    assert same_print == same_form


@SETTINGS
@given(requests(), st.integers(-4, 4))
def test_fingerprint_is_that_of_the_canonical_request(
    request: Request, nudge: int
) -> None:
    """The fingerprint read off a request without building its canonical
    form equals the canonical form's own, coordinates off the precision
    grid included."""
    delta = nudge * 10.0 ** -(PRECISION + 1)
    off_grid = dataclasses.replace(
        request,
        locations=tuple(
            Location(location.id, location.x + delta, -location.y)
            for location in request.locations
        ),
    )
    form = canonical(off_grid, PRECISION)
    assert fingerprint(off_grid, PRECISION) == fingerprint(form, PRECISION)


@SETTINGS
@given(requests(), st.integers(-4, 4))
def test_coordinates_within_the_precision_share_a_fingerprint(
    request: Request, nudge: int
) -> None:
    """Moving every location by less than half the last decimal kept
    leaves the canonical request and the fingerprint as they were."""
    delta = nudge * 10.0 ** -(PRECISION + 1)
    nudged = dataclasses.replace(
        request,
        locations=tuple(
            Location(location.id, location.x + delta, location.y - delta)
            for location in request.locations
        ),
    )
    assert canonical(nudged, PRECISION) == canonical(request, PRECISION)
    assert fingerprint(nudged, PRECISION) == fingerprint(request, PRECISION)


def whole_document_digest(request: Request, precision: int) -> str:
    """The fingerprint as the digest of its whole document, encoded in
    one go from the canonical request."""
    form = canonical(request, precision)
    document = {
        "version": FINGERPRINT_VERSION,
        "locations": [_plain(location) for location in form.locations],
        "orders": [_plain(order) for order in form.orders],
        "vehicles": [_plain(vehicle) for vehicle in form.vehicles],
        "travel": form.travel.identity(),
        "options": _plain(form.options),
    }
    text = json.dumps(document, separators=(",", ":"))
    digest = hashlib.blake2b(text.encode(), digest_size=16, person=b"barq")
    return digest.hexdigest()


@SETTINGS
@given(st.data(), st.integers(0, 6))
def test_remembered_pieces_give_the_whole_document_digest(
    data: st.DataObject, precision: int
) -> None:
    """The fingerprint, written from the remembered text of each
    location, order and vehicle, equals the digest of the whole
    canonical document encoded at once: at two precisions in turn, for
    requests seen before and for equal ones built anew, with whole
    numbers given as floats."""
    request = data.draw(requests())
    rebuilt = dataclasses.replace(
        permute(data.draw, request),
        locations=tuple(
            Location(location.id, float(location.x), float(location.y))
            for location in request.locations
        ),
        orders=tuple(
            dataclasses.replace(order, ready_time=float(order.ready_time))
            for order in request.orders
        ),
    )
    for listing, decimals in itertools.product(
        (request, rebuilt, request), (precision, precision + 2)
    ):
        assert fingerprint(listing, decimals) == whole_document_digest(
            listing, decimals
        )


@settings(derandomize=True, max_examples=40, deadline=None)
@given(st.data())
def test_permutations_solve_to_the_same_plan(data: st.DataObject) -> None:
    """The heuristic backend, given the canonical form of two listings
    of one request, returns the same plan (but for its wall time)."""
    request = _options(data.draw(requests()), backend=Backend.HEURISTIC)
    shuffled = permute(data.draw, request)

    plans = [
        solve(canonical(listing, PRECISION)).to_dict()
        for listing in (request, shuffled)
    ]
    for plan in plans:
        plan["stats"].pop("wall_s")
    assert plans[0] == plans[1]


def small_request(**options: Any) -> Request:
    return Request(
        locations=(Location("b", 1.234567, 2.0), Location("a", -0.0, 0)),
        orders=(
            Order("o2", "a", "b", due_time=100),
            Order("o1", "b", "a"),
        ),
        vehicles=(Vehicle("v1", "a", 2, onboard=("o2", "o1")),),
        travel=Euclidean(),
        options=Options(**options),
    )


def test_canonical_sorts_and_rounds() -> None:
    """The canonical request lists everything by id, rounds coordinates
    to the precision (without a negative zero) and keeps the rest."""
    request = small_request(seed=3)
    form = canonical(request, 2)
    assert form.locations == (
        Location("a", 0.0, 0.0),
        Location("b", 1.23, 2.0),
    )
    assert math.copysign(1.0, form.locations[0].x) == 1.0
    assert [order.id for order in form.orders] == ["o1", "o2"]
    assert form.vehicles[0].onboard == ("o1", "o2")
    assert form.options == request.options
    assert form.travel is request.travel


def test_canonical_request_is_its_own_canonical_form() -> None:
    """Canonical is idempotent: a canonical request comes back as the
    same object, with the same fingerprint."""
    form = canonical(small_request(), PRECISION)
    assert canonical(form, PRECISION) is form
    assert fingerprint(form, PRECISION) == fingerprint(
        small_request(), PRECISION
    )


def test_fingerprint_is_a_stable_hex_digest() -> None:
    """A fingerprint is 32 hex digits, the same for whole numbers given
    as integers or as floats."""
    key = fingerprint(small_request(), PRECISION)
    assert len(key) == 32
    int(key, 16)
    as_float = dataclasses.replace(
        small_request(),
        orders=(
            Order("o2", "a", "b", due_time=100.0, ready_time=0.0),
            Order("o1", "b", "a"),
        ),
    )
    assert fingerprint(as_float, PRECISION) == key


def test_precision_must_be_a_whole_number_of_decimals() -> None:
    """A negative or fractional precision is refused."""
    for precision in (-1, 2.5, True):
        with pytest.raises(InvalidRequestError):
            fingerprint(small_request(), precision)  # type: ignore[arg-type]


def test_geometric_identity_names_model_and_speed() -> None:
    """Geometric models are identified by kind and speed; an integer
    speed reads as the equal float."""
    assert Euclidean(1).identity() == Euclidean(1.0).identity()
    identities = {
        Euclidean(1.0).identity(),
        Euclidean(2.0).identity(),
        Haversine(1.0).identity(),
        Haversine(8.0).identity(),
    }
    assert len(identities) == 4


def test_matrix_identity_ignores_listing_order() -> None:
    """A matrix of travel times has the same identity whatever order its
    locations are listed in, and another when one time differs."""
    seconds = np.array([[0.0, 5.0, 7.0], [4.0, 0.0, 2.0], [9.0, 1.0, 0.0]])
    matrix = MatrixTravelTimes(("a", "b", "c"), seconds)
    order = [2, 0, 1]
    listed = MatrixTravelTimes(("c", "a", "b"), seconds[np.ix_(order, order)])
    assert listed.identity() == matrix.identity()

    changed = seconds.copy()
    changed[1, 2] = 3.0
    assert MatrixTravelTimes(("a", "b", "c"), changed).identity() != (
        matrix.identity()
    )


def network(seconds: float = 10.0) -> RoadNetwork:
    return RoadNetwork(
        node_ids=[1, 2, 3],
        xs=[0.0, 100.0, 0.0],
        ys=[0.0, 0.0, 100.0],
        edge_from=[1, 2, 3, 1],
        edge_to=[2, 3, 1, 3],
        length=[100.0, 141.0, 100.0, 100.0],
        travel_time=[seconds, 14.0, 10.0, 10.0],
        geographic=False,
    )


def test_network_identity_digests_nodes_and_edges() -> None:
    """Two networks built from the same data share an identity; one
    edge time changed gives another."""
    assert network().identity() == network().identity()
    assert network(11.0).identity() != network().identity()
    assert network().identity().startswith("road-network(")


def test_matrix_travel_enters_the_fingerprint() -> None:
    """Requests that differ only in a given travel time get different
    fingerprints."""
    base = small_request()
    ids = ("a", "b")
    fast = MatrixTravelTimes(ids, np.array([[0.0, 5.0], [5.0, 0.0]]))
    slow = MatrixTravelTimes(ids, np.array([[0.0, 6.0], [5.0, 0.0]]))
    first = dataclasses.replace(base, travel=fast)
    second = dataclasses.replace(base, travel=slow)
    assert fingerprint(first, PRECISION) != fingerprint(second, PRECISION)
