"""Tests of the compressed day: the rate of a load run at each wall
second, and its Poisson arrivals."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator.errors import InputError
from simulator.load.shape import CompressedDay
from simulator.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


def test_rate_follows_the_hourly_profile() -> None:
    """At wall second t the rate is the peak rate scaled by the order
    profile of the hour that t stands for: a 24 h day in 240 s puts each
    hour in 10 s."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert scenario.demand is not None
    profile = np.array(scenario.demand.hourly_profile)

    day = CompressedDay.of(scenario, duration_s=240.0, peak_rate=300.0)

    assert day.compression == pytest.approx(360.0)
    for hour in range(24):
        for offset in (0.5, 5.0, 9.5):
            t = 10.0 * hour + offset
            expected = 300.0 * profile[hour] / profile.max()
            assert day.rate(t) == pytest.approx(expected)
            assert day.simulated(t) == pytest.approx(t * 360.0)


def test_rate_starts_at_the_scenario_start_hour() -> None:
    """A span that starts at 11:00 (cold_cache: four hours) maps wall
    second 0 onto 11:00, and each hour onto a quarter of the run."""
    scenario = load_scenario(SCENARIOS / "cold_cache.yaml")
    assert scenario.demand is not None
    profile = np.array(scenario.demand.hourly_profile)
    span = profile[11:15]

    day = CompressedDay.of(scenario, duration_s=40.0, peak_rate=80.0)

    for k, hour in enumerate(range(11, 15)):
        expected = 80.0 * profile[hour] / span.max()
        assert day.rate(10.0 * k + 5.0) == pytest.approx(expected)


def test_demand_spike_raises_the_rate_in_its_window() -> None:
    """A demand spike multiplies the rate inside its window (in
    compressed time) by its factor, and nowhere else."""
    scenario = load_scenario(
        SCENARIOS / "smoke.yaml",
        [
            "faults=[{kind: demand_spike, start_s: 1200, end_s: 2400,"
            " factor: 3.0}]"
        ],
    )

    day = CompressedDay.of(scenario, duration_s=36.0, peak_rate=90.0)

    # One simulated hour at a flat profile: 30 req/s, 90 in the spike.
    assert day.rate(5.0) == pytest.approx(30.0)
    assert day.rate(18.0) == pytest.approx(90.0)
    assert day.rate(30.0) == pytest.approx(30.0)


def test_no_rate_outside_the_run() -> None:
    """Before 0 and from the end on the rate is 0, and no arrival falls
    after the end."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml")
    day = CompressedDay.of(scenario, duration_s=10.0, peak_rate=5.0)

    assert day.rate(-1.0) == 0.0
    assert day.rate(10.0) == 0.0
    assert day.next_arrival(9.9, 100.0) == math.inf


def test_next_arrival_integrates_the_rate() -> None:
    """The next arrival is where the rate integrated from the last one
    reaches the exponential draw, across stretches of different rates
    (here the baseline's hours)."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    day = CompressedDay.of(scenario, duration_s=24.0, peak_rate=10.0)

    for start, draw in ((0.2, 0.5), (3.7, 4.0), (11.5, 25.0)):
        arrival = day.next_arrival(start, draw)
        grid = np.linspace(start, arrival, 200_001)
        mass = np.trapezoid([day.rate(t) for t in grid], grid)
        assert mass == pytest.approx(draw, rel=1e-3)


def test_arrivals_count_as_expected() -> None:
    """Drawn over a whole run, the number of arrivals is within four
    standard deviations of the integrated rate (a Poisson count)."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    day = CompressedDay.of(scenario, duration_s=60.0, peak_rate=200.0)
    rng = np.random.default_rng(3)

    count, t = 0, 0.0
    while (t := day.next_arrival(t, rng.exponential())) < math.inf:
        count += 1

    assert abs(count - day.expected) < 4 * math.sqrt(day.expected)


def test_a_share_thins_the_arrivals() -> None:
    """At a share of the rate the same draw lands proportionally later
    in a stretch of constant rate."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml")
    day = CompressedDay.of(scenario, duration_s=100.0, peak_rate=10.0)

    assert day.next_arrival(1.0, 1.0) == pytest.approx(1.1)
    assert day.next_arrival(1.0, 1.0, share=0.25) == pytest.approx(1.4)
    assert day.next_arrival(1.0, 1.0, share=0.0) == math.inf


def test_replay_scenario_is_refused() -> None:
    """A load test needs a generated city: a replay scenario is bad
    input naming ``replay``."""
    scenario = load_scenario(SCENARIOS / "replay_sample.yaml")

    with pytest.raises(InputError, match="replay"):
        CompressedDay.of(scenario, duration_s=10.0, peak_rate=5.0)
