"""Tests of the circuit breaker: exact traces of its states over a
manual clock."""

from __future__ import annotations

from typing import Any

import pytest

from engine.advisor import BreakerConfig, BreakerState, CircuitBreaker
from engine.clock import ManualClock
from engine.errors import InvalidRequestError

CLOSED, OPEN, HALF = (
    BreakerState.CLOSED,
    BreakerState.OPEN,
    BreakerState.HALF_OPEN,
)


def trace(
    config: BreakerConfig, script: list[tuple[float, str]]
) -> list[tuple[float, str, Any, BreakerState]]:
    """Play ``script``, steps of (clock time, action) with action one of
    ``ok``, ``fail`` (record), ``allow`` or ``look``, and return (time,
    action, what allow returned, state after the step) for each step."""
    clock = ManualClock()
    breaker = CircuitBreaker(config, clock)
    steps = []
    for at, action in script:
        clock.advance(at - clock.now())
        result = None
        if action == "allow":
            result = breaker.allow()
        elif action in ("ok", "fail"):
            breaker.record(action == "ok")
        steps.append((at, action, result, breaker.state))
    return steps


def test_trace_open_half_open_close() -> None:
    """Failures reaching the ratio over min_calls open the breaker; it
    refuses during the cool-down, turns half-open when the cool-down is
    over, admits one trial, re-opens with a fresh cool-down when the trial
    fails, and closes with a fresh window when the next trial succeeds."""
    config = BreakerConfig(
        failure_ratio=0.5, window_s=30, min_calls=4, cool_down_s=10
    )
    script = [
        (0, "ok"),
        (1, "fail"),
        (2, "fail"),
        (3, "ok"),
        (8, "allow"),
        (12.5, "look"),
        (13, "look"),
        (13, "allow"),
        (13, "allow"),
        (14, "fail"),
        (23, "allow"),
        (24, "look"),
        (24, "allow"),
        (24.5, "ok"),
        (25, "fail"),
        (26, "fail"),
        (27, "fail"),
    ]
    assert trace(config, script) == [
        (0, "ok", None, CLOSED),
        (1, "fail", None, CLOSED),
        (2, "fail", None, CLOSED),
        (3, "ok", None, OPEN),
        (8, "allow", False, OPEN),
        (12.5, "look", None, OPEN),
        (13, "look", None, HALF),
        (13, "allow", True, HALF),
        (13, "allow", False, HALF),
        (14, "fail", None, OPEN),
        (23, "allow", False, OPEN),
        (24, "look", None, HALF),
        (24, "allow", True, HALF),
        (24.5, "ok", None, CLOSED),
        (25, "fail", None, CLOSED),
        (26, "fail", None, CLOSED),
        (27, "fail", None, CLOSED),
    ]


def test_window_forgets_old_calls() -> None:
    """Outcomes older than window_s no longer count: three early failures
    would open the breaker with the fourth call, but by then they have
    left the window, and it opens only when new calls reach the ratio."""
    config = BreakerConfig(failure_ratio=0.5, window_s=10, min_calls=4)
    script = [
        (0, "fail"),
        (1, "fail"),
        (2, "fail"),
        (12.5, "ok"),
        (13, "fail"),
        (14, "fail"),
        (15, "fail"),
    ]
    assert [state for *_, state in trace(config, script)] == [
        CLOSED,
        CLOSED,
        CLOSED,
        CLOSED,
        CLOSED,
        CLOSED,
        OPEN,
    ]


def test_half_open_needs_every_trial_to_succeed() -> None:
    """With two trial calls, half-open admits exactly two, stays half-open
    after the first success and closes after the second."""
    config = BreakerConfig(min_calls=1, cool_down_s=5, half_open_calls=2)
    script = [
        (0, "fail"),
        (5, "allow"),
        (5, "allow"),
        (5, "allow"),
        (6, "ok"),
        (7, "ok"),
    ]
    assert trace(config, script) == [
        (0, "fail", None, OPEN),
        (5, "allow", True, HALF),
        (5, "allow", True, HALF),
        (5, "allow", False, HALF),
        (6, "ok", None, HALF),
        (7, "ok", None, CLOSED),
    ]


def test_outcome_recorded_while_open_is_ignored() -> None:
    """A call that began before the breaker opened and ends after does
    not change the open state or its cool-down."""
    config = BreakerConfig(min_calls=1, cool_down_s=10)
    script = [(0, "fail"), (4, "ok"), (9, "fail"), (10, "look")]
    assert [state for *_, state in trace(config, script)] == [
        OPEN,
        OPEN,
        OPEN,
        HALF,
    ]


def test_zero_cool_down_half_opens_at_once() -> None:
    """Without a cool-down the breaker is half-open as soon as it is
    read after opening."""
    config = BreakerConfig(min_calls=1, cool_down_s=0)
    assert trace(config, [(0, "fail"), (0, "allow")]) == [
        (0, "fail", None, HALF),
        (0, "allow", True, HALF),
    ]


def test_on_change_sees_every_transition() -> None:
    """The transition callback receives each new state once, in order."""
    clock = ManualClock()
    seen: list[tuple[float, BreakerState]] = []
    breaker = CircuitBreaker(
        BreakerConfig(min_calls=2, cool_down_s=3),
        clock,
        on_change=lambda state: seen.append((clock.now(), state)),
    )
    breaker.record(False)
    breaker.record(False)
    clock.advance(3)
    assert breaker.allow()
    breaker.record(True)
    assert seen == [(0, OPEN), (3, HALF), (3, CLOSED)]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("failure_ratio", 0.0),
        ("failure_ratio", 1.5),
        ("window_s", 0.0),
        ("window_s", float("inf")),
        ("cool_down_s", -1.0),
        ("min_calls", 0),
        ("min_calls", 2.5),
        ("half_open_calls", 0),
    ],
)
def test_config_rejects_bad_values(field: str, value: Any) -> None:
    """Each out-of-range setting raises an error naming the field."""
    with pytest.raises(InvalidRequestError) as caught:
        BreakerConfig(**{field: value})
    assert caught.value.field == f"breaker.{field}"


def test_config_from_dict_names_unknown_field() -> None:
    """A mapping with a field the config does not have is rejected with
    the field's path; a good mapping builds the config."""
    with pytest.raises(InvalidRequestError) as caught:
        BreakerConfig.from_dict({"cooldown": 3})
    assert caught.value.field == "breaker.cooldown"
    assert BreakerConfig.from_dict({"min_calls": 3}).min_calls == 3
