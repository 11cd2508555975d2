"""Tests of the domain model and the engine's errors."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from engine.errors import EngineError, InfeasiblePlanError, InvalidRequestError
from engine.model import (
    Backend,
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

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy.typing as npt

NAN = math.nan
INF = math.inf


class CountingTravel:
    """A travel-time stub: a distinct time per pair, and a call count."""

    def __init__(self) -> None:
        self.calls = 0

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        self.calls += 1
        rows = np.arange(len(origins), dtype=float)[:, None]
        columns = np.arange(len(destinations), dtype=float)[None, :]
        return 10 * rows + columns


LOCATIONS = (Location("a", 0, 0), Location("b", 3, 4), Location("c", 6, 8))


def make_request(
    orders: Sequence[Order] = (),
    vehicles: Sequence[Vehicle] = (),
    locations: Sequence[Location] = LOCATIONS,
) -> Request:
    return Request(
        locations=tuple(locations),
        orders=tuple(orders),
        vehicles=tuple(vehicles),
        travel=CountingTravel(),
    )


def check_invalid(
    error: InvalidRequestError, field: str, value: Any, rule: str
) -> None:
    """The error names ``field``, carries ``value`` and states ``rule``."""
    assert error.field == field
    if isinstance(value, float) and math.isnan(value):
        assert math.isnan(error.value)
    else:
        assert error.value == value
    message = str(error)
    assert field in message
    assert repr(value) in message
    assert rule in message


def raises_invalid(
    build: Callable[[], object], field: str, value: Any, rule: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        build()
    check_invalid(caught.value, field, value, rule)


# Locations


@pytest.mark.parametrize(
    ("x", "y", "field", "value"),
    [
        (NAN, 0.0, "locations[p].x", NAN),
        (INF, 0.0, "locations[p].x", INF),
        (0.0, NAN, "locations[p].y", NAN),
        (0.0, -INF, "locations[p].y", -INF),
    ],
)
def test_location_coordinates_must_be_finite(
    x: float, y: float, field: str, value: float
) -> None:
    """A NaN or infinite coordinate is named, with its value."""
    raises_invalid(
        lambda: Location("p", x, y), field, value, "must be a finite number"
    )


@pytest.mark.parametrize("bad_id", ["", None, 7])
def test_location_id_must_be_a_non_empty_string(bad_id: Any) -> None:
    """An empty or non-string location id is rejected."""
    raises_invalid(
        lambda: Location(bad_id, 0, 0),
        "location.id",
        bad_id,
        "must be a non-empty string",
    )


# Orders


def test_order_defaults_leave_every_window_open() -> None:
    """An order built from ids alone can be served any time from 0."""
    order = Order("o1", "a", "b")

    assert order.quantity == 1
    assert (order.ready_time, order.pickup_due) == (0.0, INF)
    assert (order.delivery_ready, order.due_time) == (0.0, INF)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id": ""}, "order.id"),
        ({"pickup": ""}, "orders[o1].pickup"),
        ({"delivery": ""}, "orders[o1].delivery"),
        ({"pickup": None}, "orders[o1].pickup"),
    ],
)
def test_order_ids_must_be_non_empty_strings(
    fields: dict[str, Any], field: str
) -> None:
    """The order id and the location ids it names must not be empty."""
    value = next(iter(fields.values()))
    raises_invalid(
        lambda: Order(**{"id": "o1", "pickup": "a", "delivery": "b"} | fields),
        field,
        value,
        "must be a non-empty string",
    )


@pytest.mark.parametrize(
    ("quantity", "rule"),
    [
        (0, "must be > 0"),
        (-2, "must be > 0"),
        (1.5, "must be an integer"),
        (2.0, "must be an integer"),
        (True, "must be an integer"),
        ("2", "must be an integer"),
    ],
)
def test_order_quantity_must_be_a_positive_integer(
    quantity: Any, rule: str
) -> None:
    """Quantities are whole units, at least one; a bool is no number."""
    raises_invalid(
        lambda: Order("o1", "a", "b", quantity=quantity),
        "orders[o1].quantity",
        quantity,
        rule,
    )


@pytest.mark.parametrize(
    "name",
    ["ready_time", "delivery_ready", "pickup_service", "delivery_service"],
)
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (-1.0, "must be >= 0"),
        (NAN, "must be a finite number"),
        (INF, "must be a finite number"),
    ],
)
def test_order_times_must_be_finite_and_non_negative(
    name: str, value: float, rule: str
) -> None:
    """Start-of-window times and service durations are finite, >= 0."""
    raises_invalid(
        lambda: Order("o1", "a", "b", **{name: value}),
        f"orders[o1].{name}",
        value,
        rule,
    )


@pytest.mark.parametrize("name", ["due_time", "pickup_due"])
def test_order_due_times_must_not_be_nan(name: str) -> None:
    """A due time may be infinite but not NaN."""
    raises_invalid(
        lambda: Order("o1", "a", "b", **{name: NAN}),
        f"orders[o1].{name}",
        NAN,
        "must be a number, not NaN",
    )


def test_order_due_time_must_not_precede_ready_time() -> None:
    """Delivery due before the parcel is ready names both times."""
    raises_invalid(
        lambda: Order("o1", "a", "b", ready_time=100.0, due_time=99.0),
        "orders[o1].due_time",
        99.0,
        "must be >= ready_time (100.0)",
    )


def test_order_pickup_due_must_not_precede_ready_time() -> None:
    """The pickup window must not close before it opens."""
    raises_invalid(
        lambda: Order("o1", "a", "b", ready_time=50.0, pickup_due=-INF),
        "orders[o1].pickup_due",
        -INF,
        "must be >= ready_time (50.0)",
    )


def test_order_due_time_must_not_precede_delivery_ready() -> None:
    """The delivery window must not close before it opens."""
    raises_invalid(
        lambda: Order("o1", "a", "b", delivery_ready=300.0, due_time=200.0),
        "orders[o1].due_time",
        200.0,
        "must be >= delivery_ready (300.0)",
    )


def test_order_windows_may_be_single_instants() -> None:
    """A window whose due time equals its ready time is allowed."""
    order = Order(
        "o1",
        "a",
        "b",
        ready_time=10.0,
        pickup_due=10.0,
        delivery_ready=20.0,
        due_time=20.0,
    )

    assert order.pickup_due == order.ready_time
    assert order.due_time == order.delivery_ready


# Vehicles


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"id": ""}, "vehicle.id"),
        ({"start": ""}, "vehicles[v1].start"),
        ({"end": ""}, "vehicles[v1].end"),
        ({"start": 3}, "vehicles[v1].start"),
    ],
)
def test_vehicle_ids_must_be_non_empty_strings(
    fields: dict[str, Any], field: str
) -> None:
    """The vehicle id and the locations it names must not be empty."""
    value = next(iter(fields.values()))
    raises_invalid(
        lambda: Vehicle(**{"id": "v1", "start": "a", "capacity": 1} | fields),
        field,
        value,
        "must be a non-empty string",
    )


@pytest.mark.parametrize(
    ("capacity", "rule"),
    [
        (-1, "must be >= 0"),
        (2.5, "must be an integer"),
        (False, "must be an integer"),
        (None, "must be an integer"),
    ],
)
def test_vehicle_capacity_must_be_a_non_negative_integer(
    capacity: Any, rule: str
) -> None:
    """Capacity is a whole number of units, possibly zero."""
    raises_invalid(
        lambda: Vehicle("v1", "a", capacity),
        "vehicles[v1].capacity",
        capacity,
        rule,
    )


def test_vehicle_capacity_may_be_zero() -> None:
    """A vehicle with no room is legal (it can serve nothing)."""
    assert Vehicle("v1", "a", 0).capacity == 0


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (-5.0, "must be >= 0"),
        (NAN, "must be a finite number"),
        (INF, "must be a finite number"),
    ],
)
def test_vehicle_shift_start_must_be_finite_and_non_negative(
    value: float, rule: str
) -> None:
    """A shift starts at a finite time, >= 0."""
    raises_invalid(
        lambda: Vehicle("v1", "a", 1, shift_start=value),
        "vehicles[v1].shift_start",
        value,
        rule,
    )


def test_vehicle_shift_end_must_not_be_nan() -> None:
    """A shift may be open-ended (infinite) but not NaN."""
    raises_invalid(
        lambda: Vehicle("v1", "a", 1, shift_end=NAN),
        "vehicles[v1].shift_end",
        NAN,
        "must be a number, not NaN",
    )


def test_vehicle_shift_end_must_not_precede_shift_start() -> None:
    """A shift that ends before it starts names both times."""
    raises_invalid(
        lambda: Vehicle("v1", "a", 1, shift_start=3600.0, shift_end=60.0),
        "vehicles[v1].shift_end",
        60.0,
        "must be >= shift_start (3600.0)",
    )


@pytest.mark.parametrize("role", ["onboard", "committed"])
def test_vehicle_bound_orders_must_be_unique(role: str) -> None:
    """An order listed twice on board or committed is rejected."""
    raises_invalid(
        lambda: Vehicle("v1", "a", 9, **{role: ("o1", "o2", "o1")}),
        f"vehicles[v1].{role}",
        "o1",
        "ids must be unique",
    )


# Weights and options


@pytest.mark.parametrize("name", ["travel_time", "vehicle", "unassigned"])
@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (-0.5, "must be >= 0"),
        (NAN, "must be a finite number"),
        (INF, "must be a finite number"),
    ],
)
def test_weights_must_be_finite_and_non_negative(
    name: str, value: float, rule: str
) -> None:
    """Every weight of the objective is finite and >= 0."""
    raises_invalid(
        lambda: Weights(**{name: value}),
        f"options.weights.{name}",
        value,
        rule,
    )


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (0.0, "must be > 0 seconds"),
        (-1.0, "must be > 0 seconds"),
        (NAN, "must be a finite number"),
        (INF, "must be a finite number"),
    ],
)
def test_options_time_limit_must_be_positive_and_finite(
    value: float, rule: str
) -> None:
    """The wall-clock budget is a finite, positive number of seconds."""
    raises_invalid(
        lambda: Options(time_limit=value), "options.time_limit", value, rule
    )


def test_options_work_limit_must_not_be_negative() -> None:
    """A negative iteration budget is rejected; zero is allowed."""
    raises_invalid(
        lambda: Options(work_limit=-1), "options.work_limit", -1, ">= 0"
    )
    assert Options(work_limit=0).deterministic


def test_options_seed_must_not_be_negative() -> None:
    """Seeds are non-negative integers."""
    raises_invalid(lambda: Options(seed=-3), "options.seed", -3, ">= 0")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("work_limit", 2.5),
        ("work_limit", "50"),
        ("seed", 1.5),
        ("seed", "7"),
    ],
)
def test_options_counts_must_be_integers(name: str, value: Any) -> None:
    """An iteration budget or seed that is no integer is named, like a
    quantity or capacity that is no integer."""
    raises_invalid(
        lambda: Options(**{name: value}),
        f"options.{name}",
        value,
        "integer",
    )


def test_options_backend_must_be_known() -> None:
    """An unknown backend lists the allowed ones."""
    raises_invalid(
        lambda: Options(backend="fastest"),
        "options.backend",
        "fastest",
        "must be one of auto, heuristic, ortools, pyvrp",
    )


def test_options_backend_given_as_text_becomes_the_enum() -> None:
    """A backend named by its value is stored as a Backend."""
    options = Options(backend="pyvrp")

    assert options.backend is Backend.PYVRP


def test_options_are_deterministic_only_with_a_work_limit() -> None:
    """The search is bounded by work exactly when work_limit is set."""
    assert not Options().deterministic
    assert Options(work_limit=100).deterministic


# Requests


ORDER = Order("o1", "a", "b", quantity=2)
OTHER = Order("o2", "b", "c")


def test_request_keeps_its_parts_as_tuples() -> None:
    """Lists given for locations, orders and vehicles become tuples."""
    request = Request(
        locations=list(LOCATIONS),
        orders=[ORDER],
        vehicles=[Vehicle("v1", "a", 2)],
        travel=CountingTravel(),
    )

    assert request.locations == LOCATIONS
    assert request.orders == (ORDER,)
    assert isinstance(request.vehicles, tuple)
    assert request.location_index == {"a": 0, "b": 1, "c": 2}
    assert request.order_index == {"o1": 0}


@pytest.mark.parametrize(
    ("field", "items", "repeated"),
    [
        ("locations", (*LOCATIONS, Location("b", 1, 1)), "b"),
        ("orders", (ORDER, OTHER, Order("o1", "c", "a")), "o1"),
        ("vehicles", (Vehicle("v1", "a", 1), Vehicle("v1", "b", 2)), "v1"),
    ],
)
def test_request_ids_must_be_unique(
    field: str, items: tuple[Any, ...], repeated: str
) -> None:
    """Two locations, orders or vehicles with one id are rejected."""
    raises_invalid(
        lambda: make_request(**{field: items}),
        field,
        repeated,
        "ids must be unique",
    )


@pytest.mark.parametrize("role", ["pickup", "delivery"])
def test_order_must_name_locations_of_the_request(role: str) -> None:
    """An order whose pickup or delivery is no location is rejected."""
    order = dataclasses.replace(ORDER, **{role: "nowhere"})

    raises_invalid(
        lambda: make_request(orders=[order]),
        f"orders[o1].{role}",
        "nowhere",
        "must name a location of the request",
    )


@pytest.mark.parametrize("role", ["start", "end"])
def test_vehicle_must_name_locations_of_the_request(role: str) -> None:
    """A vehicle starting or ending at an unknown location is rejected."""
    vehicle = Vehicle("v1", "a", 2, end="a")
    vehicle = dataclasses.replace(vehicle, **{role: "nowhere"})

    raises_invalid(
        lambda: make_request(vehicles=[vehicle]),
        f"vehicles[v1].{role}",
        "nowhere",
        "must name a location of the request",
    )


def test_vehicle_without_end_has_an_open_route() -> None:
    """``end=None`` needs no location and stays None."""
    request = make_request(vehicles=[Vehicle("v1", "a", 2)])

    assert request.vehicles[0].end is None


@pytest.mark.parametrize("role", ["onboard", "committed"])
def test_bound_orders_must_be_orders_of_the_request(role: str) -> None:
    """Onboard and committed ids must name orders of the request."""
    vehicle = Vehicle("v1", "a", 5, **{role: ("o1", "o9")})

    raises_invalid(
        lambda: make_request(orders=[ORDER], vehicles=[vehicle]),
        f"vehicles[v1].{role}",
        "o9",
        "must name an order of the request",
    )


def test_order_must_not_be_bound_to_two_vehicles() -> None:
    """An order on board one vehicle and committed to another is named,
    with the vehicle that already has it."""
    vehicles = [
        Vehicle("v1", "a", 5, onboard=("o1",)),
        Vehicle("v2", "a", 5, committed=("o2", "o1")),
    ]

    raises_invalid(
        lambda: make_request(orders=[ORDER, OTHER], vehicles=vehicles),
        "vehicles[v2].committed",
        "o1",
        "order is already bound to vehicle v1",
    )


def test_order_must_not_be_both_onboard_and_committed() -> None:
    """One vehicle cannot both carry and still fetch the same order."""
    vehicle = Vehicle("v1", "a", 5, onboard=("o1",), committed=("o1",))

    raises_invalid(
        lambda: make_request(orders=[ORDER], vehicles=[vehicle]),
        "vehicles[v1].committed",
        "o1",
        "already bound",
    )


def test_load_on_board_must_fit_the_capacity() -> None:
    """Quantities on board add up; more than the capacity is rejected
    with the load as the value."""
    vehicle = Vehicle("v1", "a", 2, onboard=("o1", "o2"))

    raises_invalid(
        lambda: make_request(orders=[ORDER, OTHER], vehicles=[vehicle]),
        "vehicles[v1].onboard",
        3,
        "load on board must be <= capacity (2)",
    )


def test_committed_orders_do_not_count_as_load_on_board() -> None:
    """Orders not yet picked up take no room at the start."""
    vehicle = Vehicle("v1", "a", 2, onboard=("o1",), committed=("o2",))

    request = make_request(orders=[ORDER, OTHER], vehicles=[vehicle])

    assert request.vehicles == (vehicle,)


def test_travel_matrix_is_computed_once() -> None:
    """The travel model is asked once, over all locations in order."""
    request = make_request()
    travel = request.travel
    assert isinstance(travel, CountingTravel)
    assert travel.calls == 0

    first = request.travel_matrix
    second = request.travel_matrix

    assert travel.calls == 1
    assert first is second
    np.testing.assert_array_equal(
        first, [[0, 1, 2], [10, 11, 12], [20, 21, 22]]
    )


def test_travel_matrix_is_read_only() -> None:
    """Solvers share the cached matrix, so writing to it fails."""
    matrix = make_request().travel_matrix

    assert not matrix.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        matrix[0, 1] = 99.0


# Immutability


STOP = Stop("o1", StopKind.PICKUP, "a", 0.0, 5.0, 65.0, 2)
PLAN = Plan(
    routes=(
        Route(
            vehicle_id="v1",
            stops=(
                STOP,
                Stop("o1", StopKind.DELIVERY, "b", 70.0, 70.0, 190.0, 0, 4.5),
            ),
            travel_time=70.0,
            end_time=190.0,
        ),
        Route("v2", (), travel_time=0.0, end_time=0.0),
    ),
    unassigned=(Unassigned("o2", UnassignedReason.TIME_WINDOW),),
    cost=1_000_070.0,
    stats=SolveStats(
        "pyvrp", 12, 0.25, fallback=True, fallback_reason="no reason"
    ),
)


@pytest.mark.parametrize(
    ("thing", "name"),
    [
        (Location("a", 0, 0), "x"),
        (ORDER, "due_time"),
        (Vehicle("v1", "a", 2), "capacity"),
        (Weights(), "vehicle"),
        (Options(), "seed"),
        (make_request(orders=[ORDER]), "orders"),
        (make_request(), "travel_matrix"),
        (STOP, "load"),
        (PLAN, "cost"),
    ],
)
def test_model_objects_are_immutable(thing: object, name: str) -> None:
    """Assigning to any field of a model object raises."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(thing, name, 1)


# Plans


def test_plan_to_dict_round_trips_through_json() -> None:
    """The plan's dict survives json.dumps and json.loads unchanged,
    with enums written as their values."""
    data = PLAN.to_dict()

    assert json.loads(json.dumps(data)) == data
    first, second = data["routes"]
    assert [stop["kind"] for stop in first["stops"]] == [
        "pickup",
        "delivery",
    ]
    assert first["stops"][1]["late"] == 4.5
    assert second["stops"] == []
    assert data["unassigned"] == [{"order_id": "o2", "reason": "time_window"}]
    assert data["stats"]["fallback_reason"] == "no reason"


def test_plan_travel_time_sums_its_routes() -> None:
    """A plan's travel time is the total over its routes."""
    assert PLAN.travel_time == 70.0


# Errors


def test_invalid_request_error_is_a_value_error_and_an_engine_error() -> None:
    """Callers may catch it as either; it keeps field, value and rule."""
    error = InvalidRequestError("orders[3].due_time", -1.0, "must be >= 0")

    assert isinstance(error, ValueError)
    assert isinstance(error, EngineError)
    assert (error.field, error.value, error.rule) == (
        "orders[3].due_time",
        -1.0,
        "must be >= 0",
    )
    assert str(error) == "orders[3].due_time = -1.0: must be >= 0"


def test_infeasible_plan_error_lists_five_violations_and_counts_more() -> None:
    """Long violation lists are cut after five, saying how many more."""
    violations = [f"rule {k}" for k in range(7)]
    error = InfeasiblePlanError("ortools", violations)

    assert isinstance(error, EngineError)
    assert not isinstance(error, ValueError)
    assert error.backend == "ortools"
    assert error.violations == violations
    assert "rule 4" in str(error)
    assert "rule 5" not in str(error)
    assert str(error).endswith("(and 2 more)")
