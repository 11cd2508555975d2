"""Tests of the gate's comparison across replications, which puts the
machine's run-to-run noise into the test."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.gate.replicated import replication_test


def test_consistent_slowdown_is_significant() -> None:
    """Every paired replication 10% slower, with a little noise: the
    ratio is about 1.1 and the one-sided p-value tiny."""
    rng = np.random.default_rng(1)
    base = rng.lognormal(0.0, 0.5, 10)
    cand = base * 1.1 * rng.lognormal(0.0, 0.01, 10)

    test = replication_test(base, cand, "higher", 0.01, paired=True)

    assert test.ratio == pytest.approx(1.1, rel=0.02)
    assert test.p_value < 1e-6
    assert test.interval[0] > 1.0
    assert test.df == 9


def test_pairing_takes_out_the_days_own_variation() -> None:
    """Seeds whose days differ widely hide a 10% change from Welch's
    test, and the paired test finds it."""
    rng = np.random.default_rng(2)
    base = rng.lognormal(0.0, 0.5, 10)
    cand = base * 1.1

    paired = replication_test(base, cand, "higher", 0.01, paired=True)
    unpaired = replication_test(base, cand, "higher", 0.01, paired=False)

    assert paired.p_value < 1e-9
    assert unpaired.p_value > 0.1


def test_run_level_noise_is_no_evidence() -> None:
    """Replications that scatter by 20% around the same value rarely
    look like a regression: about alpha of the time."""
    rng = np.random.default_rng(3)
    alarms = 0
    for _ in range(2000):
        base = rng.lognormal(0.0, 0.2, 10)
        cand = rng.lognormal(0.0, 0.2, 10)
        test = replication_test(base, cand, "higher", 0.01, paired=True)
        alarms += test.p_value <= 0.01

    assert alarms / 2000 == pytest.approx(0.01, abs=0.007)


def test_lower_is_worse_for_throughput() -> None:
    """With ``worse="lower"`` a drop is the harmful change."""
    base = np.array([10.0, 11.0, 12.0, 10.5])
    drop = replication_test(base, base * 0.8, "lower", 0.01, paired=True)
    rise = replication_test(base, base * 1.2, "lower", 0.01, paired=True)

    assert drop.p_value < 1e-9
    assert rise.p_value > 1 - 1e-9


def test_interval_excludes_one_exactly_when_significant() -> None:
    """The bound of the interval on the harmful side excludes 1 exactly
    when the p-value is below alpha."""
    rng = np.random.default_rng(4)
    for shift in np.linspace(1.0, 1.2, 21):
        base = rng.lognormal(0.0, 0.1, 6)
        cand = base * shift * rng.lognormal(0.0, 0.1, 6)
        test = replication_test(base, cand, "higher", 0.05, paired=True)
        assert (test.interval[0] > 1.0) == (test.p_value < 0.05)


def test_zeros_are_no_evidence() -> None:
    """A side holding zero has no ratio: p-value 1, ratio NaN."""
    test = replication_test([0.0, 1.0], [1.0, 2.0], "higher", 0.01, True)

    assert test.p_value == 1.0
    assert math.isnan(test.ratio)


def test_too_few_or_unequal_replications_are_refused() -> None:
    """One value a side has no spread to test against; pairs need equal
    counts."""
    with pytest.raises(ValueError, match="two values a side"):
        replication_test([1.0], [1.0, 2.0], "higher", 0.01, paired=False)
    with pytest.raises(ValueError, match="equal counts"):
        replication_test([1.0, 2.0], [1.0, 2.0, 3.0], "higher", 0.01, True)
