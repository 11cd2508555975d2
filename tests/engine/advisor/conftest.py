"""Fixtures of the advisor tests: a small question on a plane, and a
backend that plays back scripted completions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.advisor import AssignmentQuestion, Candidate, Completion
from engine.model import Location, Order
from engine.travel import Euclidean

if TYPE_CHECKING:
    from collections.abc import Callable

PLACES = (
    Location("shop", 0, 0),
    Location("home", 100, 0),
    Location("mall", 0, 100),
    Location("park", 100, 100),
)
"""Four corners of a 100 x 100 square; travel is one unit a second."""


def make_question(
    orders: tuple[Order, ...] | None = None,
    candidates: tuple[Candidate, ...] | None = None,
    now: float = 0.0,
) -> AssignmentQuestion:
    """By default: ``o1`` (shop to home, 1 unit) and ``o2`` (mall to park,
    2 units); driver ``a`` near the shop with room for 2, ``b`` near the
    mall with room for 3, and ``c`` in the middle whose shift ends too
    soon for either order. The heuristic gives ``o1`` to ``a`` and ``o2``
    to ``b``."""
    if orders is None:
        orders = (
            Order("o1", "shop", "home", quantity=1, due_time=600),
            Order("o2", "mall", "park", quantity=2),
        )
    if candidates is None:
        candidates = (
            Candidate("a", Location("a", 10, 0), 0.0, 2),
            Candidate("b", Location("b", 0, 90), 0.0, 3),
            Candidate("c", Location("c", 50, 50), 0.0, 5, shift_end=100),
        )
    return AssignmentQuestion(orders, PLACES, candidates, now)


class ScriptedBackend:
    """Returns the given completions in turn (the last one forever) and
    keeps the messages it was sent."""

    def __init__(self, *completions: Completion) -> None:
        self.completions = list(completions)
        self.sent: list[list[dict[str, str]]] = []

    def complete(
        self, messages: list[dict[str, str]], timeout: float
    ) -> Completion:
        self.sent.append(messages)
        if len(self.completions) > 1:
            return self.completions.pop(0)
        return self.completions[0]


@pytest.fixture
def question() -> AssignmentQuestion:
    """The default question of :func:`make_question`."""
    return make_question()


@pytest.fixture
def question_of() -> Callable[..., AssignmentQuestion]:
    """A factory of questions: :func:`make_question`."""
    return make_question


@pytest.fixture
def travel() -> Euclidean:
    """Straight lines at one unit a second."""
    return Euclidean(speed=1.0)


@pytest.fixture
def scripted() -> Callable[..., ScriptedBackend]:
    """A factory of :class:`ScriptedBackend`."""
    return ScriptedBackend
