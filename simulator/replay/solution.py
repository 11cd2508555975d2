"""A replay's solution in the benchmark's own three files, and its check.

``solution_info_assignments.txt``
    ``assignment_time pickup_time courier order [order ...]``, one line
    per assignment, orders in delivery sequence.
``solution_info_orders.txt``
    ``order placement_time ready_time pickup_time dropoff_time courier``,
    one line per delivered order.
``solution_info_couriers.txt``
    ``courier departure_time origin destination``, one line per move;
    origin ``0`` is the courier's start location, otherwise a restaurant
    or order id. The moves of a courier are together and in order.

Each file has one header line; fields are separated by single spaces,
and there are no blank lines. Times are minutes, written without a
decimal point when whole.

:func:`validate_solution` checks a written solution against its instance
alone, re-deriving every time with :mod:`simulator.replay.rules`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.replay.instance import START
from simulator.replay.rules import (
    Assignment,
    CourierState,
    Execution,
    execute,
    violations,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from simulator.replay.instance import Instance
    from simulator.replay.run import ReplayResult

log = logging.getLogger(__name__)

ASSIGNMENTS_FILE = "solution_info_assignments.txt"
ORDERS_FILE = "solution_info_orders.txt"
COURIERS_FILE = "solution_info_couriers.txt"

ASSIGNMENTS_HEADER = "assignment_time pickup_time courier orders"
ORDERS_HEADER = (
    "order placement_time ready_time pickup_time dropoff_time courier"
)
COURIERS_HEADER = "courier departure_time origin destination"

TOLERANCE = 1e-3
"""Minutes by which a written time may differ from the derived one;
times are written to four decimals."""


def format_minutes(value: float) -> str:
    """``value`` without a decimal point when whole, else to four
    decimals without trailing zeros."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _write(path: Path, header: str, rows: Iterable[Iterable[str]]) -> None:
    lines = [header, *(" ".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n")


def write_solution(result: ReplayResult, folder: Path) -> None:
    """Write the three solution files of ``result`` into ``folder``,
    which is created if need be."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        folder / ASSIGNMENTS_FILE,
        ASSIGNMENTS_HEADER,
        (
            (
                format_minutes(e.assignment.time),
                format_minutes(e.pickup),
                e.assignment.courier,
                *e.assignment.orders,
            )
            for e in result.executions
        ),
    )
    _write(
        folder / ORDERS_FILE,
        ORDERS_HEADER,
        (
            (
                d.order,
                str(d.placement),
                str(d.ready),
                format_minutes(d.pickup),
                format_minutes(d.dropoff),
                d.courier,
            )
            for d in result.deliveries
        ),
    )
    _write(
        folder / COURIERS_FILE,
        COURIERS_HEADER,
        (
            (m.courier, format_minutes(m.departure), m.origin, m.destination)
            for m in result.moves
        ),
    )
    log.info(
        "wrote solution of %s (%d assignments) to %s",
        result.instance.name,
        len(result.executions),
        folder,
    )


# Validation


@dataclass(frozen=True, slots=True)
class _Line:
    """A data line of a solution file, split into fields."""

    where: str
    fields: list[str]


def _lines(
    path: Path, header: str, least: int, found: list[str]
) -> list[_Line]:
    """The data lines of ``path``, after checking its layout."""
    if not path.is_file():
        found.append(f"{path.name}: file is missing")
        return []
    text = path.read_text()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0] != header:
        first = lines[0] if lines else ""
        found.append(f"{path.name}:1: header {first!r} must be {header!r}")
        return []

    data = []
    for number, line in enumerate(lines[1:], start=2):
        where = f"{path.name}:{number}"
        if not line.strip():
            found.append(f"{where}: blank line")
            continue
        fields = line.split(" ")
        if "" in fields or "\t" in line or "\r" in line:
            found.append(f"{where}: fields must be separated by single spaces")
            fields = line.split()
        if len(fields) < least:
            found.append(f"{where}: needs at least {least} fields")
            continue
        data.append(_Line(where, fields))
    return data


def _minutes(line: _Line, index: int, found: list[str]) -> float | None:
    try:
        return float(line.fields[index])
    except ValueError:
        found.append(f"{line.where}: {line.fields[index]!r} is not a time")
        return None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE


@dataclass
class _Written:
    """An assignment as written, and where."""

    line: _Line
    assignment: Assignment
    pickup: float
    seen: bool = False


def _read_assignments(
    instance: Instance, folder: Path, found: list[str]
) -> dict[str, _Written]:
    """Assignments by their first order, after checking ids and that no
    order is assigned twice."""
    written: dict[str, _Written] = {}
    assigned: dict[str, str] = {}
    for line in _lines(
        folder / ASSIGNMENTS_FILE, ASSIGNMENTS_HEADER, 4, found
    ):
        time = _minutes(line, 0, found)
        pickup = _minutes(line, 1, found)
        courier, orders = line.fields[2], tuple(line.fields[3:])
        if courier not in instance.courier:
            found.append(f"{line.where}: unknown courier {courier}")
            continue
        unknown = [o for o in orders if o not in instance.order]
        if unknown:
            found.append(f"{line.where}: unknown orders {unknown}")
            continue
        for order_id in orders:
            if order_id in assigned:
                found.append(
                    f"{line.where}: order {order_id} is already assigned at "
                    f"{assigned[order_id]}"
                )
            assigned[order_id] = line.where
        if time is None or pickup is None or orders[0] in written:
            continue
        restaurant = instance.order[orders[0]].restaurant
        written[orders[0]] = _Written(
            line, Assignment(time, courier, restaurant, orders), pickup
        )
    return written


def _segments(
    instance: Instance, folder: Path, found: list[str]
) -> dict[str, list[list[_Line]]]:
    """Each courier's moves cut into legs that start at a restaurant,
    after checking that moves are grouped, chained and in order."""
    by_courier: dict[str, list[list[_Line]]] = {}
    last: _Line | None = None
    last_departure = -float("inf")
    for line in _lines(folder / COURIERS_FILE, COURIERS_HEADER, 4, found):
        courier, _, origin, destination = line.fields[:4]
        departure = _minutes(line, 1, found)
        if courier not in instance.courier:
            found.append(f"{line.where}: unknown courier {courier}")
            continue
        same = last is not None and last.fields[0] == courier
        if not same and courier in by_courier:
            found.append(
                f"{line.where}: moves of courier {courier} are not together"
            )
        expected = last.fields[3] if same and last else START
        if origin != expected:
            found.append(
                f"{line.where}: origin {origin} must be {expected}, where "
                f"courier {courier} is"
            )
        if departure is None:
            departure = last_departure
        elif same and departure < last_departure - TOLERANCE:
            found.append(f"{line.where}: moves are not in time order")

        legs = by_courier.setdefault(courier, [])
        if destination in instance.restaurant:
            legs.append([line])
        elif destination in instance.order and legs:
            legs[-1].append(line)
        else:
            found.append(
                f"{line.where}: move to {destination} is not to a "
                "restaurant, nor to an order after a pickup"
            )
        last, last_departure = line, departure
    return by_courier


def validate_solution(instance: Instance, folder: Path) -> list[str]:
    """The rules a written solution breaks; empty if it obeys them all.

    Checked, from the three files in ``folder`` and ``instance`` alone:
    the files' layout (headers, single spaces, no blank lines); known ids;
    no order assigned twice; each assignment of one restaurant's orders,
    made no earlier than their placement, with a pickup no later than
    the courier's off time; each courier's moves together, in order,
    chained from its start location, going to the restaurant and then
    to each order of its assignments in sequence, one assignment after
    the other in assignment-time order; and every written time equal to
    the one the rules derive (departures, pickups, drop-offs), with the
    orders file holding exactly the assigned orders, their placement and
    ready times, and their courier.
    """
    folder = Path(folder)
    found: list[str] = []
    written = _read_assignments(instance, folder, found)
    legs = _segments(instance, folder, found)
    times: dict[str, tuple[float, float, str]] = {}

    for courier, courier_legs in legs.items():
        state = CourierState.start(instance.courier[courier])
        previous = -float("inf")
        for leg in courier_legs:
            execution = _check_leg(instance, leg, written, state, found)
            if execution is None:
                break
            assignment = execution.assignment
            if assignment.time < previous - TOLERANCE:
                found.append(
                    f"{leg[0].where}: assignment made at {assignment.time:g}"
                    f" is carried out after one made at {previous:g}"
                )
            previous = assignment.time
            for order_id, dropoff in zip(
                assignment.orders, execution.dropoffs, strict=True
            ):
                times[order_id] = (execution.pickup, dropoff, courier)
            state = execution.after

    for item in written.values():
        if not item.seen:
            found.append(
                f"{item.line.where}: assignment has no matching courier moves"
            )
    _check_orders(instance, folder, written, times, found)
    return found


def _check_leg(
    instance: Instance,
    leg: list[_Line],
    written: dict[str, _Written],
    state: CourierState,
    found: list[str],
) -> Execution | None:
    """Match one leg of moves to its assignment and compare its times
    with the derived ones; None if the courier's later times cannot be
    derived."""
    orders = tuple(line.fields[3] for line in leg[1:])
    item = written.get(orders[0]) if orders else None
    if item is None or item.assignment.orders != orders:
        found.append(
            f"{leg[0].where}: moves deliver {list(orders)}, which is not "
            "the sequence of an assignment"
        )
        return None
    assignment = item.assignment
    if (
        assignment.courier != state.courier
        or leg[0].fields[3] != assignment.restaurant
    ):
        found.append(
            f"{leg[0].where}: moves go to {leg[0].fields[3]} for courier "
            f"{state.courier}, but {item.line.where} assigns courier "
            f"{assignment.courier} at {assignment.restaurant}"
        )
        return None
    item.seen = True

    found.extend(
        f"{item.line.where}: {problem}"
        for problem in violations(instance, assignment, state)
    )
    execution = execute(instance, assignment, state)
    if not _close(item.pickup, execution.pickup):
        found.append(
            f"{item.line.where}: pickup_time {item.pickup:g} must be "
            f"{execution.pickup:g}"
        )
    for line, move in zip(leg, execution.moves, strict=True):
        departure = _minutes(line, 1, [])
        if departure is None or not _close(departure, move.departure):
            found.append(
                f"{line.where}: departure_time {line.fields[1]} must be "
                f"{format_minutes(move.departure)}"
            )
    return execution


def _check_orders(
    instance: Instance,
    folder: Path,
    written: dict[str, _Written],
    times: dict[str, tuple[float, float, str]],
    found: list[str],
) -> None:
    """The orders file against the assignments and derived times."""
    courier_of = {
        order_id: item.assignment.courier
        for item in written.values()
        for order_id in item.assignment.orders
    }
    rows: set[str] = set()
    for line in _lines(folder / ORDERS_FILE, ORDERS_HEADER, 6, found):
        order_id, placement, ready, _, _, courier = line.fields[:6]
        order = instance.order.get(order_id)
        if order is None or order_id not in courier_of:
            found.append(f"{line.where}: order {order_id} is not assigned")
            continue
        if order_id in rows:
            found.append(f"{line.where}: order {order_id} is listed twice")
        rows.add(order_id)
        if placement != str(order.placement) or ready != str(order.ready):
            found.append(
                f"{line.where}: placement and ready times must be "
                f"{order.placement} and {order.ready}"
            )
        if courier != courier_of[order_id]:
            found.append(
                f"{line.where}: courier {courier} must be "
                f"{courier_of[order_id]}"
            )
        derived = times.get(order_id)
        numbers = [_minutes(line, 3, found), _minutes(line, 4, found)]
        if derived is None or None in numbers:
            continue
        for name, value, expected in zip(
            ("pickup_time", "dropoff_time"), numbers, derived[:2], strict=True
        ):
            if value is not None and not _close(value, expected):
                found.append(
                    f"{line.where}: {name} {value:g} must be {expected:g}"
                )
    missing = sorted(set(courier_of) - rows)
    if missing:
        found.append(f"{ORDERS_FILE}: assigned orders missing: {missing}")
