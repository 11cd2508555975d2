"""Tests of the API's bodies: questions and requests written by the
writers are read back as they were, and bad bodies name the field, the
value and the rule."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.advisor import AssignmentQuestion, Candidate
from engine.api import (
    ApiConfig,
    optimize_from_dict,
    optimize_to_dict,
    question_from_dict,
    question_to_dict,
)
from engine.api.codec import position_from_dict
from engine.codec import MatrixTravelTimes
from engine.errors import InvalidRequestError
from engine.model import Location, Options, Order
from engine.travel import Euclidean
from simulator.example import example_request


def _question() -> AssignmentQuestion:
    places = (
        Location("m1", 0.0, 0.0),
        Location("c1", 3.0, 4.0),
        Location("c2", 6.0, 0.0),
    )
    return AssignmentQuestion(
        orders=(
            Order("o1", "m1", "c1", quantity=2, due_time=900.0),
            Order("o2", "m1", "c2"),
        ),
        locations=places,
        candidates=(
            Candidate("d1", places[0], 0.0, 3),
            Candidate("d2", Location("elsewhere", 1.5, 2.5), 60.0, 1, 7200.0),
        ),
        now=10.0,
    )


def test_question_round_trip() -> None:
    """A question written by question_to_dict reads back equal, with its
    travel model; a candidate at a question location is written by id,
    one elsewhere by coordinates, and an unbounded shift is left out."""
    question = _question()
    body = question_to_dict(question, Euclidean(2.0))
    assert body["candidates"][0]["location"] == "m1"
    assert body["candidates"][1]["location"] == {"x": 1.5, "y": 2.5}
    assert "shift_end" not in body["candidates"][0]
    assert body["orders"][1]["due_time"] is None

    read, travel = question_from_dict(body)
    assert travel == Euclidean(2.0)
    assert read.orders == question.orders
    assert read.locations == question.locations
    assert read.now == question.now
    assert read.candidates[0] == question.candidates[0]
    second = read.candidates[1]
    assert (second.location.x, second.location.y) == (1.5, 2.5)
    assert second.shift_end == 7200.0


def test_question_with_a_matrix_needs_candidates_by_id() -> None:
    """With matrix travel a candidate given by coordinates is refused,
    naming the candidate's location field."""
    question = _question()
    matrix = MatrixTravelTimes(
        tuple(place.id for place in question.locations), np.ones((3, 3))
    )
    body = question_to_dict(question, matrix)
    assert body["travel"]["model"] == "matrix"
    with pytest.raises(InvalidRequestError) as caught:
        question_from_dict(body)
    assert caught.value.field == "candidates[1].location"
    assert "by id" in caught.value.rule


@pytest.mark.parametrize(
    ("change", "field", "value", "rule"),
    [
        ({"now": "soon"}, "now", "soon", "must be a number"),
        ({"colour": 1}, "colour", 1, "is not a field"),
        (
            {"candidates": [{"driver_id": "d1", "location": "m1"}]},
            "candidates[0].available_at",
            None,
            "is required",
        ),
        (
            {
                "candidates": [
                    {
                        "driver_id": "d1",
                        "location": "nowhere",
                        "available_at": 0,
                        "free_capacity": 1,
                    }
                ]
            },
            "candidates[0].location",
            "nowhere",
            "must name a location",
        ),
        (
            {
                "candidates": [
                    {
                        "driver_id": "d1",
                        "location": "m1",
                        "available_at": 0,
                        "free_capacity": -1,
                    }
                ]
            },
            "candidates[0].free_capacity",
            -1,
            "integer >= 0",
        ),
        ({"orders": []}, "orders", (), "at least one order"),
    ],
)
def test_bad_question_names_field_value_and_rule(
    change: dict[str, object], field: str, value: object, rule: str
) -> None:
    """Each bad question raises InvalidRequestError with the field path
    as the body spells it, the value given and the rule broken."""
    body = question_to_dict(_question(), Euclidean())
    body.update(change)
    with pytest.raises(InvalidRequestError) as caught:
        question_from_dict(body)
    assert caught.value.field == field
    assert caught.value.value == value
    assert rule in caught.value.rule


def test_optimize_body_round_trip_and_async_flag() -> None:
    """optimize_to_dict writes a body that optimize_from_dict reads back
    as an equal request, with the async flag as written."""
    request = example_request(orders=6, vehicles=2, seed=1)
    body = optimize_to_dict(request, wants_async=True)
    read, wants_async = optimize_from_dict(body, ApiConfig())
    assert wants_async is True
    assert read.orders == request.orders
    assert read.vehicles == request.vehicles
    assert read.locations == request.locations
    assert read.options == request.options
    assert np.allclose(read.travel_matrix, request.travel_matrix)
    assert optimize_from_dict(optimize_to_dict(request), ApiConfig())[1] is (
        False
    )


@pytest.mark.parametrize(
    ("options", "field", "value"),
    [
        (Options(time_limit=11.0), "options.time_limit", 11.0),
        (Options(work_limit=100_001), "options.work_limit", 100_001),
    ],
)
def test_service_bounds_on_search(
    options: Options, field: str, value: object
) -> None:
    """A search longer than the service allows is refused, naming the
    option, its value and the service's bound."""
    request = dataclasses.replace(
        example_request(orders=2, vehicles=1), options=options
    )
    with pytest.raises(InvalidRequestError) as caught:
        optimize_from_dict(optimize_to_dict(request), ApiConfig())
    assert (caught.value.field, caught.value.value) == (field, value)
    assert "on this service" in caught.value.rule


def test_too_many_locations_and_bad_async() -> None:
    """More locations than max_locations, or an async flag that is not a
    boolean, are refused before the request is built."""
    body = optimize_to_dict(example_request(orders=4, vehicles=1))
    given = len(body["locations"])
    with pytest.raises(InvalidRequestError) as caught:
        optimize_from_dict(body, ApiConfig(max_locations=given - 1))
    assert (caught.value.field, caught.value.value) == ("locations", given)
    with pytest.raises(InvalidRequestError) as caught:
        optimize_from_dict({**body, "async": "yes"}, ApiConfig())
    assert (caught.value.field, caught.value.value) == ("async", "yes")


def test_position_names_the_coordinate() -> None:
    """A driver's position reads as a location named after the driver;
    a bad coordinate is named x or y, an unknown field by its name."""
    assert position_from_dict("d1", {"x": 1, "y": 2}) == Location("d1", 1, 2)
    for body, field in (
        ({"x": math.inf, "y": 0}, "x"),
        ({"x": 0, "y": "north"}, "y"),
        ({"x": 0, "y": 0, "z": 0}, "z"),
    ):
        with pytest.raises(InvalidRequestError) as caught:
            position_from_dict("d1", body)
        assert caught.value.field == field
