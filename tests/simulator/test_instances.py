"""Tests of the Li & Lim and Solomon instance readers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.errors import InvalidRequestError
from engine.model import Options
from engine.travel import Euclidean
from simulator.bench.instances import (
    DEPOT,
    BestKnown,
    read_best_known,
    read_lilim,
    read_solomon,
)

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(scope="module")
def benchmarks(shared_data: Path) -> Path:
    """The benchmark folder of the shared data."""
    return shared_data / "benchmarks"


def node_rows(path: Path) -> dict[int, list[float]]:
    """Li & Lim node lines by node index, parsed here independently."""
    rows = [line.split() for line in path.read_text().splitlines()[1:]]
    return {int(row[0]): [float(v) for v in row] for row in rows if row}


def solomon_rows(path: Path) -> dict[int, list[float]]:
    """Solomon customer lines (seven numbers) by customer number."""
    rows = [line.split() for line in path.read_text().splitlines()]
    return {
        int(row[0]): [float(v) for v in row]
        for row in rows
        if len(row) == 7 and row[0].isdigit()
    }


# Li & Lim


def test_lilim_lc101_has_an_order_per_pickup(benchmarks: Path) -> None:
    """Each node with a positive demand becomes one order; lc101 has 53."""
    path = benchmarks / "lilim100" / "lc101.txt"
    pickups = sorted(n for n, row in node_rows(path).items() if row[3] > 0)

    instance = read_lilim(path)

    assert instance.name == "lc101"
    assert len(pickups) == 53
    assert sorted(int(order.id) for order in instance.request.orders) == (
        pickups
    )


def test_lilim_lc101_fleet_works_the_depot_window(benchmarks: Path) -> None:
    """25 vehicles of capacity 200 start and end at the depot within its
    window [0, 1236]."""
    request = read_lilim(benchmarks / "lilim100" / "lc101.txt").request

    assert len(request.vehicles) == 25
    assert {vehicle.id for vehicle in request.vehicles} == {
        f"v{k}" for k in range(25)
    }
    for vehicle in request.vehicles:
        assert (vehicle.start, vehicle.end) == (DEPOT, DEPOT)
        assert vehicle.capacity == 200
        assert (vehicle.shift_start, vehicle.shift_end) == (0.0, 1236.0)
        assert vehicle.onboard == vehicle.committed == ()


def test_lilim_orders_match_their_pickup_and_delivery_rows(
    benchmarks: Path,
) -> None:
    """Every order's quantity, windows and services are those of its
    pickup row and of the delivery row that row names."""
    path = benchmarks / "lilim100" / "lc101.txt"
    rows = node_rows(path)

    request = read_lilim(path).request

    for order in request.orders:
        pickup = rows[int(order.id)]
        delivery = rows[int(pickup[8])]
        assert order.pickup == order.id
        assert order.delivery == str(int(pickup[8]))
        assert delivery[7] == pickup[0]
        assert order.quantity == pickup[3] == -delivery[3]
        assert (order.ready_time, order.pickup_due) == (pickup[4], pickup[5])
        assert order.pickup_service == pickup[6]
        assert (order.delivery_ready, order.due_time) == (
            delivery[4],
            delivery[5],
        )
        assert order.delivery_service == delivery[6]


def test_lilim_locations_are_the_nodes_with_euclidean_travel(
    benchmarks: Path,
) -> None:
    """Location ids are node indices, and travel time is distance."""
    path = benchmarks / "lilim100" / "lc101.txt"
    rows = node_rows(path)

    request = read_lilim(path).request

    assert [int(loc.id) for loc in request.locations] == list(rows)
    assert [(loc.x, loc.y) for loc in request.locations] == [
        (row[1], row[2]) for row in rows.values()
    ]
    assert request.travel == Euclidean(speed=1.0)


def test_readers_keep_the_options_given(benchmarks: Path) -> None:
    """Options passed to a reader end up on the request."""
    options = Options(time_limit=0.1, seed=4)

    lilim = read_lilim(benchmarks / "lilim100" / "lc101.txt", options)
    solomon = read_solomon(benchmarks / "solomon100" / "C101.txt", options)

    assert lilim.request.options is options
    assert solomon.request.options is options


# Solomon


def test_solomon_c101_customers_are_deliveries_from_the_depot(
    benchmarks: Path,
) -> None:
    """Each of the 100 customers is an order picked up at the depot and
    delivered in the customer's window."""
    path = benchmarks / "solomon100" / "C101.txt"
    rows = solomon_rows(path)

    instance = read_solomon(path)

    orders = instance.request.orders
    assert instance.name == "C101"
    assert len(orders) == 100
    for order in orders:
        row = rows[int(order.id)]
        assert (order.pickup, order.delivery) == (DEPOT, order.id)
        assert order.quantity == row[3]
        assert (order.delivery_ready, order.due_time) == (row[4], row[5])
        assert order.delivery_service == row[6]
        assert order.pickup_service == 0.0


def test_solomon_c101_fleet(benchmarks: Path) -> None:
    """25 vehicles of capacity 200, within the depot window."""
    request = read_solomon(benchmarks / "solomon100" / "C101.txt").request

    assert len(request.vehicles) == 25
    for vehicle in request.vehicles:
        assert vehicle.capacity == 200
        assert (vehicle.start, vehicle.end) == (DEPOT, DEPOT)
        assert (vehicle.shift_start, vehicle.shift_end) == (0.0, 1236.0)


# Best-known solutions


def test_best_known_has_hierarchical_and_distance_references(
    benchmarks: Path,
) -> None:
    """lc101 has a hierarchical entry and a distance-only one."""
    best = read_best_known(benchmarks / "bks.csv")

    assert best["lilim100", "lc101"] == BestKnown(10, 828.94)
    assert best["lilim100_dist", "lc101"] == BestKnown(10, 828.937)


def test_best_known_instance_names_are_lower_case(tmp_path: Path) -> None:
    """Solomon names are upper case in the file but looked up lower."""
    path = tmp_path / "bks.csv"
    path.write_text(
        "set,instance,vehicles,distance,source\n"
        "solomon100,C101,10,828.94,somewhere\n"
    )

    assert read_best_known(path) == {
        ("solomon100", "c101"): BestKnown(10, 828.94)
    }


# Malformed files


LILIM = (
    "2\t50\t1\n"
    "0\t0\t0\t0\t0\t500\t0\t0\t0\n"
    "1\t10\t0\t5\t0\t100\t10\t0\t2\n"
    "2\t20\t0\t-5\t0\t200\t10\t1\t0\n"
)
"""A tiny well-formed Li & Lim instance: one order from node 1 to 2."""


def test_tiny_lilim_file_reads(tmp_path: Path) -> None:
    """The tiny file gives one order and two vehicles."""
    path = tmp_path / "tiny.txt"
    path.write_text(LILIM)

    request = read_lilim(path).request

    assert [(o.id, o.pickup, o.delivery) for o in request.orders] == [
        ("1", "1", "2")
    ]
    assert [v.capacity for v in request.vehicles] == [50, 50]


@pytest.mark.parametrize(
    ("lines", "line_no", "rule"),
    [
        (["2 50"], 1, "needs 3 numbers"),
        (["2 fifty 1"], 1, "fields must be numbers"),
        ([*LILIM.splitlines()[:2], "1 10 0 5 0 100"], 3, "needs 9 numbers"),
        (
            [*LILIM.splitlines()[:3], "", "2 20 0 -5 0 200 x 1 0"],
            5,
            "fields must be numbers",
        ),
    ],
    ids=["header-short", "header-text", "row-short", "row-after-blank"],
)
def test_malformed_lilim_line_is_named(
    tmp_path: Path, lines: list[str], line_no: int, rule: str
) -> None:
    """A bad line is named by file and line number, with its text."""
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(InvalidRequestError) as caught:
        read_lilim(path)

    assert caught.value.field == f"{path}:{line_no}"
    assert caught.value.value == lines[line_no - 1].strip()
    assert f"{path}:{line_no}" in str(caught.value)
    assert rule in str(caught.value)


def test_empty_lilim_file_is_named(tmp_path: Path) -> None:
    """An empty file says so, naming the file."""
    path = tmp_path / "empty.txt"
    path.write_text("")

    with pytest.raises(InvalidRequestError, match="file is empty") as caught:
        read_lilim(path)

    assert caught.value.field == str(path)


def test_lilim_pickup_naming_a_missing_delivery_is_named(
    tmp_path: Path,
) -> None:
    """A pickup whose delivery index is no node of the file raises
    InvalidRequestError naming the file and the pickup's line."""
    lines = LILIM.splitlines()
    lines[2] = "1\t10\t0\t5\t0\t100\t10\t0\t9"
    path = tmp_path / "dangling.txt"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(InvalidRequestError) as caught:
        read_lilim(path)

    assert caught.value.field == f"{path}:3"


SOLOMON = """TINY

VEHICLE
NUMBER     CAPACITY
  2         50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      40         50          0          0       1236          0
    1      45         68         10        912        967         90
    2      45         70         30        825        870         90
"""
"""A tiny Solomon file in the classic layout, blank lines included."""


def test_tiny_solomon_file_reads(tmp_path: Path) -> None:
    """The tiny file gives two orders and two vehicles of capacity 50."""
    path = tmp_path / "TINY.txt"
    path.write_text(SOLOMON)

    request = read_solomon(path).request

    assert [(o.id, o.quantity, o.due_time) for o in request.orders] == [
        ("1", 10, 967.0),
        ("2", 30, 870.0),
    ]
    assert [v.capacity for v in request.vehicles] == [50, 50]


@pytest.mark.parametrize(
    ("line_no", "text", "rule"),
    [
        (5, "  2", "needs 2 numbers"),
        (11, "    1      45         68         10        912", "needs 7"),
        (12, "    2      45         70         30  x  870  90", "numbers"),
    ],
    ids=["vehicle-line", "customer-short", "customer-text"],
)
def test_malformed_solomon_line_is_named_by_its_line_in_the_file(
    tmp_path: Path, line_no: int, text: str, rule: str
) -> None:
    """The line number in the error counts blank lines too, so that it
    points at the line an editor shows."""
    lines = SOLOMON.splitlines()
    lines[line_no - 1] = text
    path = tmp_path / "bad.txt"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(InvalidRequestError) as caught:
        read_solomon(path)

    assert caught.value.field == f"{path}:{line_no}"
    assert caught.value.value == text.strip()
    assert rule in str(caught.value)


def test_solomon_file_without_vehicle_section_is_named(
    tmp_path: Path,
) -> None:
    """A file with no NUMBER CAPACITY header says what it needs."""
    path = tmp_path / "headless.txt"
    path.write_text("TINY\n\n    0  40  50  0  0  1236  0\n")

    with pytest.raises(InvalidRequestError, match="NUMBER") as caught:
        read_solomon(path)

    assert caught.value.field == str(path)
