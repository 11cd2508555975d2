"""Tests of the travel-time models: geometric, road network, loaders."""

from __future__ import annotations

import csv
import gzip
import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import engine.travel
from engine.errors import InvalidRequestError
from engine.model import Location, Request
from engine.travel import (
    DEFAULT_SPEEDS_KMH,
    Euclidean,
    Haversine,
    RoadNetwork,
    load_csv_network,
    load_osm_network,
)
from engine.travel.geometric import EARTH_RADIUS_M

if TYPE_CHECKING:
    from pathlib import Path

METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180

# A small planar network. Nodes 10..40 form a strongly connected
# component; node 50 only has an edge into it, so it is dropped. There
# are two parallel edges 20 -> 30, a self-loop and one-way edges.
TINY_NODES = {10: (0.0, 0.0), 20: (100.0, 0.0), 30: (150.0, 0.0)}
TINY_NODES |= {40: (150.0, 40.0), 50: (-30.0, 0.0)}
TINY_EDGES = [
    # from, to, metres, seconds
    (10, 20, 100.0, 10.0),
    (20, 10, 100.0, 10.0),
    (20, 30, 50.0, 5.0),
    (20, 30, 60.0, 7.0),
    (30, 20, 50.0, 5.0),
    (10, 30, 150.0, 20.0),
    (30, 40, 40.0, 4.0),
    (40, 10, 60.0, 6.0),
    (50, 10, 30.0, 3.0),
    (10, 10, 0.0, 0.0),
]
TINY_TIMES = np.array(
    [
        [0.0, 10.0, 15.0, 19.0],
        [10.0, 0.0, 5.0, 9.0],
        [10.0, 5.0, 0.0, 4.0],
        [6.0, 16.0, 21.0, 0.0],
    ]
)
"""Fastest seconds between nodes 10, 20, 30, 40, worked out by hand."""


def tiny_network(memo_size: int = 64) -> RoadNetwork:
    ids = list(TINY_NODES)
    tails, heads, lengths, times = zip(*TINY_EDGES, strict=True)
    return RoadNetwork(
        ids,
        [TINY_NODES[i][0] for i in ids],
        [TINY_NODES[i][1] for i in ids],
        tails,
        heads,
        lengths,
        times,
        geographic=False,
        memo_size=memo_size,
    )


def id_edges(network: RoadNetwork) -> set[tuple[int, int]]:
    ids = network.node_ids.tolist()
    return {(ids[u], ids[v]) for u, v in network.edge_nodes.tolist()}


def edge_index(network: RoadNetwork, tail_id: int, head_id: int) -> int:
    ids = network.node_ids.tolist()
    path = [ids.index(tail_id), ids.index(head_id)]
    return int(network.path_edges(path)[0])


def strongly_connected(network: RoadNetwork) -> bool:
    everyone = np.arange(network.node_count)
    out = network.node_matrix([0], everyone)
    back = network.node_matrix(everyone, [0])
    return bool(np.isfinite(out).all() and np.isfinite(back).all())


# Geometric models


def test_euclidean_is_distance_over_speed() -> None:
    """A 3-4-5 triangle at speed 2 takes 2.5 s along its hypotenuse."""
    a, b = Location("a", 0, 0), Location("b", 3, 4)
    times = Euclidean(speed=2).matrix([a, b], [a, b, Location("c", 3, 0)])

    assert times.shape == (2, 3)
    np.testing.assert_allclose(times, [[0, 2.5, 1.5], [2.5, 0, 2]])


def test_haversine_matches_arcs_of_the_earth() -> None:
    """One degree of the equator and a quarter meridian, by hand."""
    origin = Location("o", 0, 0)
    east = Location("e", 1, 0)
    pole = Location("p", 0, 90)
    times = Haversine(speed=10).matrix([origin], [origin, east, pole])

    expected = [0, METRES_PER_DEGREE / 10, EARTH_RADIUS_M * math.pi / 20]
    np.testing.assert_allclose(times, [expected], rtol=1e-12)
    np.testing.assert_allclose(times[0, 1], 11_119.5, rtol=1e-5)


@pytest.mark.parametrize("model", [Euclidean, Haversine])
@pytest.mark.parametrize("speed", [0.0, -1.0, math.nan, math.inf])
def test_geometric_models_reject_bad_speed(
    model: type[Euclidean | Haversine], speed: float
) -> None:
    """A speed that is not a finite positive number is refused."""
    with pytest.raises(InvalidRequestError, match=r"travel\.speed"):
        model(speed=speed)


# Road network on a hand-built graph


def test_tiny_network_travel_times_are_exact(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Fastest times match the hand-worked table; node 50 is pruned."""
    caplog.set_level(logging.INFO, logger="engine.travel.network")
    network = tiny_network()

    assert network.node_ids.tolist() == [10, 20, 30, 40]
    assert network.node_count == 4
    assert network.edge_count == 7
    np.testing.assert_array_equal(
        network.node_matrix(np.arange(4), np.arange(4)), TINY_TIMES
    )
    assert "dropped 1" in caplog.text


def test_parallel_edges_keep_the_fastest() -> None:
    """Of two edges 20 -> 30 only the 5 s one remains; self-loops go."""
    network = tiny_network()
    fastest = edge_index(network, 20, 30)

    assert network.edge_travel_times[fastest] == 5.0
    assert network.edge_lengths[fastest] == 50.0
    assert (10, 10) not in id_edges(network)


def test_one_way_edges_are_directed() -> None:
    """10 -> 30 is direct, but 30 -> 10 goes round through 40."""
    network = tiny_network()

    assert (10, 30) in id_edges(network)
    assert (30, 10) not in id_edges(network)
    assert network.shortest_path(2, 0) == [2, 3, 0]


def test_shortest_path_walks_the_fastest_route() -> None:
    """The path's edges add up to the matrix entry, end to end."""
    network = tiny_network()
    path = network.shortest_path(3, 2)
    steps = network.path_edges(path)

    assert path == [3, 0, 1, 2]
    assert network.edge_travel_times[steps].sum() == TINY_TIMES[3, 2]
    assert network.edge_lengths[steps].tolist() == [60.0, 100.0, 50.0]
    assert network.shortest_path(1, 1) == [1]


def test_path_edges_rejects_a_jump() -> None:
    """Consecutive path nodes must be joined by an edge."""
    with pytest.raises(InvalidRequestError, match="joined by an edge"):
        tiny_network().path_edges([3, 2])


def test_backward_search_agrees_with_forward() -> None:
    """Many origins to one destination, and repeats, read the table."""
    network = tiny_network()
    origins = [3, 0, 1, 2, 3]

    column = network.node_matrix(origins, [2])
    rows = network.node_matrix([1, 1], [0, 3, 0])

    np.testing.assert_array_equal(column[:, 0], TINY_TIMES[origins, 2])
    np.testing.assert_array_equal(rows, TINY_TIMES[np.ix_([1, 1], [0, 3, 0])])


def test_empty_questions_get_empty_answers() -> None:
    """No origins or no destinations give an empty matrix, no search."""
    network = tiny_network()
    somewhere = [Location("a", 0, 0)]

    assert network.matrix([], somewhere).shape == (0, 1)
    assert network.matrix(somewhere, []).shape == (1, 0)
    assert network.dijkstra_runs == 0


def test_snap_picks_the_nearest_node() -> None:
    """Locations go to their nearest node; a pruned node is not used."""
    network = tiny_network()
    locations = [
        Location("near 20", 98, 3),
        Location("near 40", 149, 30),
        Location("near 50", -30, 0),
    ]

    assert network.snap(locations).tolist() == [1, 3, 0]


def test_locations_at_one_node_are_zero_apart() -> None:
    """Distinct locations snapped to one node are 0 s apart."""
    network = tiny_network()
    a, b = Location("a", 101, 1), Location("b", 99, -1)
    c = Location("c", 150, 39)

    times = network.matrix([a, b, c], [a, b, c])

    np.testing.assert_array_equal(
        times, [[0, 0, 9], [0, 0, 9], [6 + 10, 6 + 10, 0]]
    )


def test_geographic_snapping_measures_metres() -> None:
    """At 60 degrees north a degree of longitude is half a degree of
    latitude long, so the node 0.010 degrees east is nearer than the one
    0.006 degrees north."""
    network = RoadNetwork(
        [1, 2],
        [10.010, 10.000],
        [60.000, 60.006],
        [1, 2],
        [2, 1],
        [700.0, 700.0],
        [60.0, 60.0],
        geographic=True,
    )

    assert network.snap([Location("here", 10.0, 60.0)]).tolist() == [0]


def test_request_uses_the_network_as_travel_times() -> None:
    """A Request computes its travel matrix through the network."""
    network = tiny_network()
    locations = tuple(
        Location(str(i), *TINY_NODES[i]) for i in (10, 20, 30, 40)
    )
    request = Request(locations, (), (), travel=network)

    np.testing.assert_array_equal(request.travel_matrix, TINY_TIMES)


# Memo of matrices


def test_repeated_matrix_needs_no_new_search() -> None:
    """The same locations again are answered from the memo."""
    network = tiny_network()
    places = [Location(str(i), *TINY_NODES[i]) for i in (10, 30, 40)]

    first = network.matrix(places, places)
    runs = network.dijkstra_runs
    second = network.matrix(places, places)

    assert runs == 1
    assert network.dijkstra_runs == runs
    np.testing.assert_array_equal(first, second)


def test_memo_is_keyed_by_snapped_nodes() -> None:
    """Other locations at the same nodes reuse the remembered matrix."""
    network = tiny_network()
    network.matrix([Location("a", 0, 0)], [Location("b", 100, 0)])
    moved = network.matrix([Location("c", 1, 1)], [Location("d", 99, 2)])

    assert network.dijkstra_runs == 1
    assert moved.tolist() == [[10.0]]


def test_memo_hands_out_fresh_arrays() -> None:
    """Changing a returned matrix does not change later answers."""
    network = tiny_network()
    first = network.node_matrix([0, 1], [2, 3])
    first[:] = -1

    np.testing.assert_array_equal(
        network.node_matrix([0, 1], [2, 3]), TINY_TIMES[:2, 2:]
    )


def test_memo_is_bounded() -> None:
    """With room for one matrix, alternating questions search again."""
    network = tiny_network(memo_size=1)
    for _ in range(2):
        network.node_matrix([0], [1])
        network.node_matrix([1], [0])

    assert network.dijkstra_runs == 4


def test_memo_can_be_off() -> None:
    """With memo_size 0 every question runs a search."""
    network = tiny_network(memo_size=0)
    network.node_matrix([0], [1])
    network.node_matrix([0], [1])

    assert network.dijkstra_runs == 2


# Invalid networks and questions


def network_with(**changes: object) -> RoadNetwork:
    arrays: dict[str, object] = {
        "node_ids": [1, 2],
        "xs": [0.0, 1.0],
        "ys": [0.0, 1.0],
        "edge_from": [1, 2],
        "edge_to": [2, 1],
        "length": [1.0, 1.0],
        "travel_time": [1.0, 1.0],
        "geographic": False,
    }
    arrays |= changes
    return RoadNetwork(**arrays)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"edge_to": [2, 3]}, r"network\.edge_to\[1\] = .*3.*unknown"),
        ({"travel_time": [1.0, -1.0]}, r"travel_time\[1\].*>= 0"),
        ({"length": [math.nan, 1.0]}, r"length\[0\]"),
        ({"node_ids": [1, 1]}, r"node_ids = 1: ids must be unique"),
        ({"xs": [0.0]}, "same length"),
        ({"node_ids": [], "xs": [], "ys": []}, "at least one node"),
        ({"node_ids": [1.5, 2.0]}, "must hold integers"),
        ({"ys": [0.0, 91.0], "geographic": True}, r"ys\[1\].*latitude"),
        ({"memo_size": -1}, r"memo_size = -1: must be >= 0"),
    ],
)
def test_bad_network_is_refused(
    changes: dict[str, object], message: str
) -> None:
    """Each broken input raises, naming the array, value and rule."""
    with pytest.raises(InvalidRequestError, match=message):
        network_with(**changes)


@pytest.mark.parametrize("nodes", [[4], [-1], [0.5]])
def test_unknown_node_index_is_refused(nodes: list[float]) -> None:
    """Node indices must be integers of the kept network."""
    with pytest.raises(InvalidRequestError, match="origin_nodes"):
        tiny_network().node_matrix(nodes, [0])


def test_public_names_are_exported() -> None:
    """The package root lists the network and its loaders."""
    for name in ("RoadNetwork", "load_csv_network", "load_osm_network"):
        assert name in engine.travel.__all__


# CSV loader


def write_tiny_csv(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    with (folder / "nodes.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["node_index", "is_stop_only", "pos_x", "pos_y"])
        for node, (x, y) in TINY_NODES.items():
            writer.writerow([node, False, x, y])
    with (folder / "edges.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["from_node", "to_node", "distance", "travel_time"])
        writer.writerows(TINY_EDGES)
    return folder


def test_csv_loader_reads_folder_or_files(tmp_path: Path) -> None:
    """A folder and its two files give the same, exact network."""
    folder = write_tiny_csv(tmp_path / "tiny")
    from_folder = load_csv_network(folder, geographic=False)
    from_files = load_csv_network(
        folder / "nodes.csv", folder / "edges.csv", geographic=False
    )

    for network in (from_folder, from_files):
        assert network.node_ids.tolist() == [10, 20, 30, 40]
        np.testing.assert_array_equal(
            network.node_matrix(np.arange(4), np.arange(4)), TINY_TIMES
        )


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("file", "line", "text", "message"),
    [
        ("edges.csv", 3, "20,10,100,fast", r"line 3, travel_time = 'fast'"),
        ("edges.csv", 2, "10,20,-1,10", r"line 2, distance .*>= 0"),
        ("edges.csv", 4, "20,99,50,5", r"line 4, to_node = '99'.*node_index"),
        ("edges.csv", 2, "10,20,100", "line 2 = .*must have 4 fields"),
        ("edges.csv", 1, "from,to,distance,time", "line 1 = .*columns"),
        ("nodes.csv", 3, "10,False,5,5", r"line 3, node_index.*line 2"),
        ("nodes.csv", 2, "x,False,0,0", r"line 2, node_index = 'x'"),
        ("nodes.csv", 2, "10,False,0,inf", r"line 2, pos_y = 'inf'"),
    ],
)
def test_csv_loader_names_file_line_and_value(
    tmp_path: Path, file: str, line: int, text: str, message: str
) -> None:
    """A malformed row is reported with its file, line and column."""
    folder = write_tiny_csv(tmp_path / "tiny")
    replace_line(folder / file, line, text)

    with pytest.raises(InvalidRequestError, match=message) as raised:
        load_csv_network(folder, geographic=False)
    assert str(folder / file) in str(raised.value)


def test_csv_loader_names_a_missing_file(tmp_path: Path) -> None:
    """A missing edges file is named in the error."""
    folder = write_tiny_csv(tmp_path / "tiny")
    (folder / "edges.csv").unlink()

    with pytest.raises(InvalidRequestError, match="existing file") as raised:
        load_csv_network(folder)
    assert str(folder / "edges.csv") in str(raised.value)


def test_csv_loader_needs_both_files(tmp_path: Path) -> None:
    """A lone nodes file without an edges file is refused."""
    folder = write_tiny_csv(tmp_path / "tiny")

    with pytest.raises(InvalidRequestError, match="edges_csv"):
        load_csv_network(folder / "nodes.csv")


# OpenStreetMap loader

# Three nodes near the equator: way 100 joins 1 and 2 (0.001 degrees of
# longitude apart) with the tags under test; ways 101 and 102 close a
# two-way triangle so that the network stays strongly connected.
OSM_NODES = {1: (0.0, 0.0), 2: (0.001, 0.0), 3: (0.0005, 0.001)}
SIDE_METRES = 0.001 * METRES_PER_DEGREE


def write_osm(
    path: Path,
    tags: dict[str, str],
    *,
    extra_nodes: dict[int, tuple[float, float]] | None = None,
    extra_ways: list[tuple[list[int], dict[str, str]]] | None = None,
) -> Path:
    nodes = OSM_NODES | (extra_nodes or {})
    ways = [
        ([1, 2], tags),
        ([2, 3], {"highway": "residential"}),
        ([3, 1], {"highway": "residential"}),
        *(extra_ways or []),
    ]
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6">']
    for node, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{node}" lat="{lat}" lon="{lon}"/>')
    for way, (refs, way_tags) in enumerate(ways, start=100):
        lines.append(f'  <way id="{way}">')
        lines += [f'    <nd ref="{ref}"/>' for ref in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in way_tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    text = "\n".join(lines) + "\n"

    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("tags", "directions"),
    [
        ({"highway": "residential"}, {(1, 2), (2, 1)}),
        ({"highway": "residential", "oneway": "yes"}, {(1, 2)}),
        ({"highway": "primary", "oneway": "1"}, {(1, 2)}),
        ({"highway": "tertiary", "oneway": "true"}, {(1, 2)}),
        ({"highway": "secondary", "oneway": "-1"}, {(2, 1)}),
        ({"highway": "motorway"}, {(1, 2)}),
        ({"highway": "motorway", "oneway": "no"}, {(1, 2), (2, 1)}),
        ({"highway": "residential", "junction": "roundabout"}, {(1, 2)}),
        ({"highway": "footway"}, set()),
        ({"highway": "cycleway"}, set()),
        ({"highway": "construction"}, set()),
        ({"building": "yes"}, set()),
    ],
)
def test_osm_ways_keep_their_direction(
    tmp_path: Path, tags: dict[str, str], directions: set[tuple[int, int]]
) -> None:
    """Drivable ways give edges in the directions their tags allow."""
    network = load_osm_network(write_osm(tmp_path / "map.osm", tags))
    between = id_edges(network) & {(1, 2), (2, 1)}

    assert between == directions
    assert network.geographic


@pytest.mark.parametrize(
    ("maxspeed", "kmh"),
    [
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("30 mph", 30 * 1.609344),
        ("50;60", 50.0),
        ("signals", DEFAULT_SPEEDS_KMH["residential"]),
        ("none", DEFAULT_SPEEDS_KMH["residential"]),
        ("0", DEFAULT_SPEEDS_KMH["residential"]),
    ],
)
def test_osm_speed_comes_from_maxspeed(
    tmp_path: Path, maxspeed: str, kmh: float
) -> None:
    """A readable maxspeed sets the speed, else the road type does."""
    tags = {"highway": "residential", "maxspeed": maxspeed}
    network = load_osm_network(write_osm(tmp_path / "map.osm", tags))
    edge = edge_index(network, 1, 2)

    assert network.edge_lengths[edge] == pytest.approx(SIDE_METRES)
    assert network.edge_travel_times[edge] == pytest.approx(
        SIDE_METRES / (kmh / 3.6)
    )


def test_osm_keeps_only_nodes_of_drivable_ways(tmp_path: Path) -> None:
    """Loose nodes, footway nodes and missing references are left out."""
    path = write_osm(
        tmp_path / "map.osm",
        {"highway": "residential"},
        extra_nodes={4: (0.002, 0.002), 5: (0.0, -0.001)},
        extra_ways=[
            ([1, 5], {"highway": "footway"}),
            ([2, 9], {"highway": "residential"}),
        ],
    )

    assert load_osm_network(path).node_ids.tolist() == [1, 2, 3]


def test_osm_reads_gzip(tmp_path: Path) -> None:
    """A gzip-compressed file gives the same network as plain XML."""
    tags = {"highway": "residential", "oneway": "yes"}
    plain = load_osm_network(write_osm(tmp_path / "map.osm", tags))
    packed = load_osm_network(write_osm(tmp_path / "map.osm.gz", tags))

    assert id_edges(packed) == id_edges(plain)
    np.testing.assert_array_equal(
        packed.edge_travel_times, plain.edge_travel_times
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<osm><node id='1' lat='0' lon='0'>", r"line 1, column \d+"),
        (b"\x1f\x8b this is no gzip", "gzip"),
        (b"<osm><node id='1' lat='north' lon='0'/></osm>", "must be numbers"),
        (b"<osm><node id='1' lat='0' lon='0'/></osm>", "drivable highway"),
    ],
)
def test_osm_loader_names_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """Broken or useless OSM files raise an error naming the file."""
    path = tmp_path / "broken.osm"
    path.write_bytes(content)

    with pytest.raises(InvalidRequestError, match=message) as raised:
        load_osm_network(path)
    assert str(path) in str(raised.value)


def test_osm_loader_names_a_missing_file(tmp_path: Path) -> None:
    """A missing OSM file is named in the error."""
    path = tmp_path / "nowhere.osm.gz"

    with pytest.raises(InvalidRequestError, match="existing file") as raised:
        load_osm_network(path)
    assert str(path) in str(raised.value)


# Shared data: Munich (CSV) and Campo Grande (OSM)


@pytest.fixture(scope="module")
def munich(shared_data: Path) -> RoadNetwork:
    return load_csv_network(shared_data / "networks" / "munich")


@pytest.fixture(scope="module")
def campo_grande(shared_data: Path) -> RoadNetwork:
    path = shared_data / "networks" / "campo_grande" / "campo-grande.osm.gz"
    return load_osm_network(path)


def test_munich_keeps_its_largest_component(munich: RoadNetwork) -> None:
    """Some of the 5,237 nodes and 13,101 edges go; the rest is one
    strongly connected component."""
    assert 5_000 < munich.node_count < 5_237
    assert 12_000 < munich.edge_count < 13_101
    assert strongly_connected(munich)


def test_munich_matrix_is_sound(munich: RoadNetwork) -> None:
    """A 50 x 50 matrix over nodes is finite, non-negative, zero on the
    diagonal, and equal to the node matrix of the snapped nodes."""
    rng = np.random.default_rng(7)
    chosen = rng.choice(munich.node_count, size=50, replace=False)
    places = [Location(str(i), *munich.nodes[i]) for i in chosen]

    times = munich.matrix(places, places)
    snapped = munich.snap(places)

    assert times.shape == (50, 50)
    assert np.isfinite(times).all()
    assert (times >= 0).all()
    np.testing.assert_array_equal(np.diag(times), 0)
    np.testing.assert_array_equal(times, munich.node_matrix(snapped, snapped))


@pytest.fixture(scope="module")
def munich_networkx(shared_data: Path) -> Any:
    """The raw Munich edges as a networkx graph, fastest of parallels."""
    nx = pytest.importorskip("networkx")
    graph = nx.DiGraph()
    edges = shared_data / "networks" / "munich" / "edges.csv"
    with edges.open(newline="") as stream:
        for row in csv.DictReader(stream):
            tail, head = int(row["from_node"]), int(row["to_node"])
            seconds = float(row["travel_time"])
            known = graph.get_edge_data(tail, head, {"time": math.inf})
            graph.add_edge(tail, head, time=min(seconds, known["time"]))
    return graph


@pytest.mark.parametrize(("sources", "targets"), [(12, 40), (40, 6)])
def test_munich_agrees_with_networkx(
    munich: RoadNetwork, munich_networkx: Any, sources: int, targets: int
) -> None:
    """Random node pairs take the same time as networkx's Dijkstra on
    the raw edges, searching forwards and backwards."""
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(sources)
    origins = rng.choice(munich.node_count, size=sources, replace=False)
    destinations = rng.choice(munich.node_count, size=targets, replace=False)
    ids = munich.node_ids

    times = munich.node_matrix(origins, destinations)
    for row, origin in enumerate(origins):
        reach = nx.single_source_dijkstra_path_length(
            munich_networkx, int(ids[origin]), weight="time"
        )
        expected = [reach[int(ids[d])] for d in destinations]
        np.testing.assert_allclose(times[row], expected, rtol=0, atol=1e-6)


def test_munich_paths_cost_their_matrix_time(munich: RoadNetwork) -> None:
    """Edges along a shortest path add up to its matrix entry."""
    rng = np.random.default_rng(3)
    for origin, destination in rng.choice(munich.node_count, (5, 2)):
        path = munich.shortest_path(int(origin), int(destination))
        seconds = munich.edge_travel_times[munich.path_edges(path)].sum()

        assert path[0] == origin
        assert path[-1] == destination
        assert seconds == pytest.approx(
            munich.node_matrix([origin], [destination])[0, 0], abs=1e-6
        )


def test_campo_grande_is_a_drivable_network(
    campo_grande: RoadNetwork,
) -> None:
    """The OSM extract gives a non-empty, strongly connected network
    whose edges all have positive speeds no faster than the defaults."""
    kmh = campo_grande.edge_lengths / campo_grande.edge_travel_times * 3.6

    assert campo_grande.node_count > 1_000
    assert strongly_connected(campo_grande)
    assert (campo_grande.edge_lengths > 0).all()
    assert (kmh > 0).all()
    assert kmh.max() <= max(DEFAULT_SPEEDS_KMH.values()) + 1e-9


def test_campo_grande_matrix_is_finite(campo_grande: RoadNetwork) -> None:
    """A 100 x 100 matrix between random nodes is finite."""
    rng = np.random.default_rng(11)
    chosen = rng.choice(campo_grande.node_count, size=100, replace=False)
    places = [Location(str(i), *campo_grande.nodes[i]) for i in chosen]

    times = campo_grande.matrix(places, places)

    assert np.isfinite(times).all()
    assert (times >= 0).all()
