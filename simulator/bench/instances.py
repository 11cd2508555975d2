"""Readers for the Li & Lim and Solomon benchmark instances.

Both sets use planar coordinates with travel time equal to Euclidean
distance in double precision, and vehicles that start and end at the
depot, node 0, within the depot's time window.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import InvalidRequestError
from engine.model import Location, Options, Order, Request, Vehicle
from engine.travel import Euclidean

if TYPE_CHECKING:
    from pathlib import Path

DEPOT = "0"
"""Location id of the depot: instance node 0."""


@dataclass(frozen=True, slots=True)
class BestKnown:
    """A best-known solution: vehicles and distance."""

    vehicles: int
    distance: float


@dataclass(frozen=True, slots=True)
class Instance:
    """A benchmark instance as an engine request.

    Order ids are the instance's pickup node index; location ids are the
    node indices, so a route maps back to the file by its stops.
    """

    name: str
    request: Request


def _numbers(path: Path, line_no: int, line: str, count: int) -> list[float]:
    fields = line.split()
    if len(fields) < count:
        raise InvalidRequestError(
            f"{path}:{line_no}", line.strip(), f"needs {count} numbers"
        )
    try:
        return [float(field) for field in fields[:count]]
    except ValueError:
        raise InvalidRequestError(
            f"{path}:{line_no}", line.strip(), "fields must be numbers"
        ) from None


def read_lilim(path: Path, options: Options | None = None) -> Instance:
    """Read a Li & Lim pickup-and-delivery instance."""
    lines = path.read_text().splitlines()
    if not lines:
        raise InvalidRequestError(str(path), "", "file is empty")
    fleet, capacity, _ = _numbers(path, 1, lines[0], 3)
    numbered = [
        (n, _numbers(path, n, line, 9))
        for n, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]
    if not numbered:
        raise InvalidRequestError(str(path), "", "needs a depot row")
    rows = [row for _, row in numbered]
    locations = tuple(
        Location(str(int(row[0])), row[1], row[2]) for row in rows
    )
    by_index = {int(row[0]): row for row in rows}
    orders = []
    for line_no, row in numbered:
        node, demand, delivery = int(row[0]), row[3], int(row[8])
        if node == 0 or demand <= 0:
            continue
        drop = by_index.get(delivery)
        if drop is None:
            raise InvalidRequestError(
                f"{path}:{line_no}",
                delivery,
                "delivery_index must name a node of the file",
            )
        orders.append(
            Order(
                id=str(node),
                pickup=str(node),
                delivery=str(delivery),
                quantity=int(demand),
                ready_time=row[4],
                pickup_due=row[5],
                pickup_service=row[6],
                delivery_ready=drop[4],
                due_time=drop[5],
                delivery_service=drop[6],
            )
        )
    return Instance(
        path.stem,
        _request(rows[0], fleet, capacity, locations, orders, options),
    )


def read_solomon(path: Path, options: Options | None = None) -> Instance:
    """Read a Solomon instance; each customer is an order whose pickup is
    at the depot, so that one engine serves both sets."""
    numbered = [
        (n, line)
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if line.strip()
    ]
    header = next(
        (
            k
            for k, (_, line) in enumerate(numbered)
            if line.split()[0] == "NUMBER"
        ),
        None,
    )
    if header is None or header + 1 >= len(numbered):
        raise InvalidRequestError(
            str(path), "", "needs a VEHICLE section with NUMBER CAPACITY"
        )
    fleet, capacity = _numbers(path, *numbered[header + 1], 2)
    rows = [
        _numbers(path, n, line, 7)
        for n, line in numbered[header + 2 :]
        if line.split()[0].isdigit()
    ]
    if not rows:
        raise InvalidRequestError(str(path), "", "needs a depot row")
    locations = tuple(
        Location(str(int(row[0])), row[1], row[2]) for row in rows
    )
    orders = [
        Order(
            id=str(int(row[0])),
            pickup=DEPOT,
            delivery=str(int(row[0])),
            quantity=int(row[3]),
            delivery_ready=row[4],
            due_time=row[5],
            delivery_service=row[6],
        )
        for row in rows[1:]
    ]
    return Instance(
        path.stem,
        _request(rows[0], fleet, capacity, locations, orders, options),
    )


def _request(
    depot: list[float],
    fleet: float,
    capacity: float,
    locations: tuple[Location, ...],
    orders: list[Order],
    options: Options | None,
) -> Request:
    vehicles = tuple(
        Vehicle(
            id=f"v{k}",
            start=DEPOT,
            end=DEPOT,
            capacity=int(capacity),
            shift_start=depot[4],
            shift_end=depot[5],
        )
        for k in range(int(fleet))
    )
    return Request(
        locations=locations,
        orders=tuple(orders),
        vehicles=vehicles,
        travel=Euclidean(speed=1.0),
        options=options or Options(),
    )


def read_best_known(path: Path) -> dict[tuple[str, str], BestKnown]:
    """Read ``bks.csv``: best-known solutions by (set, instance)."""
    with path.open(newline="") as handle:
        return {
            (row["set"], row["instance"].lower()): BestKnown(
                int(row["vehicles"]), float(row["distance"])
            )
            for row in csv.DictReader(handle)
        }
