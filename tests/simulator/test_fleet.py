"""Tests of the fleet: shifts, start locations, capacities and speeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.city import City, build_city
from simulator.fleet import DriverPlan, driver_plans
from simulator.scenario import (
    CityConfig,
    FleetConfig,
    SyntheticSettings,
    load_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
HOUR = 3600.0


@pytest.fixture(scope="module")
def city() -> City:
    """A small grid town with 2 x 2 zones."""
    config = CityConfig(synthetic=SyntheticSettings(blocks=10), zones=2)
    return build_city(config, 0.0, np.random.default_rng(0))


def _plans(
    city: City,
    duration_s: float = 24 * HOUR,
    start_hour: float = 0.0,
    seed: int = 0,
    **fleet: object,
) -> tuple[DriverPlan, ...]:
    config = FleetConfig.model_validate(fleet)
    return driver_plans(
        config, city, duration_s, start_hour, np.random.default_rng(seed)
    )


def _window(plan: DriverPlan) -> tuple[float, float]:
    return plan.shift_start / HOUR, plan.shift_end / HOUR


def test_drivers_split_over_shifts_by_share(city: City) -> None:
    """Drivers go to shifts in proportion to their shares, by largest
    remainders, in the order the shifts are listed."""
    plans = _plans(
        city,
        drivers=10,
        shifts=[
            {"start_hour": 8, "end_hour": 16, "share": 1},
            {"start_hour": 16, "end_hour": 24, "share": 1},
            {"start_hour": 10, "end_hour": 14, "share": 1},
        ],
    )

    windows = [_window(plan) for plan in plans]
    assert windows == [(8, 16)] * 4 + [(16, 24)] * 3 + [(10, 14)] * 3
    assert [plan.id for plan in plans] == [f"d{k}" for k in range(10)]


def test_baseline_staffs_the_peaks(city: City) -> None:
    """The baseline fleet puts 150 drivers on shift with more of them at
    the lunch and dinner peaks than at night."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert scenario.fleet is not None
    plans = driver_plans(
        scenario.fleet,
        city,
        scenario.duration_s,
        0.0,
        np.random.default_rng(1),
    )

    def on_shift(hour: float) -> int:
        t = hour * HOUR
        return sum(p.shift_start <= t < p.shift_end for p in plans)

    assert len(plans) == 150
    assert on_shift(12.5) >= 100
    assert on_shift(19.5) >= 120
    assert on_shift(3.0) < 20


def test_shift_under_way_at_the_start_begins_at_zero(city: City) -> None:
    """A run that starts at 12:00 finds the 10-20 h shift already under
    way: it starts at 0 and ends 8 hours in."""
    plans = _plans(
        city,
        start_hour=12.0,
        drivers=1,
        shifts=[{"start_hour": 10, "end_hour": 20}],
    )
    assert _window(plans[0]) == (0.0, 8.0)


def test_overnight_shift_crosses_midnight(city: City) -> None:
    """A 22-30 h shift in a run from 20:00 works from 2 h to 10 h of the
    run."""
    plans = _plans(
        city,
        duration_s=12 * HOUR,
        start_hour=20.0,
        drivers=1,
        shifts=[{"start_hour": 22, "end_hour": 30}],
    )
    assert _window(plans[0]) == (2.0, 10.0)


def test_the_occurrence_that_overlaps_most_is_taken(city: City) -> None:
    """In a day from midnight, a 23-31 h shift is worked from 0 to 7 h
    (the end of the previous night's shift) rather than 23 to 24 h."""
    plans = _plans(
        city, drivers=1, shifts=[{"start_hour": 23, "end_hour": 31}]
    )
    assert _window(plans[0]) == (0.0, 7.0)


def test_shift_outside_the_run_starts_after_it(city: City) -> None:
    """A driver whose shift misses a short run still gets a plan, one
    that starts after the run ends."""
    plans = _plans(
        city,
        duration_s=2 * HOUR,
        start_hour=12.0,
        drivers=1,
        shifts=[{"start_hour": 18, "end_hour": 22}],
    )
    assert plans[0].shift_start >= 2 * HOUR
    assert _window(plans[0]) == (6.0, 10.0)


def test_stagger_spreads_shift_starts(city: City) -> None:
    """Staggered shifts keep their length and start within half the
    stagger of the shift's hour."""
    plans = _plans(
        city,
        drivers=50,
        stagger_s=1800.0,
        shifts=[{"start_hour": 10, "end_hour": 18}],
    )
    starts = np.array([plan.shift_start for plan in plans])
    lengths = np.array([plan.shift_end - plan.shift_start for plan in plans])

    assert np.all(np.abs(starts - 10 * HOUR) <= 900.0)
    assert starts.std() > 300.0
    assert np.allclose(lengths, 8 * HOUR)


def test_depot_start_puts_every_driver_on_one_node(city: City) -> None:
    """With a depot, every driver starts at the node nearest to it."""
    depot = city.location(city.zones[0].node_ids[0], "depot")
    plans = _plans(
        city,
        drivers=5,
        start={"kind": "depot", "depot": {"x": depot.x, "y": depot.y}},
    )
    assert {(p.start.x, p.start.y) for p in plans} == {(depot.x, depot.y)}
    assert plans[0].start.id == f"d0@n{city.zones[0].node_ids[0]}"


def test_zone_start_stays_in_the_listed_zones(city: City) -> None:
    """Drivers told to start in a zone start on one of its nodes."""
    plans = _plans(city, drivers=20, start={"kind": "zone", "zones": ["z1-0"]})
    zone = city.zone("z1-0")
    for plan in plans:
        assert city.nearest_node(plan.start.x, plan.start.y) in zone.node_ids


def test_capacity_and_speed_factors(city: City) -> None:
    """Every driver has the fleet's capacity and a speed factor drawn from
    its distribution."""
    plans = _plans(
        city,
        drivers=200,
        capacity=6,
        speed_factor={"kind": "uniform", "low": 0.8, "high": 1.2},
    )
    speeds = np.array([plan.speed_factor for plan in plans])

    assert {plan.capacity for plan in plans} == {6}
    assert speeds.min() >= 0.8
    assert speeds.max() <= 1.2
    assert abs(speeds.mean() - 1.0) < 0.03


def test_plans_are_deterministic_for_a_seed(city: City) -> None:
    """The same seed gives the same fleet."""
    settings = {"drivers": 8, "stagger_s": 600.0}
    assert _plans(city, seed=4, **settings) == _plans(city, seed=4, **settings)
    assert _plans(city, seed=4, **settings) != _plans(city, seed=5, **settings)
