"""Tests of scenario sections used on their own: distributions, faults,
latency models."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from simulator.scenario import Distribution, Fault, LatencySettings


@pytest.mark.parametrize(
    ("parameters", "mean"),
    [
        ({"kind": "constant", "value": 7.0}, 7.0),
        ({"kind": "uniform", "low": 2.0, "high": 4.0}, 3.0),
        (
            {"kind": "lognormal", "median": 10.0, "sigma": 0.5},
            10 * np.exp(0.125),
        ),
    ],
)
def test_distribution_samples_have_its_mean(
    parameters: dict[str, object], mean: float
) -> None:
    """Samples of each kind of distribution average its stated mean."""
    distribution = Distribution.model_validate(parameters)
    samples = distribution.sample(np.random.default_rng(0), 50000)

    assert distribution.mean == pytest.approx(mean)
    assert samples.mean() == pytest.approx(mean, rel=0.01)
    assert samples.min() >= 0


def test_distribution_refuses_parameters_of_another_kind() -> None:
    """A lognormal distribution given a uniform bound is refused rather
    than silently ignoring it."""
    with pytest.raises(ValidationError, match="not used by a lognormal"):
        Distribution(kind="lognormal", median=1.0, sigma=0.1, low=0.5)


def test_fault_window_is_half_open() -> None:
    """A fault is active from its start up to, not including, its end."""
    fault = Fault(kind="cache_flush", start_s=10.0, end_s=20.0)
    assert not fault.active(9.99)
    assert fault.active(10.0)
    assert fault.active(19.99)
    assert not fault.active(20.0)


def test_latency_settings_match_the_advisor_model() -> None:
    """A constant latency takes its value from median_s, as the engine's
    latency model reads it; uniform needs both bounds."""
    constant = LatencySettings(kind="constant", median_s=1.5)
    assert constant.model_dump(exclude_none=True) == {
        "kind": "constant",
        "median_s": 1.5,
        "sigma": 0.5,
    }
    with pytest.raises(ValidationError, match="high_s"):
        LatencySettings(kind="uniform", low_s=0.1)
