"""The simulated city: a road network, its zones, and its traffic.

:func:`build_city` makes a :class:`City` from a scenario's ``city``
section: a street pattern generated from a seed, or a network read from
a node/edge CSV pair or an OpenStreetMap file. The city answers the
questions the simulation asks of geography: how slow is traffic at this
moment, how long did a trip really take, and where is a random place
(in a zone, or near another place).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from engine.errors import InvalidRequestError
from engine.model import Location
from engine.travel import RoadNetwork, load_csv_network, load_osm_network
from engine.travel.geometric import EARTH_RADIUS_M
from simulator.scenario import zone_ids

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from simulator.scenario import CityConfig, SyntheticSettings

    Floats = npt.NDArray[np.float64]
    Ints = npt.NDArray[np.intp]
    Bools = npt.NDArray[np.bool_]

logger = logging.getLogger(__name__)

SECONDS_PER_HOUR = 3600.0
"""Seconds in an hour of simulated time."""


@dataclass(frozen=True, eq=False)
class Zone:
    """A part of the city: one cell of the zone grid.

    ``node_ids`` holds the indices (``0 .. node_count - 1``) of the road
    network's nodes inside the cell, ascending; ``center`` is the node
    nearest to the cell's centre.
    """

    id: str
    center: Location
    node_ids: npt.NDArray[np.intp]


class ScaledTravel:
    """A road network's travel times multiplied by a traffic factor.

    This is what the engine is given at one moment of the simulated day:
    the network's fastest paths, found on free-flow times, each scaled
    by the hour's multiplier. The network's memo of matrices is shared
    by every factor.
    """

    def __init__(self, network: RoadNetwork, factor: float) -> None:
        self.network = network
        self.factor = factor

    def __repr__(self) -> str:
        return f"ScaledTravel({self.network!r}, factor={self.factor:g})"

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        """Travel seconds from each origin (rows) to each destination."""
        return self.network.matrix(origins, destinations) * self.factor

    def identity(self) -> str:
        """The network's identity and the factor."""
        return f"{self.network.identity()}*{self.factor:.6g}"


class City:
    """A road network with zones and an hour-of-day traffic profile.

    Parameters
    ----------
    network
        The roads; node coordinates are planar metres, or longitude and
        latitude when ``network.geographic``.
    zones
        The zones, each with the network nodes it holds.
    hour_multipliers
        Travel-time multiplier for each of the 24 hours of the day.
    noise_cv
        Coefficient of variation of an actual travel time around the
        planned one.
    start_hour
        Hour of the day at simulated time 0.

    .. note::
       The multiplier changes in steps on the hour; a trip is scaled by
       the multiplier of the moment it is planned, not spread over the
       hours it spans.
    """

    def __init__(
        self,
        network: RoadNetwork,
        zones: Sequence[Zone],
        hour_multipliers: npt.ArrayLike,
        noise_cv: float,
        start_hour: float,
    ) -> None:
        multipliers = np.asarray(hour_multipliers, dtype=np.float64)
        if multipliers.shape != (24,) or not np.all(multipliers > 0):
            raise InvalidRequestError(
                "city.hour_multipliers",
                multipliers.tolist(),
                "must be 24 numbers > 0",
            )
        if not (math.isfinite(noise_cv) and noise_cv >= 0):
            raise InvalidRequestError(
                "city.noise_cv", noise_cv, "must be >= 0"
            )
        if not zones:
            raise InvalidRequestError("city.zones", 0, "must hold a zone")

        self.network = network
        self.zones = tuple(zones)
        self.hour_multipliers = multipliers
        self.hour_multipliers.setflags(write=False)
        self.noise_cv = noise_cv
        self.start_hour = start_hour
        self._zone_by_id = {zone.id: zone for zone in self.zones}
        self._travel: dict[float, ScaledTravel] = {}
        self._metres = planar_metres(network)
        self._tree = cKDTree(self._metres)

        # Lognormal noise with mean 1 and the given coefficient of
        # variation: sigma^2 = ln(1 + cv^2), mu = -sigma^2 / 2.
        self._noise_sigma = math.sqrt(math.log1p(noise_cv**2))

    def __repr__(self) -> str:
        return (
            f"City(nodes={self.network.node_count}, "
            f"zones={len(self.zones)}, start_hour={self.start_hour:g})"
        )

    def hour(self, t: float) -> int:
        """Hour of the day (0 to 23) at simulated second ``t``."""
        return math.floor(self.start_hour + t / SECONDS_PER_HOUR) % 24

    def multiplier(self, t: float) -> float:
        """Travel-time multiplier at simulated second ``t``."""
        return float(self.hour_multipliers[self.hour(t)])

    def travel(self, t: float) -> ScaledTravel:
        """The engine-facing travel model at simulated second ``t``.

        The same object is returned for every moment with the same
        multiplier, so engine caches keyed by it keep working.
        """
        factor = self.multiplier(t)
        if factor not in self._travel:
            self._travel[factor] = ScaledTravel(self.network, factor)
        return self._travel[factor]

    def actual_seconds(
        self, planned: float, rng: np.random.Generator
    ) -> float:
        """How long a trip planned at ``planned`` seconds really takes.

        The planned time times a lognormal factor with mean 1 and
        coefficient of variation ``noise_cv``.
        """
        if self._noise_sigma == 0 or planned <= 0:
            return planned
        sigma = self._noise_sigma
        return planned * math.exp(rng.normal(-(sigma**2) / 2, sigma))

    def zone(self, zone_id: str) -> Zone:
        """The zone named ``zone_id``."""
        if zone_id not in self._zone_by_id:
            raise InvalidRequestError(
                "zone",
                zone_id,
                f"must be one of {', '.join(self._zone_by_id)}",
            )
        return self._zone_by_id[zone_id]

    def random_node(
        self, rng: np.random.Generator, zone: Zone | None = None
    ) -> int:
        """A node drawn uniformly, from ``zone`` or the whole city."""
        if zone is None:
            return int(rng.integers(self.network.node_count))
        return int(zone.node_ids[rng.integers(zone.node_ids.size)])

    def random_location(
        self,
        rng: np.random.Generator,
        zone: Zone | None = None,
        prefix: str = "",
    ) -> Location:
        """A location on a node drawn uniformly, from ``zone`` or the
        whole city; its id is ``prefix`` followed by ``n<node>``."""
        node = self.random_node(rng, zone)
        return self.location(node, f"{prefix}n{node}")

    def location(self, node: int, location_id: str) -> Location:
        """A location with id ``location_id`` on network node ``node``."""
        x, y = self.network.nodes[node]
        return Location(location_id, float(x), float(y))

    def nearest_node(self, x: float, y: float) -> int:
        """The node nearest to a point in the network's coordinates."""
        return int(self.network.snap([Location("point", x, y)])[0])

    def nodes_within(self, node: int, radius_m: float) -> Ints:
        """Nodes within ``radius_m`` metres of ``node`` in a straight line
        (``node`` itself included), ascending."""
        found = self._tree.query_ball_point(self._metres[node], radius_m)
        return np.sort(np.asarray(found, dtype=np.intp))

    def nearest_nodes(self, node: int, count: int) -> Ints:
        """The ``count`` nodes nearest to ``node`` (itself included)."""
        count = min(count, self.network.node_count)
        _, found = self._tree.query(self._metres[node], k=count)
        return np.sort(np.atleast_1d(np.asarray(found, dtype=np.intp)))

    def centre_node(self) -> int:
        """The node nearest to the centre of the city's bounding box."""
        low = self._metres.min(axis=0)
        high = self._metres.max(axis=0)
        _, found = self._tree.query((low + high) / 2)
        return int(found)


def planar_metres(network: RoadNetwork) -> Floats:
    """Node coordinates in metres on a plane, shape ``(node_count, 2)``.

    Planar networks are returned as they are; geographic ones are
    projected equirectangularly around their mean latitude, which is
    good to a fraction of a percent across a city.
    """
    nodes = np.asarray(network.nodes, dtype=np.float64)
    if not network.geographic:
        return nodes.copy()
    mean_lon, mean_lat = nodes.mean(axis=0)
    scale = EARTH_RADIUS_M * math.pi / 180.0
    east = ((nodes[:, 0] - mean_lon + 180.0) % 360.0 - 180.0) * scale
    north = (nodes[:, 1] - mean_lat) * scale
    return np.column_stack((east * math.cos(math.radians(mean_lat)), north))


def build_city(
    config: CityConfig, start_hour: float, rng: np.random.Generator
) -> City:
    """The city a scenario describes.

    A synthetic network draws from ``rng`` (so a seed gives the same
    city); a loaded one does not. Malformed network files raise
    :class:`~engine.errors.InvalidRequestError` naming the file, line and
    value.
    """
    started = time.perf_counter()
    if config.kind == "synthetic":
        network = synthetic_network(config.synthetic, rng, config.memo_size)
    elif config.kind == "csv" and config.csv is not None:
        network = load_csv_network(
            config.csv.nodes,
            config.csv.edges,
            geographic=config.csv.geographic,
            memo_size=config.memo_size,
        )
    elif config.kind == "osm" and config.osm is not None:
        network = load_osm_network(config.osm.path, memo_size=config.memo_size)
    else:
        raise InvalidRequestError(
            "city.kind", config.kind, "needs its settings section"
        )

    city = City(
        network,
        grid_zones(network, config.zones),
        config.hour_multipliers,
        config.noise_cv,
        start_hour,
    )
    logger.info(
        "built %s city: %d nodes, %d edges, %d zones in %.2f s",
        config.kind,
        network.node_count,
        network.edge_count,
        len(city.zones),
        time.perf_counter() - started,
    )
    return city


def grid_zones(network: RoadNetwork, zones: int) -> list[Zone]:
    """The zones of a ``zones`` x ``zones`` grid over the network's
    bounding box; cells without a node are left out.

    Zone ``z<row>-<col>`` counts rows from the south and columns from
    the west, from 0.
    """
    metres = planar_metres(network)
    low = metres.min(axis=0)
    size = np.maximum(metres.max(axis=0) - low, 1e-9)
    cells = np.minimum(((metres - low) / size * zones).astype(int), zones - 1)
    cell_of_node = cells[:, 1] * zones + cells[:, 0]

    found: list[Zone] = []
    for cell, zone_id in enumerate(zone_ids(zones)):
        members = np.flatnonzero(cell_of_node == cell).astype(np.intp)
        if members.size == 0:
            logger.warning("zone %s holds no road node; left out", zone_id)
            continue
        row, col = divmod(cell, zones)
        middle = low + size * (np.array([col, row]) + 0.5) / zones
        nearest = members[np.argmin(np.hypot(*(metres[members] - middle).T))]
        x, y = network.nodes[nearest]
        found.append(
            Zone(
                zone_id,
                Location(f"{zone_id}@n{nearest}", float(x), float(y)),
                members,
            )
        )
    return found


def synthetic_network(
    settings: SyntheticSettings,
    rng: np.random.Generator,
    memo_size: int = 64,
) -> RoadNetwork:
    """A generated street network in planar metres.

    Streets are two-way; every street segment is an arterial or a
    residential street, driven at that class's speed. A share of
    residential segments is removed at random, and of what is left only
    the largest strongly connected part is kept.
    """
    if settings.pattern == "grid":
        xs, ys, ends, arterial = _grid(settings)
    else:
        xs, ys, ends, arterial = _ring_radial(settings)

    jitter = settings.jitter * settings.block_m
    xs = xs + rng.uniform(-jitter, jitter, xs.size)
    ys = ys + rng.uniform(-jitter, jitter, ys.size)

    removed = ~arterial & (rng.random(arterial.size) < settings.removed_share)
    ends, arterial = ends[~removed], arterial[~removed]

    # Each street segment is driven both ways.
    tails = np.concatenate((ends[:, 0], ends[:, 1]))
    heads = np.concatenate((ends[:, 1], ends[:, 0]))
    fast = np.concatenate((arterial, arterial))
    lengths = np.hypot(xs[tails] - xs[heads], ys[tails] - ys[heads])
    speeds_mps = (
        np.where(fast, settings.arterial_kmh, settings.residential_kmh) / 3.6
    )
    return RoadNetwork(
        np.arange(xs.size),
        xs,
        ys,
        tails,
        heads,
        lengths,
        lengths / speeds_mps,
        geographic=False,
        memo_size=memo_size,
    )


def _grid(settings: SyntheticSettings) -> tuple[Floats, Floats, Ints, Bools]:
    """Intersections and street segments of a square grid."""
    side = settings.blocks + 1
    rows, cols = np.divmod(np.arange(side * side), side)
    xs = cols * settings.block_m
    ys = rows * settings.block_m

    # East-west segments lie on row r, north-south ones on column c; a
    # street is an arterial when its row or column is a multiple of k.
    node = rows * side + cols
    east = cols < side - 1
    north = rows < side - 1
    ends = np.concatenate(
        (
            np.column_stack((node[east], node[east] + 1)),
            np.column_stack((node[north], node[north] + side)),
        )
    )
    k = settings.arterial_every
    arterial = np.concatenate((rows[east] % k == 0, cols[north] % k == 0))
    return xs.astype(float), ys.astype(float), ends.astype(np.intp), arterial


def _ring_radial(
    settings: SyntheticSettings,
) -> tuple[Floats, Floats, Ints, Bools]:
    """Intersections and street segments of rings crossed by spokes.

    Ring ``r`` has a multiple of ``spokes`` intersections, about
    ``block_m`` apart, so that every spoke passes through one of them;
    each intersection is joined to the nearest one (by angle) on the
    next ring out, and the centre to the spokes of the first ring.
    """
    spokes, k = settings.spokes, settings.arterial_every
    counts = [
        spokes * math.ceil(2 * math.pi * ring / spokes)
        for ring in range(1, settings.rings + 1)
    ]
    firsts = np.cumsum([1, *counts])

    xs: list[Floats] = [np.zeros(1)]
    ys: list[Floats] = [np.zeros(1)]
    ends: list[Ints] = []
    arterial: list[Bools] = []
    for ring, count in enumerate(counts, start=1):
        first = int(firsts[ring - 1])
        angles = 2 * math.pi * np.arange(count) / count
        xs.append(ring * settings.block_m * np.cos(angles))
        ys.append(ring * settings.block_m * np.sin(angles))

        # Along the ring.
        around = np.arange(count)
        ends.append(
            np.column_stack((first + around, first + (around + 1) % count))
        )
        arterial.append(np.full(count, ring % k == 0))

        # Outward: the centre to the first ring's spokes, every other
        # ring's intersections to the next ring.
        per_spoke = count // spokes
        on_spoke = around % per_spoke == 0
        main_spoke = on_spoke & ((around // per_spoke) % k == 0)
        if ring == 1:
            ends.append(
                np.column_stack(
                    (np.zeros(spokes, dtype=np.intp), first + around[on_spoke])
                )
            )
            arterial.append(main_spoke[on_spoke])
        if ring < len(counts):
            outer = counts[ring]
            target = np.rint(around * outer / count).astype(np.intp) % outer
            ends.append(
                np.column_stack((first + around, int(firsts[ring]) + target))
            )
            arterial.append(main_spoke)

    return (
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(ends).astype(np.intp),
        np.concatenate(arterial),
    )
