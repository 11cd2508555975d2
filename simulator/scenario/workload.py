"""The workload sections of a scenario: city, demand, fleet and replay.

Units: seconds for durations, metres for lengths, km/h for speeds, hours
of the day (0 to 24) for clock times, orders per day for demand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, Strict, field_validator, model_validator

from simulator.scenario.fields import (
    HOURS_PER_DAY,
    MISSING,
    Bool,
    Count,
    Distribution,
    Float,
    NonNegative,
    Positive,
    RuleError,
    Section,
    Str,
)

HourOfDay = Annotated[float, Strict(), Field(ge=0, lt=HOURS_PER_DAY)]
"""An hour of the day in [0, 24)."""

HourlyNumbers = Annotated[
    tuple[NonNegative, ...],
    Field(min_length=HOURS_PER_DAY, max_length=HOURS_PER_DAY),
]
"""Exactly 24 numbers >= 0, one per hour of the day from midnight."""

FilePath = Path
"""A path; relative paths are resolved by the loader against the
directory of the scenario file that set them."""

ZONE_ID_PATTERN = "z{row}-{col}"
"""How zones are named: ``z0-0`` is the south-west cell of the zone
grid, ``z0-1`` the cell east of it, ``z1-0`` the cell north of it."""


def zone_ids(zones: int) -> list[str]:
    """Ids of the zones of a ``zones`` x ``zones`` grid, row by row."""
    return [
        ZONE_ID_PATTERN.format(row=row, col=col)
        for row in range(zones)
        for col in range(zones)
    ]


class SyntheticSettings(Section):
    """A generated street pattern, laid out in metres on a plane.

    A ``grid`` has ``blocks`` blocks per side, so ``(blocks + 1) ** 2``
    intersections. A ``ring_radial`` city has ``rings`` concentric ring
    roads ``block_m`` apart, crossed by ``spokes`` radial roads, with
    intersections about ``block_m`` apart along each ring and local
    streets joining neighbouring rings. Every street is two-way.
    """

    pattern: Literal["grid", "ring_radial"] = "grid"
    """Street pattern."""

    blocks: Count = 20
    """Grid: blocks per side."""

    rings: Count = 12
    """Ring-radial: number of ring roads."""

    spokes: Annotated[int, Strict(), Field(ge=3)] = 8
    """Ring-radial: number of radial roads (>= 3)."""

    block_m: Positive = 200.0
    """Length of a block (metres)."""

    arterial_every: Count = 5
    """Every k-th street is an arterial: grid rows and columns, rings and
    spokes whose index is a multiple of k (index 0 included)."""

    residential_kmh: Positive = 30.0
    """Free-flow speed on residential streets (km/h)."""

    arterial_kmh: Positive = 50.0
    """Free-flow speed on arterials (km/h)."""

    jitter: Annotated[float, Strict(), Field(ge=0, lt=0.5)] = 0.1
    """Intersections move by up to this share of ``block_m`` in each
    direction, uniformly, so that streets are not perfectly straight."""

    removed_share: Annotated[float, Strict(), Field(ge=0, lt=0.5)] = 0.05
    """Share of residential street segments left out, at random."""


def _existing_file(path: Path) -> Path:
    if not path.is_file():
        raise RuleError("", str(path), "must be an existing file")
    return path


REPLAY_FILES = (
    "restaurants.txt",
    "orders.txt",
    "couriers.txt",
    "instance_parameters.txt",
)
"""The files of a meal-delivery benchmark instance."""


class CsvSettings(Section):
    """A road network from a node/edge CSV pair (FleetPy's layout)."""

    nodes: FilePath
    """The nodes file: ``node_index, pos_x, pos_y`` (path)."""

    edges: FilePath
    """The edges file: ``from_node, to_node, distance, travel_time`` in
    metres and seconds (path)."""

    geographic: Bool = True
    """Whether ``pos_x`` and ``pos_y`` are longitude and latitude."""

    _files_exist = field_validator("nodes", "edges")(_existing_file)


class OsmSettings(Section):
    """A road network from an OpenStreetMap XML file (may be gzipped)."""

    path: FilePath
    """The ``.osm`` or ``.osm.gz`` file (path)."""

    _file_exists = field_validator("path")(_existing_file)


class CityConfig(Section):
    """The road network, its zones, and how traffic changes its speed.

    ``kind`` says which of ``synthetic``, ``csv`` and ``osm`` is read;
    the others may be present (a scenario that extends another may
    switch kind) but are ignored.
    """

    kind: Literal["synthetic", "csv", "osm"] = "synthetic"
    """Where the road network comes from."""

    synthetic: SyntheticSettings = SyntheticSettings()
    """The generator's settings, for ``kind: synthetic``."""

    csv: CsvSettings | None = None
    """The CSV pair, for ``kind: csv``."""

    osm: OsmSettings | None = None
    """The OpenStreetMap file, for ``kind: osm``."""

    zones: Annotated[int, Strict(), Field(ge=1, le=10)] = 3
    """The city's bounding box is cut into a k x k grid of zones, named
    ``z<row>-<col>`` from the south-west corner (k <= 10)."""

    hour_multipliers: HourlyNumbers = (1.0,) * HOURS_PER_DAY
    """Travel-time multiplier for each hour of the day (24 numbers > 0):
    1.5 means traffic makes every trip take 50% longer."""

    noise_cv: Annotated[float, Strict(), Field(ge=0, le=2)] = 0.1
    """Coefficient of variation of an actual travel time around the
    planned one (lognormal noise with mean 1)."""

    memo_size: Annotated[int, Strict(), Field(ge=0)] = 64
    """How many travel-time matrices the network remembers."""

    @field_validator("hour_multipliers")
    @classmethod
    def _positive_multipliers(
        cls, values: tuple[float, ...]
    ) -> tuple[float, ...]:
        for hour, value in enumerate(values):
            if value <= 0:
                raise RuleError(f"[{hour}]", value, "must be > 0")
        return values

    @model_validator(mode="after")
    def _kind_has_settings(self) -> CityConfig:
        if self.kind == "csv" and self.csv is None:
            raise RuleError("csv", MISSING, "is required by kind: csv")
        if self.kind == "osm" and self.osm is None:
            raise RuleError("osm", MISSING, "is required by kind: osm")
        return self


class MerchantSettings(Section):
    """Where merchants are and how busy each one is."""

    count: Count = 50
    """Number of merchants."""

    zone_weights: dict[Str, NonNegative] = Field(default_factory=dict)
    """Relative share of merchants per zone id; zones not listed weigh
    ``default_weight``."""

    default_weight: NonNegative = 1.0
    """Weight of a zone not listed in ``zone_weights``."""

    popularity_sigma: NonNegative = 0.5
    """Merchants differ in popularity: each one's share of orders is
    proportional to a lognormal weight with this sigma (0: all equal)."""


class QuantitySettings(Section):
    """Units per order, drawn from ``values`` with ``weights``."""

    values: Annotated[tuple[Count, ...], Field(min_length=1)] = (1,)
    """Possible quantities (integers >= 1)."""

    weights: tuple[NonNegative, ...] | None = None
    """Relative chance of each value; equal chances when left out."""

    @model_validator(mode="after")
    def _weights_match_values(self) -> QuantitySettings:
        if self.weights is None:
            return self
        if len(self.weights) != len(self.values):
            raise RuleError(
                "weights",
                list(self.weights),
                f"must hold one weight per value ({len(self.values)})",
            )
        if sum(self.weights) <= 0:
            raise RuleError(
                "weights", list(self.weights), "must not all be zero"
            )
        return self


class DemandConfig(Section):
    """Orders: how many, when, from which merchants, and how urgent.

    Orders arrive as a non-homogeneous Poisson process whose rate in hour
    ``h`` of the day is ``orders_per_day * hourly_profile[h] /
    sum(hourly_profile)`` per hour, multiplied by the ``factor`` of any
    ``demand_spike`` fault in progress.
    """

    orders_per_day: Positive = 2000.0
    """Expected orders over a whole day of the profile."""

    hourly_profile: HourlyNumbers = (1.0,) * HOURS_PER_DAY
    """Relative order rate for each hour of the day (24 numbers >= 0,
    not all zero; normalised)."""

    merchants: MerchantSettings = MerchantSettings()
    """The merchants."""

    prep_time_s: Distribution = Distribution(
        kind="lognormal", median=600.0, sigma=0.4
    )
    """Time from placement until the order is ready for pickup
    (seconds)."""

    sla_s: Positive = 2700.0
    """Promised click-to-door time: delivery is on time if it happens
    within this many seconds of placement (seconds)."""

    patience_s: Positive = 1200.0
    """A customer cancels an order that has no driver assigned this many
    seconds after placement; an assigned order is never cancelled
    (seconds)."""

    delivery_radius_m: Positive = 4000.0
    """Customers live within this straight-line distance of their
    merchant, at a road node drawn uniformly (metres)."""

    quantity: QuantitySettings = QuantitySettings()
    """Units per order."""

    @field_validator("hourly_profile")
    @classmethod
    def _some_demand(cls, values: tuple[float, ...]) -> tuple[float, ...]:
        if sum(values) <= 0:
            raise RuleError("", list(values), "must not all be zero")
        return values


class ShiftSettings(Section):
    """A daily shift and the share of drivers who work it."""

    start_hour: HourOfDay
    """Hour of the day the shift starts (0 to 24)."""

    end_hour: Annotated[float, Strict(), Field(gt=0, le=2 * HOURS_PER_DAY)]
    """Hour the shift ends; a value above 24 ends it the next day, so
    ``start_hour: 22, end_hour: 30`` works until 06:00."""

    share: Positive = 1.0
    """Relative share of drivers on this shift (normalised)."""

    @model_validator(mode="after")
    def _ends_after_start(self) -> ShiftSettings:
        if not self.start_hour < self.end_hour <= self.start_hour + 24:
            raise RuleError(
                "end_hour",
                self.end_hour,
                f"must be in ({self.start_hour:g}, {self.start_hour + 24:g}]"
                " (after start_hour, at most a day later)",
            )
        return self


class Point(Section):
    """A position, in the coordinates of the road network."""

    x: Float
    """Planar x in metres, or longitude in degrees."""

    y: Float
    """Planar y in metres, or latitude in degrees."""


class StartSettings(Section):
    """Where drivers start their shift.

    ``random``: a road node drawn uniformly. ``zone``: a node drawn
    uniformly from the zones listed in ``zones``, a zone drawn uniformly
    for each driver. ``depot``: the node nearest to ``depot``, or to the
    centre of the city's bounding box when ``depot`` is left out.
    """

    replaced_on_new_kind = True

    kind: Literal["random", "zone", "depot"] = "random"
    """How start locations are chosen."""

    zones: tuple[Str, ...] = ()
    """Zone ids, for ``kind: zone``."""

    depot: Point | None = None
    """The depot, for ``kind: depot``."""

    @model_validator(mode="after")
    def _zones_for_zone_kind(self) -> StartSettings:
        if self.kind == "zone" and not self.zones:
            raise RuleError("zones", [], "must list zones for kind: zone")
        if self.kind != "zone" and self.zones:
            raise RuleError(
                "zones", list(self.zones), f"is not used by kind: {self.kind}"
            )
        if self.kind != "depot" and self.depot is not None:
            raise RuleError(
                "depot", self.depot.model_dump(), "is only used by kind: depot"
            )
        return self


class FleetConfig(Section):
    """Drivers: how many, when they work, what they carry, how fast."""

    drivers: Count = 20
    """Number of drivers."""

    shifts: Annotated[tuple[ShiftSettings, ...], Field(min_length=1)] = (
        ShiftSettings(start_hour=0.0, end_hour=24.0),
    )
    """The daily shifts; drivers are split over them by ``share``."""

    stagger_s: NonNegative = 0.0
    """Each driver's shift moves by a uniform offset in
    ``[-stagger_s / 2, stagger_s / 2]`` so that a shift does not start
    all at once (seconds)."""

    capacity: Count = 4
    """Units a driver can carry at once."""

    speed_factor: Distribution = Distribution(kind="constant", value=1.0)
    """Each driver's travel times are divided by a factor drawn from this
    distribution (1.0: as planned)."""

    start: StartSettings = StartSettings()
    """Where shifts start."""

    @field_validator("speed_factor")
    @classmethod
    def _moving(cls, value: Distribution) -> Distribution:
        low = {"constant": value.value, "uniform": value.low}.get(value.kind)
        if low is not None and low <= 0:
            raise RuleError(
                "", value.model_dump(exclude_none=True), "must be > 0"
            )
        return value


class ReplayConfig(Section):
    """A meal-delivery benchmark instance replayed instead of generated
    city, demand and fleet."""

    instance: FilePath
    """Folder holding ``restaurants.txt``, ``orders.txt``,
    ``couriers.txt`` and ``instance_parameters.txt`` (path)."""

    policy: Literal["engine", "greedy"] = "engine"
    """Who decides assignments: the engine, or the benchmark's simple
    greedy rule (for comparison)."""

    epoch_min: Annotated[int, Strict(), Field(ge=1)] = 1
    """Minutes between two dispatch decisions."""

    @field_validator("instance")
    @classmethod
    def _instance_exists(cls, folder: Path) -> Path:
        missing = [
            name for name in REPLAY_FILES if not (folder / name).is_file()
        ]
        if missing:
            raise RuleError(
                "",
                str(folder),
                f"must be a folder holding {', '.join(REPLAY_FILES)} "
                f"(missing: {', '.join(missing)})",
            )
        return folder


__all__ = [
    "CityConfig",
    "CsvSettings",
    "DemandConfig",
    "FleetConfig",
    "MerchantSettings",
    "OsmSettings",
    "Point",
    "QuantitySettings",
    "ReplayConfig",
    "ShiftSettings",
    "StartSettings",
    "SyntheticSettings",
    "zone_ids",
]
