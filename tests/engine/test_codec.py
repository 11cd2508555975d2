"""Tests of requests read from plain data (JSON or YAML)."""

from __future__ import annotations

import copy
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine.codec import MatrixTravelTimes, request_from_dict
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
from engine.travel import Euclidean, Haversine

if TYPE_CHECKING:
    from collections.abc import Callable

SECONDS = [[0.0, 5.0, 9.0], [6.0, 0.0, 4.0], [8.0, 3.0, 0.0]]
"""A travel matrix over the three locations of ``DATA``, asymmetric."""

DATA: dict[str, Any] = {
    "locations": [
        {"id": "depot", "x": 0.0, "y": 0.0},
        {"id": "shop", "x": 3.0, "y": 4.0},
        {"id": "home", "x": 6.0, "y": 8.0},
    ],
    "orders": [
        {
            "id": "o1",
            "pickup": "shop",
            "delivery": "home",
            "quantity": 2,
            "ready_time": 60,
            "pickup_due": 600,
            "due_time": 1800,
            "pickup_service": 30,
            "delivery_service": 45,
        },
        {"id": "o2", "pickup": "depot", "delivery": "shop"},
    ],
    "vehicles": [
        {
            "id": "v1",
            "start": "depot",
            "end": "depot",
            "capacity": 4,
            "shift_start": 0,
            "shift_end": 7200,
            "onboard": ["o2"],
        },
        {"id": "v2", "start": "shop", "capacity": 2},
    ],
    "travel": {"model": "euclidean", "speed": 2.0},
    "options": {
        "time_limit": 0.5,
        "work_limit": 100,
        "seed": 7,
        "backend": "ortools",
        "weights": {"travel_time": 1.5, "vehicle": 600, "unassigned": 1e5},
    },
}


def data(change: Callable[[dict[str, Any]], object] | None = None) -> Any:
    """A fresh copy of ``DATA``, changed in place by ``change``."""
    fresh = copy.deepcopy(DATA)
    if change is not None:
        change(fresh)
    return fresh


def invalid(payload: Any) -> InvalidRequestError:
    with pytest.raises(InvalidRequestError) as caught:
        request_from_dict(payload)
    return caught.value


# Building requests


def test_request_from_dict_equals_the_request_built_directly() -> None:
    """Every field of the data lands in the model unchanged."""
    direct = Request(
        locations=(
            Location("depot", 0.0, 0.0),
            Location("shop", 3.0, 4.0),
            Location("home", 6.0, 8.0),
        ),
        orders=(
            Order(
                "o1",
                "shop",
                "home",
                quantity=2,
                ready_time=60,
                pickup_due=600,
                due_time=1800,
                pickup_service=30,
                delivery_service=45,
            ),
            Order("o2", "depot", "shop"),
        ),
        vehicles=(
            Vehicle(
                "v1",
                "depot",
                4,
                end="depot",
                shift_end=7200,
                onboard=("o2",),
            ),
            Vehicle("v2", "shop", 2),
        ),
        travel=Euclidean(speed=2.0),
        options=Options(
            weights=Weights(travel_time=1.5, vehicle=600, unassigned=1e5),
            time_limit=0.5,
            work_limit=100,
            seed=7,
            backend=Backend.ORTOOLS,
        ),
    )

    assert request_from_dict(data()) == direct


def test_request_from_json_text_matches_the_dict() -> None:
    """Data that went through JSON gives the same request."""
    text = json.dumps(DATA)

    assert request_from_dict(json.loads(text)) == request_from_dict(data())


def test_request_from_dict_leaves_its_input_alone() -> None:
    """Reading a request does not change the caller's data."""
    payload = data(lambda d: d["orders"][1].update(due_time=None))
    before = copy.deepcopy(payload)

    request_from_dict(payload)

    assert payload == before


def test_omitted_parts_take_their_defaults() -> None:
    """Without options or vehicles the request gets empty defaults, and
    without travel the haversine model."""
    request = request_from_dict({"locations": DATA["locations"][:1]})

    assert request.orders == ()
    assert request.vehicles == ()
    assert request.options == Options()
    assert request.travel == Haversine()


def test_null_times_mean_no_bound() -> None:
    """``null`` due times and shift end are infinite."""

    def unbind(d: dict[str, Any]) -> None:
        d["orders"][0].update(due_time=None, pickup_due=None)
        d["vehicles"][0]["shift_end"] = None

    request = request_from_dict(data(unbind))

    assert request.orders[0].due_time == math.inf
    assert request.orders[0].pickup_due == math.inf
    assert request.vehicles[0].shift_end == math.inf


def test_null_end_keeps_the_route_open() -> None:
    """``end: null`` is no end location, not an infinite one."""
    request = request_from_dict(
        data(lambda d: d["vehicles"][0].update(end=None))
    )

    assert request.vehicles[0].end is None


def test_bound_orders_become_tuples() -> None:
    """Onboard lists from JSON are stored as tuples, so stay immutable."""
    request = request_from_dict(data())

    assert request.vehicles[0].onboard == ("o2",)
    assert request.vehicles[0].committed == ()


# Bad input


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.update(colour="red"), "colour"),
        (
            lambda d: d["locations"][2].update(colour="red"),
            "locations[2].colour",
        ),
        (lambda d: d["orders"][1].update(colour="red"), "orders[1].colour"),
        (
            lambda d: d["vehicles"][1].update(colour="red"),
            "vehicles[1].colour",
        ),
        (lambda d: d["options"].update(colour="red"), "options.colour"),
        (
            lambda d: d["options"]["weights"].update(colour="red"),
            "options.weights.colour",
        ),
        (lambda d: d["travel"].update(colour="red"), "travel.colour"),
        (
            lambda d: d.update(
                travel={"model": "matrix", "seconds": SECONDS, "colour": "red"}
            ),
            "travel.colour",
        ),
    ],
    ids=[
        "request",
        "location",
        "order",
        "vehicle",
        "options",
        "weights",
        "euclidean",
        "matrix",
    ],
)
def test_unknown_fields_are_named_by_path(
    change: Callable[[dict[str, Any]], object], field: str
) -> None:
    """A field the model does not have is named with its path and value,
    and the message says what is allowed."""
    error = invalid(data(change))

    assert error.field == field
    assert error.value == "red"
    assert field in str(error)
    assert "'red'" in str(error)
    assert "allowed" in str(error)


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (lambda d: d["orders"].__setitem__(1, "o2"), "orders[1]", "o2"),
        (lambda d: d["locations"].__setitem__(0, 5), "locations[0]", 5),
        (lambda d: d["vehicles"].__setitem__(1, None), "vehicles[1]", None),
        (lambda d: d.update(travel="euclidean"), "travel", "euclidean"),
        (
            lambda d: d["options"].update(weights=[1, 0]),
            "options.weights",
            [1, 0],
        ),
        (lambda d: d.update(options=[1, 2]), "options", [1, 2]),
        (lambda d: d.update(options="fast"), "options", "fast"),
        (lambda d: d.update(options=3), "options", 3),
    ],
    ids=[
        "order",
        "location",
        "vehicle",
        "travel",
        "weights",
        "options-list",
        "options-text",
        "options-number",
    ],
)
def test_parts_that_are_not_mappings_are_named(
    change: Callable[[dict[str, Any]], object], field: str, value: Any
) -> None:
    """Where an object is expected, anything else is named by path."""
    error = invalid(data(change))

    assert error.field == field
    assert error.value == value
    assert repr(value) in str(error)
    assert "must be a mapping" in str(error)


@pytest.mark.parametrize("payload", [[], "request", None, 3])
def test_request_must_be_a_mapping(payload: Any) -> None:
    """A request that is no JSON object is rejected as a whole."""
    error = invalid(payload)

    assert error.field == "request"
    assert error.value == payload
    assert "must be a mapping" in str(error)


@pytest.mark.parametrize("key", ["locations", "orders", "vehicles"])
def test_collections_must_be_lists(key: str) -> None:
    """Locations, orders and vehicles are JSON arrays."""
    error = invalid(data(lambda d: d.update({key: {"id": "x"}})))

    assert error.field == key
    assert error.value == {"id": "x"}
    assert "must be a list" in str(error)


@pytest.mark.parametrize(
    ("change", "path", "value"),
    [
        (lambda d: d["locations"][1].update(x="3"), "locations[", "3"),
        (lambda d: d["locations"][1].update(y=None), "locations[", None),
        (
            lambda d: d["orders"][0].update(ready_time="soon"),
            "orders[",
            "soon",
        ),
        (lambda d: d["orders"][1].update(quantity="2"), "orders[", "2"),
        (lambda d: d["vehicles"][1].update(capacity=2.5), "vehicles[", 2.5),
        (lambda d: d["vehicles"][0].update(onboard=7), "vehicles[", 7),
        (lambda d: d["options"].update(seed="seven"), "options", "seven"),
        (lambda d: d["travel"].update(speed="fast"), "travel", "fast"),
    ],
    ids=[
        "x",
        "y",
        "ready_time",
        "quantity",
        "capacity",
        "onboard",
        "seed",
        "speed",
    ],
)
def test_fields_of_the_wrong_type_are_named(
    change: Callable[[dict[str, Any]], object], path: str, value: Any
) -> None:
    """A value of the wrong type raises InvalidRequestError within the
    path of the item that holds it, and the message shows the value."""
    error = invalid(data(change))

    assert error.field.startswith(path)
    assert repr(value) in str(error)


@pytest.mark.parametrize("model", ["teleport", None, 3])
def test_unknown_travel_model_lists_the_known_ones(model: Any) -> None:
    """The travel model must be one the engine has."""
    error = invalid(data(lambda d: d["travel"].update(model=model)))

    assert error.field == "travel.model"
    assert error.value == model
    assert repr(model) in str(error)
    assert "must be euclidean, haversine or matrix" in str(error)


def matrix_data(seconds: Any) -> Any:
    return data(
        lambda d: d.update(travel={"model": "matrix", "seconds": seconds})
    )


@pytest.mark.parametrize(
    ("seconds", "shape"),
    [
        ([[0.0, 1.0], [1.0, 0.0]], (2, 2)),
        ([row[:2] for row in SECONDS], (3, 2)),
        ([0.0, 1.0, 2.0], (3,)),
        ([], (0,)),
    ],
)
def test_travel_matrix_must_be_square_over_the_locations(
    seconds: list[Any], shape: tuple[int, ...]
) -> None:
    """The matrix has one row and one column per location."""
    error = invalid(matrix_data(seconds))

    assert error.field == "travel.seconds"
    assert error.value == shape
    assert repr(shape) in str(error)
    assert "must be a 3 x 3 matrix" in str(error)


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [(0, 1, -1.0), (2, 0, math.nan), (1, 2, math.inf)],
)
def test_travel_matrix_entries_must_be_finite_and_non_negative(
    row: int, column: int, value: float
) -> None:
    """A bad entry is named by its row and column."""
    seconds = copy.deepcopy(SECONDS)
    seconds[row][column] = value

    error = invalid(matrix_data(seconds))

    field = f"travel.seconds[{row}][{column}]"
    assert error.field == field
    assert error.value == value or math.isnan(error.value)
    assert f"{field} = {value!r}" in str(error)
    assert "must be a finite number >= 0" in str(error)


def test_travel_matrix_entries_from_json_nan_are_rejected() -> None:
    """JSON's non-standard NaN literal is caught like any NaN."""
    text = json.dumps(matrix_data(SECONDS)).replace("9.0", "NaN")

    error = invalid(json.loads(text))

    assert error.field == "travel.seconds[0][2]"


@pytest.mark.parametrize(
    "seconds",
    [
        [[0.0, 5.0, 9.0], [6.0, 0.0], [8.0, 3.0, 0.0]],
        [[0.0, 5.0, "nine"], [6.0, 0.0, 4.0], [8.0, 3.0, 0.0]],
        "far",
    ],
    ids=["ragged", "text-entry", "text"],
)
def test_travel_matrix_that_is_no_numeric_array_is_named(
    seconds: Any,
) -> None:
    """Ragged rows or text entries raise InvalidRequestError naming
    travel.seconds, not an error from numpy."""
    error = invalid(matrix_data(seconds))

    assert error.field.startswith("travel.seconds")


# Matrix travel times


def test_matrix_travel_is_the_request_travel_matrix() -> None:
    """A matrix given over the locations is the request's matrix."""
    request = request_from_dict(matrix_data(SECONDS))

    assert isinstance(request.travel, MatrixTravelTimes)
    np.testing.assert_array_equal(request.travel_matrix, SECONDS)


def test_matrix_travel_gives_the_sub_matrix_in_the_given_order() -> None:
    """Rows follow the origins and columns the destinations, by id."""
    travel = MatrixTravelTimes(("depot", "shop", "home"), np.array(SECONDS))
    depot, shop, home = (Location(i, 0, 0) for i in travel.ids)

    times = travel.matrix([home, depot], [shop, home, depot, shop])

    np.testing.assert_array_equal(
        times, [[3.0, 0.0, 8.0, 3.0], [5.0, 9.0, 0.0, 5.0]]
    )


def test_matrix_travel_answers_with_a_fresh_array() -> None:
    """Changing an answer does not change the stored seconds."""
    travel = MatrixTravelTimes(("depot", "shop", "home"), np.array(SECONDS))
    depot = Location("depot", 0, 0)

    times = travel.matrix([depot], [depot])
    times[0, 0] = 99.0

    assert travel.seconds[0, 0] == 0.0


def test_matrix_travel_checks_its_shape_when_built() -> None:
    """Built directly, a matrix of the wrong shape is rejected too."""
    with pytest.raises(InvalidRequestError, match=r"2 x 2 matrix") as caught:
        MatrixTravelTimes(("a", "b"), np.zeros((2, 3)))

    assert caught.value.field == "travel.seconds"
    assert caught.value.value == (2, 3)
