"""Tests of the simulated city: generated and loaded networks, zones,
traffic and noise."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components

from engine.errors import InvalidRequestError
from simulator.city import City, ScaledTravel, build_city, synthetic_network
from simulator.scenario import CityConfig, SyntheticSettings, load_scenario

if TYPE_CHECKING:
    from engine.travel import RoadNetwork

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _city(config: CityConfig | None = None, start_hour: float = 0.0) -> City:
    return build_city(
        config or CityConfig(synthetic=SyntheticSettings(blocks=8)),
        start_hour,
        np.random.default_rng(5),
    )


def _strongly_connected(network: RoadNetwork) -> bool:
    tails, heads = network.edge_nodes.T
    size = network.node_count
    graph = csr_array(
        (np.ones(tails.size), (tails, heads)), shape=(size, size)
    )
    count, _ = connected_components(graph, connection="strong")
    return bool(count == 1)


def test_baseline_city_is_large_and_connected() -> None:
    """The baseline's generated city has at least 2,000 road nodes, all
    reachable from each other."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    assert scenario.city is not None

    city = build_city(scenario.city, 0.0, np.random.default_rng(scenario.seed))

    assert city.network.node_count >= 2000
    assert _strongly_connected(city.network)
    assert len(city.zones) == 16


@pytest.mark.parametrize("pattern", ["grid", "ring_radial"])
def test_synthetic_network_is_deterministic(pattern: str) -> None:
    """The same seed gives the same network; another seed moves the
    intersections."""
    settings = SyntheticSettings(pattern=pattern, blocks=10, rings=6)

    first = synthetic_network(settings, np.random.default_rng(3))
    again = synthetic_network(settings, np.random.default_rng(3))
    other = synthetic_network(settings, np.random.default_rng(4))

    assert np.array_equal(first.nodes, again.nodes)
    assert np.array_equal(first.edge_nodes, again.edge_nodes)
    assert np.array_equal(first.edge_travel_times, again.edge_travel_times)
    assert not np.array_equal(first.nodes[:10], other.nodes[:10])


def test_grid_has_the_expected_streets() -> None:
    """Without removals, a grid of b blocks has (b+1)^2 intersections and
    4 b (b+1) directed street segments, every one two-way."""
    settings = SyntheticSettings(blocks=6, removed_share=0.0)
    network = synthetic_network(settings, np.random.default_rng(0))

    assert network.node_count == 49
    assert network.edge_count == 4 * 6 * 7
    pairs = {tuple(pair) for pair in network.edge_nodes.tolist()}
    assert all((head, tail) in pairs for tail, head in pairs)


def test_ring_radial_is_connected_with_spokes() -> None:
    """A ring-radial city is strongly connected, has a centre and on each
    ring r a multiple of the spokes about a block apart (8 ceil(2 pi r /
    8)), and its centre meets every spoke."""
    settings = SyntheticSettings(
        pattern="ring_radial", rings=10, spokes=8, removed_share=0.0
    )
    network = synthetic_network(settings, np.random.default_rng(0))

    assert _strongly_connected(network)
    rings = [8 * math.ceil(2 * math.pi * r / 8) for r in range(1, 11)]
    assert network.node_count == 1 + sum(rings)
    centre = int(np.flatnonzero(network.node_ids == 0)[0])
    assert int((network.edge_nodes[:, 0] == centre).sum()) == 8


@pytest.mark.parametrize("pattern", ["grid", "ring_radial"])
def test_arterials_are_faster(pattern: str) -> None:
    """Arterial segments are driven at the arterial speed, the others at
    the residential speed, and nothing else."""
    settings = SyntheticSettings(
        pattern=pattern,
        blocks=10,
        rings=6,
        residential_kmh=20.0,
        arterial_kmh=60.0,
    )
    network = synthetic_network(settings, np.random.default_rng(0))

    speeds_kmh = network.edge_lengths / network.edge_travel_times * 3.6
    assert np.allclose(np.unique(speeds_kmh.round(6)), [20.0, 60.0])


def test_removed_streets_shrink_the_network() -> None:
    """Leaving out residential segments leaves fewer edges, and what is
    kept is still strongly connected."""
    full = synthetic_network(
        SyntheticSettings(blocks=12, removed_share=0.0),
        np.random.default_rng(0),
    )
    thinned = synthetic_network(
        SyntheticSettings(blocks=12, removed_share=0.3),
        np.random.default_rng(0),
    )
    assert thinned.edge_count < 0.85 * full.edge_count
    assert _strongly_connected(thinned)


def test_zones_partition_the_nodes() -> None:
    """Every node is in exactly one zone, zones are named by grid cell,
    and a zone's centre is one of its nodes."""
    city = _city(CityConfig(synthetic=SyntheticSettings(blocks=8), zones=3))

    members = np.concatenate([zone.node_ids for zone in city.zones])
    assert np.array_equal(np.sort(members), np.arange(city.network.node_count))
    assert [zone.id for zone in city.zones] == [
        f"z{row}-{col}" for row in range(3) for col in range(3)
    ]
    for zone in city.zones:
        node = city.nearest_node(zone.center.x, zone.center.y)
        assert node in zone.node_ids


def test_zone_rows_run_south_to_north() -> None:
    """Zone z0-0 lies south-west of zone z1-1."""
    city = _city(CityConfig(synthetic=SyntheticSettings(blocks=8), zones=2))
    south_west = city.zone("z0-0").center
    north_east = city.zone("z1-1").center
    assert south_west.x < north_east.x
    assert south_west.y < north_east.y


def test_multiplier_follows_the_hour_of_day() -> None:
    """The multiplier at simulated second t is that of the hour of day
    start_hour + t, wrapping at midnight."""
    multipliers = tuple(1.0 + hour / 100 for hour in range(24))
    config = CityConfig(
        synthetic=SyntheticSettings(blocks=4), hour_multipliers=multipliers
    )
    city = _city(config, start_hour=22.5)

    assert city.multiplier(0.0) == 1.22
    assert city.multiplier(1799.0) == 1.22
    assert city.multiplier(1800.0) == 1.23
    assert city.multiplier(5400.0) == 1.0
    assert city.multiplier(5400.0 + 86400.0) == 1.0


def test_travel_scales_the_network_and_is_shared_per_factor() -> None:
    """The engine-facing travel model is the network's matrix times the
    multiplier, one object per multiplier, named by the factor."""
    multipliers = (1.0,) * 12 + (1.5,) * 12
    config = CityConfig(
        synthetic=SyntheticSettings(blocks=6), hour_multipliers=multipliers
    )
    city = _city(config)
    rng = np.random.default_rng(1)
    points = [city.random_location(rng) for _ in range(5)]

    calm = city.travel(0.0)
    busy = city.travel(13 * 3600.0)

    assert isinstance(busy, ScaledTravel)
    assert city.travel(3600.0) is calm
    assert np.allclose(
        busy.matrix(points, points), 1.5 * calm.matrix(points, points)
    )
    assert calm.identity() != busy.identity()
    assert busy.identity().endswith("*1.5")


def test_actual_seconds_noise_has_mean_one_and_the_given_spread() -> None:
    """Actual trip times average the planned time, with the configured
    coefficient of variation, and never go negative."""
    config = CityConfig(synthetic=SyntheticSettings(blocks=4), noise_cv=0.2)
    city = _city(config)
    rng = np.random.default_rng(11)

    actual = np.array([city.actual_seconds(100.0, rng) for _ in range(20000)])

    assert abs(actual.mean() - 100.0) < 1.0
    assert abs(actual.std() / actual.mean() - 0.2) < 0.01
    assert actual.min() > 0


def test_no_noise_means_as_planned() -> None:
    """With noise_cv 0 a trip takes exactly its planned time."""
    config = CityConfig(synthetic=SyntheticSettings(blocks=4), noise_cv=0.0)
    city = _city(config)
    assert city.actual_seconds(42.0, np.random.default_rng(0)) == 42.0


def test_random_location_lies_on_a_node_of_its_zone() -> None:
    """A random location in a zone sits on one of the zone's nodes, and
    its id names the node after the prefix."""
    city = _city()
    rng = np.random.default_rng(2)
    zone = city.zones[-1]

    for _ in range(20):
        location = city.random_location(rng, zone, prefix="c7@")
        node = city.nearest_node(location.x, location.y)
        assert node in zone.node_ids
        assert location.id == f"c7@n{node}"


def test_nodes_within_a_radius() -> None:
    """Nodes within a radius are exactly those no farther than it."""
    city = _city()
    node = city.centre_node()
    found = city.nodes_within(node, 450.0)

    distance = np.hypot(*(city.network.nodes - city.network.nodes[node]).T)
    assert np.array_equal(found, np.flatnonzero(distance <= 450.0))


def test_city_refuses_bad_multipliers() -> None:
    """A city needs 24 positive multipliers."""
    network = synthetic_network(
        SyntheticSettings(blocks=2), np.random.default_rng(0)
    )
    zones = _city().zones
    with pytest.raises(InvalidRequestError, match="24 numbers"):
        City(network, zones, [1.0] * 23, 0.1, 0.0)


def test_munich_network_loads(shared_data: Path) -> None:
    """The Munich CSV network loads as a geographic city, keeping its
    largest strongly connected part, with zones measured in metres."""
    scenario = load_scenario(SCENARIOS / "munich.yaml")
    assert scenario.city is not None

    city = build_city(scenario.city, 0.0, np.random.default_rng(0))

    assert city.network.geographic
    assert 5000 < city.network.node_count <= 5237
    assert len(city.zones) >= 12
    near = city.nodes_within(city.centre_node(), 500.0)
    assert 1 < near.size < city.network.node_count // 4


def test_openstreetmap_network_loads(shared_data: Path) -> None:
    """A city can be read from an OpenStreetMap extract; zones without
    roads are left out."""
    path = shared_data / "networks" / "campo_grande" / "campo-grande.osm.gz"
    config = CityConfig(kind="osm", osm={"path": path}, zones=3)

    city = build_city(config, 0.0, np.random.default_rng(0))

    assert city.network.geographic
    assert city.network.node_count > 1000
    assert 1 <= len(city.zones) <= 9
