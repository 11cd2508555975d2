"""Tests of the messages sent to the model and of the strict reading of
its answers."""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING

import numpy as np
import pytest

from engine.advisor.heuristic import estimate
from engine.advisor.prompt import (
    ASSIGN_SYSTEM,
    AnswerRejected,
    assign_messages,
    estimates_from_data,
    parse_assignments,
    parse_review,
    question_data,
)
from engine.errors import InvalidRequestError
from engine.model import Order

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.advisor import AssignmentQuestion
    from engine.advisor.heuristic import Estimates
    from engine.travel import Euclidean


@pytest.fixture
def estimates(question: AssignmentQuestion, travel: Euclidean) -> Estimates:
    """The estimates of the default question."""
    return estimate(question, travel)


def test_messages_are_system_then_compact_json_question(
    question: AssignmentQuestion, estimates: Estimates
) -> None:
    """An assignment question is a system message with the answer schema
    and a user message holding the question as compact JSON, with
    unbounded times as null."""
    system, user = assign_messages(question, estimates)
    assert system == {"role": "system", "content": ASSIGN_SYSTEM}
    assert '{"assignments": [{"order":' in system["content"]
    assert user["role"] == "user"
    assert ", " not in user["content"]
    data = json.loads(user["content"])
    assert data["task"] == "assign"
    assert [order["id"] for order in data["orders"]] == ["o1", "o2"]
    assert data["orders"][0]["due_in_s"] == 600
    assert data["orders"][1]["due_in_s"] is None
    assert data["drivers"][0] == {
        "id": "a",
        "at": [10, 0],
        "free_capacity": 2,
        "shift_left_s": None,
    }


def test_question_reads_back_to_the_same_estimates(
    question_of: Callable[..., AssignmentQuestion], travel: Euclidean
) -> None:
    """The modelled backend rebuilds exactly the advisor's estimates from
    the messages, so both judge feasibility on the same numbers."""
    question = question_of(now=1234.5678)
    estimates = estimate(question, travel)
    data = question_data(assign_messages(question, estimates))
    assert estimates_from_data(data) == estimates


@pytest.mark.parametrize(
    "text",
    [
        '{"assignments": [{"order": "o1", "driver": "a"},'
        ' {"order": "o2", "driver": "b"}]}',
        '\n  {"assignments": [{"driver": null, "order": "o2"},'
        ' {"order": "o1", "driver": "a"}]}  \n',
    ],
)
def test_valid_answers_are_read(text: str, estimates: Estimates) -> None:
    """A well-formed, feasible answer is read in any order of entries and
    keys, with surrounding white space, and null for no driver."""
    answer = parse_assignments(text, estimates)
    assert answer["o1"] == "a"
    assert set(answer) == {"o1", "o2"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Driver a should take o1.", "not JSON"),
        (
            '```json\n{"assignments": [{"order": "o1", "driver": "a"},'
            ' {"order": "o2", "driver": "b"}]}\n```',
            "not JSON",
        ),
        ("[1, 2]", "not a JSON object"),
        ('{"assignment": []}', "not exactly"),
        ('{"assignments": [], "note": "x"}', "not exactly"),
        ('{"assignments": {"o1": "a"}}', "is not a list"),
        ('{"assignments": [["o1", "a"]]}', "assignments[0] is not"),
        ('{"assignments": [{"order": 1, "driver": "a"}]}', "not a string"),
        ('{"assignments": [{"order": "o1", "driver": 7}]}', "nor null"),
        (
            '{"assignments": [{"order": "o1", "driver": "a", "driver": "b"}]}',
            "repeated",
        ),
        ('{"assignments": [{"order": "o1", "driver": NaN}]}', "NaN"),
        ('{"assignments": [{"order": "o1", "driver": "a"}]}', "'o2'"),
        (
            '{"assignments": [{"order": "o1", "driver": "a"},'
            ' {"order": "o1", "driver": "b"}]}',
            "answered twice",
        ),
        (
            '{"assignments": [{"order": "o1", "driver": "zed"},'
            ' {"order": "o2", "driver": "b"}]}',
            "not a candidate",
        ),
        (
            '{"assignments": [{"order": "o1", "driver": "a"},'
            ' {"order": "o2", "driver": "a"}]}',
            "no room",
        ),
        (
            '{"assignments": [{"order": "o1", "driver": "c"},'
            ' {"order": "o2", "driver": "b"}]}',
            "in shift",
        ),
    ],
)
def test_bad_answers_are_rejected(
    text: str, reason: str, estimates: Estimates
) -> None:
    """Every malformed or infeasible answer raises AnswerRejected with
    the reason in words."""
    with pytest.raises(AnswerRejected, match=re.escape(reason)):
        parse_assignments(text, estimates)


def test_review_answers() -> None:
    """A review is exactly a verdict of accept or reject and a reason."""
    assert parse_review('{"verdict": "reject", "reason": "late"}') == (
        "reject",
        "late",
    )
    for bad in (
        '{"verdict": "maybe", "reason": "?"}',
        '{"verdict": "accept"}',
        '{"verdict": "accept", "reason": 3}',
        "accept",
    ):
        with pytest.raises(AnswerRejected):
            parse_review(bad)


def test_question_data_rejects_other_messages() -> None:
    """Messages without a JSON question of a known task are bad input."""
    for messages in (
        [{"role": "system", "content": "hi"}],
        [{"role": "user", "content": "hello"}],
        [{"role": "user", "content": '{"task": "poem"}'}],
    ):
        with pytest.raises(InvalidRequestError):
            question_data(messages)


def test_unreachable_driver_is_null_and_infeasible(
    question_of: Callable[..., AssignmentQuestion],
) -> None:
    """An infinite travel time is sent as null and read back as no
    route, which no answer may use."""

    class Unreachable:
        def matrix(self, origins: list, destinations: list) -> np.ndarray:
            return np.full((len(origins), len(destinations)), math.inf)

    question = question_of(orders=(Order("o1", "shop", "home"),))
    estimates = estimate(question, Unreachable())
    data = question_data(assign_messages(question, estimates))
    assert data["orders"][0]["drivers"][0]["arrive_in_s"] is None
    assert not estimates_from_data(data).feasible(0, 0)
