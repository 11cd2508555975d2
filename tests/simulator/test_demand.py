"""Tests of demand: merchants, and orders as a non-homogeneous Poisson
process."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import InvalidRequestError
from simulator.city import City, build_city
from simulator.demand import (
    OrderArrival,
    expected_orders,
    merchants,
    order_arrivals,
    rate_segments,
)
from simulator.scenario import (
    CityConfig,
    DemandConfig,
    Fault,
    SyntheticSettings,
    load_scenario,
)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DAY = 86400.0


@pytest.fixture(scope="module")
def city() -> City:
    """A small grid town with 3 x 3 zones."""
    config = CityConfig(synthetic=SyntheticSettings(blocks=12), zones=3)
    return build_city(config, 0.0, np.random.default_rng(0))


@pytest.fixture(scope="module")
def baseline_demand() -> DemandConfig:
    """The baseline scenario's demand: 8,000 orders a day, two peaks."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert scenario.demand is not None
    return scenario.demand


def _orders(
    config: DemandConfig,
    city: City,
    seed: int,
    duration_s: float = DAY,
    start_hour: float = 0.0,
    spikes: tuple[Fault, ...] = (),
) -> list[OrderArrival]:
    rng = np.random.default_rng(seed)
    shops = merchants(config, city, rng)
    return order_arrivals(
        config, city, shops, duration_s, start_hour, rng, spikes
    )


def test_orders_are_deterministic_for_a_seed(
    city: City, baseline_demand: DemandConfig
) -> None:
    """The same seed gives the same orders; another seed does not."""
    first = _orders(baseline_demand, city, seed=1, duration_s=4 * 3600)
    again = _orders(baseline_demand, city, seed=1, duration_s=4 * 3600)
    other = _orders(baseline_demand, city, seed=2, duration_s=4 * 3600)

    assert first == again
    assert first != other


def test_orders_are_sorted_and_inside_the_run(
    city: City, baseline_demand: DemandConfig
) -> None:
    """Orders come sorted by time, inside [0, duration), with unique
    ids."""
    orders = _orders(baseline_demand, city, seed=3, duration_s=6 * 3600)
    times = [order.time for order in orders]

    assert times == sorted(times)
    assert times[0] >= 0
    assert times[-1] < 6 * 3600
    assert len({order.id for order in orders}) == len(orders)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_daily_total_is_near_the_expected_number(
    city: City, baseline_demand: DemandConfig, seed: int
) -> None:
    """A day of the baseline's demand holds about 8,000 orders: within
    five Poisson standard deviations (about 450)."""
    orders = _orders(baseline_demand, city, seed=seed)
    expected = expected_orders(baseline_demand, DAY, 0.0)

    assert expected == pytest.approx(8000)
    assert abs(len(orders) - expected) < 5 * math.sqrt(expected)


def test_orders_peak_at_lunch_and_dinner(
    city: City, baseline_demand: DemandConfig
) -> None:
    """Each hour's count is within five standard deviations of its
    expectation, and the profile's peak hours (12 h and 19 h) get more
    than twice the orders of any hour before 10 h."""
    orders = _orders(baseline_demand, city, seed=4)
    counts = np.bincount([int(order.time // 3600) for order in orders])
    profile = np.array(baseline_demand.hourly_profile)
    expected = 8000 * profile / profile.sum()

    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    assert counts[12] > 2 * counts[:10].max()
    assert counts[19] > 2 * counts[:10].max()
    assert set(np.argsort(counts)[-2:]) == {12, 19}


def test_start_hour_shifts_the_profile(
    city: City, baseline_demand: DemandConfig
) -> None:
    """A run that starts at 11:30 sees the 12 h rate from its 1,800th
    second on."""
    segments = rate_segments(baseline_demand, 7200.0, 11.5)
    profile = np.array(baseline_demand.hourly_profile)
    per_second = 8000 * profile / profile.sum() / 3600

    assert [(s.start, s.end) for s in segments] == [
        (0.0, 1800.0),
        (1800.0, 5400.0),
        (5400.0, 7200.0),
    ]
    assert [s.per_second for s in segments] == pytest.approx(
        list(per_second[[11, 12, 13]])
    )


def test_demand_spike_multiplies_the_rate_in_its_window(
    city: City, baseline_demand: DemandConfig
) -> None:
    """A demand spike multiplies the expected orders of its window by its
    factor and leaves the rest alone; other faults change nothing."""
    spike = Fault(kind="demand_spike", start_s=3600, end_s=5400, factor=3.0)
    outage = Fault(kind="llm_outage", start_s=0, end_s=7200)

    plain = expected_orders(baseline_demand, 7200.0, 12.0)
    window = expected_orders(baseline_demand, 5400.0, 12.0) - expected_orders(
        baseline_demand, 3600.0, 12.0
    )
    spiked = expected_orders(baseline_demand, 7200.0, 12.0, (spike, outage))

    assert spiked == pytest.approx(plain + 2 * window)

    orders = _orders(
        baseline_demand,
        city,
        seed=5,
        duration_s=7200.0,
        start_hour=12.0,
        spikes=(spike,),
    )
    inside = sum(3600 <= order.time < 5400 for order in orders)
    before = sum(1800 <= order.time < 3600 for order in orders)
    assert inside > 2 * before


@settings(max_examples=50, deadline=None)
@given(
    start_hour=st.floats(0, 23.99),
    duration_s=st.floats(1.0, 3 * DAY),
    spike=st.tuples(st.floats(0, 2 * DAY), st.floats(1, DAY)),
)
def test_rate_segments_tile_the_run(
    start_hour: float, duration_s: float, spike: tuple[float, float]
) -> None:
    """Segments cover [0, duration) end to end, each inside one hour of
    the day, and a whole day without spikes expects orders_per_day."""
    config = DemandConfig(
        orders_per_day=1000, hourly_profile=tuple(range(1, 25))
    )
    start, length = spike
    fault = Fault(
        kind="demand_spike", start_s=start, end_s=start + length, factor=2
    )

    segments = rate_segments(config, duration_s, start_hour, (fault,))

    assert segments[0].start == 0.0
    assert segments[-1].end == duration_s
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
    for segment in segments:
        assert segment.end > segment.start
        first = math.floor(start_hour + segment.start / 3600 + 1e-9)
        last = math.ceil(start_hour + segment.end / 3600 - 1e-9)
        assert last - first <= 1
    assert expected_orders(config, DAY, start_hour) == pytest.approx(1000)


def test_merchants_follow_zone_weights(city: City) -> None:
    """Merchants are only placed in zones of positive weight, in
    proportion to the weights, each on a node of its zone."""
    config = DemandConfig(
        merchants={
            "count": 600,
            "zone_weights": {"z0-0": 3.0, "z2-2": 1.0},
            "default_weight": 0.0,
        }
    )
    shops = merchants(config, city, np.random.default_rng(6))

    zones = [shop.zone for shop in shops]
    assert set(zones) == {"z0-0", "z2-2"}
    assert 0.68 < zones.count("z0-0") / len(zones) < 0.82
    for shop in shops[:50]:
        node = city.nearest_node(shop.location.x, shop.location.y)
        assert node in city.zone(shop.zone).node_ids


def test_merchants_need_a_weighted_zone(city: City) -> None:
    """All zones weighing zero is refused with the field named."""
    config = DemandConfig(merchants={"default_weight": 0.0})
    with pytest.raises(InvalidRequestError, match="zone_weights"):
        merchants(config, city, np.random.default_rng(0))


def test_popularity_decides_the_share_of_orders(city: City) -> None:
    """Without spread all merchants weigh 1; with it, a merchant's share
    of orders follows its weight."""
    flat = DemandConfig(merchants={"count": 5, "popularity_sigma": 0.0})
    assert {
        m.weight for m in merchants(flat, city, np.random.default_rng(0))
    } == {1.0}

    skewed = DemandConfig(
        orders_per_day=20000, merchants={"count": 4, "popularity_sigma": 1.0}
    )
    rng = np.random.default_rng(7)
    shops = merchants(skewed, city, rng)
    orders = order_arrivals(skewed, city, shops, DAY, 0.0, rng)

    weights = np.array([shop.weight for shop in shops])
    shares = np.array(
        [sum(o.merchant.id == shop.id for o in orders) for shop in shops]
    ) / len(orders)
    assert np.allclose(shares, weights / weights.sum(), atol=0.02)


def test_customers_live_within_the_delivery_radius(city: City) -> None:
    """A customer is a node within the delivery radius of the merchant,
    never the merchant's own node, and named after the order."""
    config = DemandConfig(orders_per_day=2000, delivery_radius_m=600.0)
    orders = _orders(config, city, seed=8, duration_s=6 * 3600)

    assert orders
    for order in orders:
        shop = order.merchant.location
        distance = math.hypot(
            order.customer.x - shop.x, order.customer.y - shop.y
        )
        assert 0 < distance <= 600.0
        assert order.customer.id.startswith(f"{order.id}@n")


def test_order_attributes_come_from_the_config(city: City) -> None:
    """Preparation times, promise, patience and quantities are those the
    demand section sets."""
    config = DemandConfig(
        orders_per_day=5000,
        prep_time_s={"kind": "uniform", "low": 300, "high": 600},
        sla_s=1800,
        patience_s=600,
        quantity={"values": [1, 3], "weights": [3, 1]},
    )
    orders = _orders(config, city, seed=9)
    quantities = np.array([order.quantity for order in orders])

    assert all(300 <= order.prep_s <= 600 for order in orders)
    assert {order.sla_s for order in orders} == {1800}
    assert {order.patience_s for order in orders} == {600}
    assert set(quantities.tolist()) == {1, 3}
    assert 0.72 < float(np.mean(quantities == 1)) < 0.78
