"""Tests of the question types, their validation and the cache keys
derived from them."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from engine.advisor import AssignmentQuestion, Candidate, Outcome
from engine.advisor.fingerprint import assign_key
from engine.advisor.question import worst
from engine.errors import InvalidRequestError
from engine.model import Location, Order

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Location("here", 0, 0)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"driver_id": ""}, "candidate.driver_id"),
        ({"available_at": math.nan}, "candidates[d].available_at"),
        ({"free_capacity": -1}, "candidates[d].free_capacity"),
        ({"free_capacity": 1.5}, "candidates[d].free_capacity"),
        ({"shift_end": math.nan}, "candidates[d].shift_end"),
    ],
)
def test_candidate_rejects_bad_fields(
    fields: dict[str, Any], field: str
) -> None:
    """Each bad candidate field raises an error naming it."""
    values: dict[str, Any] = {
        "driver_id": "d",
        "location": HERE,
        "available_at": 0.0,
        "free_capacity": 1,
    }
    with pytest.raises(InvalidRequestError) as caught:
        Candidate(**(values | fields))
    assert caught.value.field == field


def test_question_rejects_bad_content(
    question_of: Callable[..., AssignmentQuestion],
) -> None:
    """A question needs orders, unique ids, and every order's places."""
    good = question_of()
    with pytest.raises(InvalidRequestError, match="at least one order"):
        question_of(orders=())
    with pytest.raises(InvalidRequestError, match="unique"):
        question_of(orders=good.orders + good.orders[:1])
    with pytest.raises(InvalidRequestError, match="unique"):
        question_of(candidates=good.candidates + good.candidates[:1])
    with pytest.raises(InvalidRequestError, match="location of the question"):
        question_of(orders=(Order("o9", "shop", "moon"),))
    with pytest.raises(InvalidRequestError, match="finite"):
        question_of(now=math.inf)


def test_worst_outcome_order() -> None:
    """A fallback outranks an answer, and a timeout outranks the rest."""
    assert worst([Outcome.OK, Outcome.CACHE_HIT]) is Outcome.OK
    assert worst([Outcome.OK, Outcome.REJECTED]) is Outcome.REJECTED
    assert worst(list(Outcome)) is Outcome.TIMEOUT
    assert Outcome.CACHE_HIT.used_advisor
    assert not Outcome.BREAKER_OPEN.used_advisor


def key(question: AssignmentQuestion, precision: int = 3) -> str:
    return assign_key(question, precision, bucket_s=300.0)


def test_key_ignores_what_does_not_change_the_answer(
    question_of: Callable[..., AssignmentQuestion],
) -> None:
    """Order ids, the candidates' sequence, moves below the precision and
    time within one urgency bucket leave the key unchanged."""
    base = question_of()
    renamed = tuple(
        Order(f"x{k}", o.pickup, o.delivery, o.quantity, due_time=o.due_time)
        for k, o in enumerate(base.orders)
    )
    nudged = tuple(
        Candidate(
            c.driver_id,
            Location(c.location.id, c.location.x + 1e-4, c.location.y),
            c.available_at,
            c.free_capacity,
            c.shift_end,
        )
        for c in base.candidates
    )
    assert key(question_of(orders=renamed)) == key(base)
    assert key(question_of(candidates=base.candidates[::-1])) == key(base)
    assert key(question_of(candidates=nudged)) == key(base)
    assert key(question_of(now=10)) == key(question_of(now=200))
    assert key(base).startswith("advisor:assign:1:")


def test_key_changes_with_what_changes_the_answer(
    question_of: Callable[..., AssignmentQuestion],
) -> None:
    """Another urgency bucket, quantity, candidate set, candidate place or
    order sequence gives another key."""
    base = question_of()
    first, second = base.orders
    heavier = (Order("o1", "shop", "home", 2, due_time=600), second)
    moved = (
        Candidate("a", Location("a", 11, 0), 0.0, 2),
        *base.candidates[1:],
    )
    keys = {
        key(base),
        key(question_of(now=301)),
        key(question_of(orders=heavier)),
        key(question_of(orders=(second, first))),
        key(question_of(candidates=base.candidates[:2])),
        key(question_of(candidates=moved)),
    }
    assert len(keys) == 6
