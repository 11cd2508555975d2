"""Instances of the public meal-delivery routing benchmark.

An instance is a folder of four tab-separated text files, each with one
header line::

    restaurants.txt          restaurant  x  y
    orders.txt               order  x  y  placement_time  restaurant
                             ready_time
    couriers.txt             courier  x  y  on_time  off_time
    instance_parameters.txt  one row: metres per minute, pickup service
                             minutes, drop-off service minutes, target
                             click-to-door, maximum click-to-door, pay per
                             order, guaranteed pay per hour

Times are whole minutes from the start of the day, x and y are metres.
:func:`read_instance` reads such a folder, :func:`write_instance` writes
one, and :func:`generate_instance` makes a seeded one with the character
of the real instances, for tests and for comparing dispatch policies.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from simulator.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

log = logging.getLogger(__name__)

START = "0"
"""Name of a courier's start location in the benchmark's courier moves."""

RESTAURANTS_FILE = "restaurants.txt"
ORDERS_FILE = "orders.txt"
COURIERS_FILE = "couriers.txt"
PARAMETERS_FILE = "instance_parameters.txt"

RESTAURANT_COLUMNS = ("restaurant", "x", "y")
ORDER_COLUMNS = (
    "order",
    "x",
    "y",
    "placement_time",
    "restaurant",
    "ready_time",
)
COURIER_COLUMNS = ("courier", "x", "y", "on_time", "off_time")
PARAMETER_COLUMNS = (
    "meters_per_minute",
    "pickup service minutes",
    "dropoff service minutes",
    "target click-to-door",
    "maximum click-to-door",
    "pay per order",
    "guaranteed pay per hour",
)
"""The column names as the benchmark spells them; the reader checks only
the number of columns of a header, not its words."""


class Point(Protocol):
    """Anything with planar coordinates in metres."""

    @property
    def x(self) -> float:
        """Metres east."""
        ...

    @property
    def y(self) -> float:
        """Metres north."""
        ...


@dataclass(frozen=True, slots=True)
class Restaurant:
    """Where orders are picked up."""

    id: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class ReplayOrder:
    """A meal: placed at ``placement``, ready at ``ready`` at its
    restaurant, delivered to ``(x, y)``."""

    id: str
    x: float
    y: float
    placement: int
    restaurant: str
    ready: int


@dataclass(frozen=True, slots=True)
class Courier:
    """A courier on shift from ``on`` to ``off``, starting at ``(x, y)``.

    No pickup may happen after ``off``; drop-offs after it are allowed.
    """

    id: str
    x: float
    y: float
    on: int
    off: int


@dataclass(frozen=True, slots=True)
class Parameters:
    """The instance-wide rules and prices; times in minutes."""

    metres_per_minute: float
    pickup_service: float
    dropoff_service: float
    target_ctd: float
    max_ctd: float
    pay_per_order: float
    pay_per_hour: float


BENCHMARK_PARAMETERS = Parameters(
    metres_per_minute=320,
    pickup_service=4,
    dropoff_service=4,
    target_ctd=40,
    max_ctd=90,
    pay_per_order=10,
    pay_per_hour=15,
)
"""The parameters every instance of the public benchmark shares."""


@dataclass(frozen=True)
class Instance:
    """One day of restaurants, orders and couriers, and its parameters."""

    restaurants: tuple[Restaurant, ...]
    orders: tuple[ReplayOrder, ...]
    couriers: tuple[Courier, ...]
    parameters: Parameters
    name: str = "instance"

    @cached_property
    def restaurant(self) -> dict[str, Restaurant]:
        """Restaurants by id."""
        return {r.id: r for r in self.restaurants}

    @cached_property
    def order(self) -> dict[str, ReplayOrder]:
        """Orders by id."""
        return {o.id: o for o in self.orders}

    @cached_property
    def courier(self) -> dict[str, Courier]:
        """Couriers by id."""
        return {c.id: c for c in self.couriers}

    def travel_minutes(self, a: Point, b: Point) -> int:
        """Minutes from ``a`` to ``b``: the Euclidean distance over the
        speed, rounded up to a whole minute.

        A quotient within 1e-9 above a whole number counts as that number,
        so that rounding noise in the distance never adds a minute.
        """
        metres = math.hypot(a.x - b.x, a.y - b.y)
        return math.ceil(metres / self.parameters.metres_per_minute - 1e-9)

    def click_to_door_bound(self, order: ReplayOrder) -> float:
        """The least click-to-door minutes ``order`` can have.

        That of a courier waiting at its restaurant when it is placed and
        taking it alone: picked up at the later of its ready time and
        half a pickup service after placement, carried straight to the
        customer, dropped off half a drop-off service after arrival.
        """
        p = self.parameters
        restaurant = self.restaurant[order.restaurant]
        pickup = max(order.ready, order.placement + p.pickup_service / 2)
        dropoff = (
            pickup
            + p.pickup_service / 2
            + self.travel_minutes(restaurant, order)
            + p.dropoff_service / 2
        )
        return dropoff - order.placement


# Reading


@dataclass(frozen=True, slots=True)
class _Cell:
    """One field of a data line, with where it came from."""

    file: Path
    line: int
    column: str
    text: str

    def fail(self, allowed: str) -> InputError:
        return InputError(
            self.file,
            f"line {self.line}, column {self.column}",
            self.text,
            allowed,
        )

    def identifier(self) -> str:
        if not self.text:
            raise self.fail("must be a non-empty id")
        return self.text

    def number(self) -> float:
        try:
            value = float(self.text)
        except ValueError:
            raise self.fail("must be a number") from None
        if not math.isfinite(value):
            raise self.fail("must be a finite number")
        return value

    def minute(self) -> int:
        try:
            return int(self.text)
        except ValueError:
            raise self.fail("must be a whole number of minutes") from None


def _rows(path: Path, columns: Sequence[str]) -> list[list[_Cell]]:
    """The data lines of a tab-separated file, as cells by column."""
    if not path.is_file():
        raise InputError(path, "", "", "file is missing")
    lines = path.read_text().splitlines()
    if not lines or not lines[0].strip():
        raise InputError(path, "line 1", "", "needs a header line")
    header = lines[0].rstrip().split("\t")
    if len(header) != len(columns):
        raise InputError(
            path,
            "line 1",
            lines[0],
            f"header must name {len(columns)} tab-separated columns: "
            + ", ".join(columns),
        )

    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.rstrip().split("\t")
        if len(fields) != len(columns):
            raise InputError(
                path,
                f"line {number}",
                line,
                f"must hold {len(columns)} tab-separated fields: "
                + ", ".join(columns),
            )
        rows.append(
            [
                _Cell(path, number, column, text.strip())
                for column, text in zip(columns, fields, strict=True)
            ]
        )
    return rows


def _unique(cells: Iterable[_Cell], taken: set[str]) -> None:
    """Fail on the first id already in ``taken``; add the others."""
    for cell in cells:
        if cell.text in taken:
            raise cell.fail("id is already used in this instance")
        taken.add(cell.text)


def _read_parameters(path: Path) -> Parameters:
    rows = _rows(path, PARAMETER_COLUMNS)
    if len(rows) != 1:
        raise InputError(
            path, "", f"{len(rows)} data lines", "needs exactly one"
        )
    values = [cell.number() for cell in rows[0]]
    speed, pickup, dropoff, target, most, per_order, per_hour = values
    if speed <= 0:
        raise rows[0][0].fail("metres per minute must be > 0")
    for cell, value in zip(rows[0], values, strict=True):
        if value < 0:
            raise cell.fail("must be >= 0")
    return Parameters(
        speed, pickup, dropoff, target, most, per_order, per_hour
    )


def read_instance(folder: Path) -> Instance:
    """Read an instance folder of the meal-delivery routing benchmark.

    Raises
    ------
    InputError
        Naming the file, the line and column, and the value, for a missing
        file, a line with the wrong number of fields, a field that is not
        a number, a repeated id, an order of an unknown restaurant, a ready
        time before the placement time or an off time before the on time.
    """
    folder = Path(folder)
    parameters = _read_parameters(folder / PARAMETERS_FILE)
    taken = {START}

    rows = _rows(folder / RESTAURANTS_FILE, RESTAURANT_COLUMNS)
    _unique((row[0] for row in rows), taken)
    restaurants = tuple(
        Restaurant(row[0].identifier(), row[1].number(), row[2].number())
        for row in rows
    )
    known = {restaurant.id for restaurant in restaurants}

    rows = _rows(folder / ORDERS_FILE, ORDER_COLUMNS)
    _unique((row[0] for row in rows), taken)
    orders = tuple(_order(row, known) for row in rows)

    rows = _rows(folder / COURIERS_FILE, COURIER_COLUMNS)
    _unique((row[0] for row in rows), set())
    couriers = tuple(_courier(row) for row in rows)

    log.info(
        "read instance %s: %d restaurants, %d orders, %d couriers",
        folder.name,
        len(restaurants),
        len(orders),
        len(couriers),
    )
    return Instance(restaurants, orders, couriers, parameters, folder.name)


def _order(row: list[_Cell], restaurants: set[str]) -> ReplayOrder:
    order, x, y, placement, restaurant, ready = row
    if restaurant.text not in restaurants:
        raise restaurant.fail("must name a restaurant of restaurants.txt")
    if ready.minute() < placement.minute():
        raise ready.fail(f"must be >= placement_time ({placement.text})")
    return ReplayOrder(
        order.identifier(),
        x.number(),
        y.number(),
        placement.minute(),
        restaurant.text,
        ready.minute(),
    )


def _courier(row: list[_Cell]) -> Courier:
    courier, x, y, on, off = row
    if off.minute() < on.minute():
        raise off.fail(f"must be >= on_time ({on.text})")
    return Courier(
        courier.identifier(),
        x.number(),
        y.number(),
        on.minute(),
        off.minute(),
    )


# Writing


def _text(value: float) -> str:
    """A number as the benchmark writes it: whole numbers without a point."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0")


def _write(
    path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]
) -> None:
    lines = ["\t".join(columns)]
    lines.extend(
        "\t".join(
            _text(v) if isinstance(v, int | float) else str(v) for v in row
        )
        for row in rows
    )
    path.write_text("\n".join(lines) + "\n")


def write_instance(instance: Instance, folder: Path) -> None:
    """Write ``instance`` as a benchmark folder that
    :func:`read_instance` reads back equal; the folder is created."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    p = instance.parameters
    _write(
        folder / PARAMETERS_FILE,
        PARAMETER_COLUMNS,
        [
            (
                p.metres_per_minute,
                p.pickup_service,
                p.dropoff_service,
                p.target_ctd,
                p.max_ctd,
                p.pay_per_order,
                p.pay_per_hour,
            )
        ],
    )
    _write(
        folder / RESTAURANTS_FILE,
        RESTAURANT_COLUMNS,
        ((r.id, r.x, r.y) for r in instance.restaurants),
    )
    _write(
        folder / ORDERS_FILE,
        ORDER_COLUMNS,
        (
            (o.id, o.x, o.y, o.placement, o.restaurant, o.ready)
            for o in instance.orders
        ),
    )
    _write(
        folder / COURIERS_FILE,
        COURIER_COLUMNS,
        ((c.id, c.x, c.y, c.on, c.off) for c in instance.couriers),
    )


# Generating


def demand_profile(minute: float, hours: float) -> float:
    """Relative order rate, at most 1, ``minute`` minutes into a day of
    ``hours`` hours that starts at 10:00: a floor of a quarter, a lunch
    peak at 12:30 and a higher, longer dinner peak at 18:30 (for a day
    shorter than ten hours, at 85% of its length)."""
    lunch = 150.0
    dinner = min(510.0, 0.85 * hours * 60)
    return max(
        0.25,
        0.8 * math.exp(-0.5 * ((minute - lunch) / 50) ** 2),
        math.exp(-0.5 * ((minute - dinner) / 70) ** 2),
    )


def generate_instance(
    rng: np.random.Generator,
    *,
    name: str = "generated",
    day_start: int = 600,
    hours: int = 10,
    peak_rate: float = 1.0,
    restaurants: int = 60,
    clusters: int = 5,
    side: float = 12_000.0,
    delivery_radius: float = 4_000.0,
    preparation: tuple[int, int] = (5, 20),
    orders_per_courier_hour: float = 2.0,
    shift_hours: Sequence[int] = (2, 3, 4),
    parameters: Parameters = BENCHMARK_PARAMETERS,
) -> Instance:
    """A seeded instance with the character of the benchmark's real ones.

    Restaurants sit in ``clusters`` clusters in a square of ``side``
    metres, with uneven popularity. Orders arrive from ``day_start`` for
    ``hours`` hours as a Poisson process following
    :func:`demand_profile`, ``peak_rate`` orders a minute at the dinner
    peak; each is ready after a preparation time drawn uniformly from
    ``preparation`` (minutes, both ends included) and goes to a point
    uniformly within ``delivery_radius`` metres of its restaurant.
    Couriers work shifts of ``shift_hours`` hours that start on the hour,
    staffed so that each hour has one courier on duty per
    ``orders_per_courier_hour`` orders expected in it (at least two);
    they start near a restaurant cluster.
    """
    if hours < 1 or peak_rate <= 0 or orders_per_courier_hour <= 0:
        raise ValueError(
            f"hours ({hours}), peak_rate ({peak_rate}) and "
            f"orders_per_courier_hour ({orders_per_courier_hour}) must be "
            "positive"
        )

    def clip(values: np.ndarray) -> np.ndarray:
        return np.clip(np.round(values), 0, side)

    centres = rng.uniform(0.2 * side, 0.8 * side, size=(clusters, 2))
    home = rng.integers(clusters, size=restaurants)
    spots = clip(centres[home] + rng.normal(0, 0.06 * side, (restaurants, 2)))
    places = tuple(
        Restaurant(f"r{k + 1}", float(x), float(y))
        for k, (x, y) in enumerate(spots)
    )
    popularity = rng.lognormal(0.0, 0.8, restaurants)
    popularity /= popularity.sum()

    minutes = hours * 60
    rate = np.array([demand_profile(m, hours) for m in range(minutes)])
    # Thinning: candidates at the peak rate, each kept with the relative
    # rate of its minute (Lewis and Shedler, 1979).
    candidates = np.sort(
        rng.uniform(0, minutes, rng.poisson(peak_rate * minutes))
    )
    kept = candidates[
        rng.uniform(size=candidates.size) < rate[candidates.astype(int)]
    ]
    orders = _orders(
        rng,
        kept,
        day_start,
        places,
        popularity,
        delivery_radius,
        preparation,
        clip,
    )

    expected = peak_rate * rate.reshape(hours, 60).sum(axis=1)
    couriers = _couriers(
        rng,
        expected / orders_per_courier_hour,
        day_start,
        shift_hours,
        centres,
        side,
        clip,
    )
    return Instance(places, orders, couriers, parameters, name)


def _orders(
    rng: np.random.Generator,
    times: np.ndarray,
    day_start: int,
    places: tuple[Restaurant, ...],
    popularity: np.ndarray,
    radius: float,
    preparation: tuple[int, int],
    clip: Callable[[np.ndarray], np.ndarray],
) -> tuple[ReplayOrder, ...]:
    count = times.size
    chosen = rng.choice(len(places), size=count, p=popularity)
    angle = rng.uniform(0, 2 * math.pi, count)
    reach = radius * np.sqrt(rng.uniform(size=count))
    origin = np.array([(places[k].x, places[k].y) for k in chosen])
    offset = np.column_stack((np.cos(angle), np.sin(angle))) * reach[:, None]
    target = clip(origin.reshape(count, 2) + offset)
    prep = rng.integers(preparation[0], preparation[1] + 1, count)
    return tuple(
        ReplayOrder(
            id=f"o{k + 1}",
            x=float(target[k, 0]),
            y=float(target[k, 1]),
            placement=day_start + int(times[k]),
            restaurant=places[chosen[k]].id,
            ready=day_start + int(times[k]) + int(prep[k]),
        )
        for k in range(count)
    )


def _couriers(
    rng: np.random.Generator,
    needed: np.ndarray,
    day_start: int,
    shift_hours: Sequence[int],
    centres: np.ndarray,
    side: float,
    clip: Callable[[np.ndarray], np.ndarray],
) -> tuple[Courier, ...]:
    hours = needed.size
    on_duty = np.zeros(hours + 1, dtype=int)
    shifts: list[tuple[int, int]] = []
    for hour in range(hours):
        missing = max(2, math.ceil(needed[hour])) - on_duty[hour]
        for _ in range(max(missing, 0)):
            # Shifts may run one hour past the day, for its last orders.
            end = min(hour + int(rng.choice(shift_hours)), hours + 1)
            on_duty[hour:end] += 1
            shifts.append((hour, end))

    spots = clip(
        centres[rng.integers(len(centres), size=len(shifts))]
        + rng.normal(0, 0.1 * side, (len(shifts), 2))
    )
    return tuple(
        Courier(
            f"c{k + 1}",
            float(spots[k, 0]),
            float(spots[k, 1]),
            day_start + 60 * start,
            day_start + 60 * end,
        )
        for k, (start, end) in enumerate(shifts)
    )
