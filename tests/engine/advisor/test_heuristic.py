"""Tests of the heuristic answer and of the feasibility rules every
answer is held to."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.advisor import AssignmentQuestion, Candidate, nearest_feasible
from engine.advisor.heuristic import choose, estimate, violation
from engine.model import Location, Order
from engine.travel import Euclidean

if TYPE_CHECKING:
    from collections.abc import Callable

PLANE = Euclidean(speed=1.0)


def test_nearest_feasible_on_the_default_question(
    question: AssignmentQuestion, travel: Euclidean
) -> None:
    """Each order goes to the driver that reaches its pickup first; the
    driver whose shift ends too soon gets nothing."""
    assert nearest_feasible(question, travel) == {"o1": "a", "o2": "b"}


def test_estimates_follow_travel_and_waiting(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """Arrival counts from the later of now and available_at; the finish
    adds waiting for the ready time, service and the carry."""
    orders = (
        Order(
            "o1",
            "shop",
            "home",
            ready_time=150,
            pickup_service=5,
            delivery_service=7,
        ),
    )
    candidates = (
        Candidate("early", Location("e", 0, 30), 50.0, 1),
        Candidate("late", Location("l", 0, 30), 200.0, 1),
    )
    estimates = estimate(question_of(orders, candidates, now=100), travel)
    assert estimates.arrive == ((30.0, 130.0),)
    # early: reaches at 130, waits to 150, +5 +100 carry +7 = 262
    # late: reaches at 230, +5 +100 +7 = 342; both from now = 100
    assert estimates.finish == ((162.0, 242.0),)
    assert estimates.shift_left == (math.inf, math.inf)


def test_ties_go_to_the_smaller_driver_id(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """Two drivers at the same place: the one with the smaller id wins,
    whatever the order of the candidates."""
    here = Location("x", 0, 0)
    candidates = (Candidate("z", here, 0.0, 5), Candidate("m", here, 0.0, 5))
    question = question_of(candidates=candidates)
    assert set(nearest_feasible(question, travel).values()) == {"m"}


def test_capacity_is_used_up_in_order_sequence(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """A driver with room for two units takes the first two one-unit
    orders; the third goes to the next nearest driver, and with no driver
    left it goes to nobody."""
    orders = tuple(Order(f"o{k}", "shop", "home") for k in range(4))
    candidates = (
        Candidate("near", Location("n", 1, 0), 0.0, 2),
        Candidate("far", Location("f", 50, 0), 0.0, 1),
    )
    answer = nearest_feasible(question_of(orders, candidates), travel)
    assert answer == {"o0": "near", "o1": "near", "o2": "far", "o3": None}


def test_no_candidates_means_no_driver(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """Without candidates every order is answered with ``None``."""
    answer = nearest_feasible(question_of(candidates=()), travel)
    assert answer == {"o1": None, "o2": None}


def test_violation_accepts_the_heuristic_and_names_each_fault(
    question: AssignmentQuestion, travel: Euclidean
) -> None:
    """The heuristic's answer passes; each broken rule is named."""
    estimates = estimate(question, travel)
    assert violation(estimates, {"o1": "a", "o2": "b"}) is None
    assert violation(estimates, {"o1": None, "o2": None}) is None
    cases: list[tuple[dict[str, Any], str]] = [
        ({"o1": "a"}, "'o2' is not answered"),
        ({"o1": "a", "o2": "b", "o9": None}, "'o9' was not asked"),
        ({"o1": "zed", "o2": "b"}, "'zed' for 'o1' is not a candidate"),
        ({"o1": "c", "o2": "b"}, "cannot deliver 'o1' in shift"),
        ({"o1": "a", "o2": "a"}, "'a' has no room for 'o2'"),
    ]
    for answer, fault in cases:
        problem = violation(estimates, answer)
        assert problem is not None
        assert fault in problem


@st.composite
def questions(draw: st.DrawFn) -> AssignmentQuestion:
    """Random small questions: orders between random places, drivers with
    random room, availability and shift ends."""
    coordinate = st.integers(0, 50)
    n_orders = draw(st.integers(1, 6))
    places = [
        Location(f"p{k}", draw(coordinate), draw(coordinate))
        for k in range(2 * n_orders)
    ]
    orders = tuple(
        Order(
            f"o{k}",
            f"p{2 * k}",
            f"p{2 * k + 1}",
            quantity=draw(st.integers(1, 3)),
            ready_time=draw(st.integers(0, 100)),
        )
        for k in range(n_orders)
    )
    candidates = tuple(
        Candidate(
            f"d{k}",
            Location(f"d{k}", draw(coordinate), draw(coordinate)),
            float(draw(st.integers(0, 100))),
            draw(st.integers(0, 4)),
            draw(st.sampled_from([math.inf, 100.0, 200.0, 300.0])),
        )
        for k in range(draw(st.integers(0, 4)))
    )
    return AssignmentQuestion(orders, tuple(places), candidates, now=50.0)


@settings(max_examples=150, deadline=None)
@given(questions())
def test_heuristic_answer_is_always_valid_and_greedy(
    question: AssignmentQuestion,
) -> None:
    """The heuristic's answer always passes the rules, and an order left
    to nobody had no feasible driver with room at its turn."""
    estimates = estimate(question, PLANE)
    answer = choose(estimates)
    assert violation(estimates, answer) is None

    room = list(estimates.free_capacity)
    for o, order_id in enumerate(estimates.order_ids):
        quantity = estimates.quantities[o]
        driver = answer[order_id]
        if driver is None:
            assert not any(
                room[c] >= quantity and estimates.feasible(o, c)
                for c in range(len(room))
            )
        else:
            room[estimates.driver_ids.index(driver)] -= quantity
