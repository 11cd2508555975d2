"""Road networks read from files: a node/edge CSV pair, or OpenStreetMap.

Both loaders return a :class:`~engine.travel.network.RoadNetwork` reduced
to its largest strongly connected component. A file that is missing or
malformed raises :class:`~engine.errors.InvalidRequestError` naming the
file, the line or element where known, the value and what is allowed.
"""

from __future__ import annotations

import csv
import gzip
import logging
import math
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from xml.etree.ElementTree import ParseError, iterparse

import numpy as np

from engine.errors import InvalidRequestError
from engine.travel.geometric import EARTH_RADIUS_M
from engine.travel.network import RoadNetwork

if TYPE_CHECKING:
    import io
    import os
    from collections.abc import Iterator
    from xml.etree.ElementTree import Element

    import numpy.typing as npt

logger = logging.getLogger(__name__)

DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "service": 15.0,
    "road": 30.0,
}
"""Free-flow speed in km/h by OpenStreetMap ``highway`` value.

These are the drivable road types: a way with any other ``highway``
value (footway, cycleway, path, steps, pedestrian, track, bridleway,
construction, proposed, ...) is not read. A way's ``maxspeed``, where it
can be read, overrides its default.
"""

IMPLIED_ONEWAY_HIGHWAYS = frozenset({"motorway", "motorway_link"})
"""Road types that are one-way unless tagged ``oneway=no``."""

IMPLIED_ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})
"""``junction`` values that make a way one-way unless tagged otherwise."""

_FORWARD = frozenset({"yes", "1", "true"})
_REVERSE = frozenset({"-1", "reverse"})
_BOTH_WAYS = frozenset({"no", "0", "false"})

_MPH_IN_KMH = 1.609344
_KNOT_IN_KMH = 1.852
_SPEED = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")

_TOP_LEVEL = frozenset({"node", "way", "relation"})

_NODE_COLUMNS = ("node_index", "pos_x", "pos_y")
_EDGE_COLUMNS = ("from_node", "to_node", "distance", "travel_time")


def load_csv_network(
    nodes_csv: str | os.PathLike[str],
    edges_csv: str | os.PathLike[str] | None = None,
    *,
    geographic: bool = True,
    memo_size: int = 64,
) -> RoadNetwork:
    """Read a road network from a nodes file and an edges file.

    ``nodes.csv`` has the columns ``node_index, pos_x, pos_y`` and
    ``edges.csv`` the columns ``from_node, to_node, distance,
    travel_time``, in metres and seconds; other columns are ignored. This
    is the layout of FleetPy's networks.

    Parameters
    ----------
    nodes_csv
        The nodes file, or a directory holding ``nodes.csv`` and
        ``edges.csv``.
    edges_csv
        The edges file; leave it out when ``nodes_csv`` is a directory.
    geographic
        Whether ``pos_x`` and ``pos_y`` are longitude and latitude in
        degrees, rather than planar coordinates.
    memo_size
        How many travel-time matrices the network remembers.

    .. note::
       FleetPy's ``is_stop_only`` column is not read: every node may be
       passed through.
    """
    nodes_path, edges_path = _csv_paths(nodes_csv, edges_csv)
    node_ids, xs, ys = _read_nodes(nodes_path)
    edge_from, edge_to, lengths, times = _read_edges(
        edges_path, set(node_ids), nodes_path
    )

    logger.info(
        "read %d nodes from %s and %d edges from %s",
        len(node_ids),
        nodes_path,
        len(edge_from),
        edges_path,
    )
    return RoadNetwork(
        np.array(node_ids, dtype=np.int64),
        xs,
        ys,
        np.array(edge_from, dtype=np.int64),
        np.array(edge_to, dtype=np.int64),
        lengths,
        times,
        geographic=geographic,
        memo_size=memo_size,
    )


def load_osm_network(
    path: str | os.PathLike[str], *, memo_size: int = 64
) -> RoadNetwork:
    """Read the drivable roads of an OpenStreetMap XML file.

    The file may be gzip-compressed. Ways whose ``highway`` value is a
    key of :data:`DEFAULT_SPEEDS_KMH` are kept, with the nodes they use.
    ``oneway=yes`` (or ``1``, ``true``) keeps only the drawn direction,
    ``oneway=-1`` only the opposite one; motorways and roundabouts are
    one-way unless tagged ``oneway=no``. Edge lengths are great-circle
    distances between consecutive nodes of a way; the speed is the
    way's ``maxspeed`` (km/h, mph or knots; the first of several values)
    or else the default of its road type.

    .. note::
       Turn restrictions, access tags and traffic are ignored; ways that
       run off the extract are cut where their nodes are missing.

    .. warning::
       Every node of the file is held in memory until the ways are read,
       which suits a city extract, not a country.
    """
    osm_path = Path(path)
    _require_file("osm_file", osm_path)
    coordinates: dict[int, tuple[float, float]] = {}
    ways: list[_Way] = []
    for element in _osm_elements(osm_path):
        if element.tag == "node":
            node_id = _osm_integer(osm_path, element, "id")
            coordinates[node_id] = _osm_coordinates(osm_path, element)
        elif element.tag == "way":
            way = _drivable_way(osm_path, element)
            if way is not None:
                ways.append(way)

    tails, heads, speeds = _directed_segments(ways, coordinates)
    if tails.size == 0:
        raise InvalidRequestError(
            "osm_file",
            str(osm_path),
            "must hold ways with a drivable highway tag "
            f"({', '.join(DEFAULT_SPEEDS_KMH)}) and their nodes",
        )
    node_ids = np.unique(np.concatenate((tails, heads)))
    lon, lat = np.array([coordinates[n] for n in node_ids.tolist()]).T
    tail_at = np.searchsorted(node_ids, tails)
    head_at = np.searchsorted(node_ids, heads)
    lengths = _haversine_m(
        lon[tail_at], lat[tail_at], lon[head_at], lat[head_at]
    )
    logger.info(
        "read %d drivable ways, %d nodes and %d edges from %s",
        len(ways),
        node_ids.size,
        tails.size,
        osm_path,
    )
    return RoadNetwork(
        node_ids,
        lon,
        lat,
        tails,
        heads,
        lengths,
        lengths / (speeds / 3.6),
        geographic=True,
        memo_size=memo_size,
    )


def _csv_paths(
    nodes_csv: str | os.PathLike[str],
    edges_csv: str | os.PathLike[str] | None,
) -> tuple[Path, Path]:
    """The nodes and edges files, from two files or from a directory."""
    nodes_path = Path(nodes_csv)
    if nodes_path.is_dir():
        if edges_csv is not None:
            raise InvalidRequestError(
                "edges_csv",
                str(edges_csv),
                "must be left out when nodes_csv is a directory",
            )
        edges_path = nodes_path / "edges.csv"
        nodes_path = nodes_path / "nodes.csv"
    elif edges_csv is None:
        raise InvalidRequestError(
            "nodes_csv",
            str(nodes_csv),
            "must be a directory holding nodes.csv and edges.csv when "
            "edges_csv is left out",
        )
    else:
        edges_path = Path(edges_csv)
    _require_file("nodes_csv", nodes_path)
    _require_file("edges_csv", edges_path)
    return nodes_path, edges_path


def _read_nodes(path: Path) -> tuple[list[int], list[float], list[float]]:
    """Id, x and y of every node of a nodes file."""
    lines: dict[int, int] = {}
    xs: list[float] = []
    ys: list[float] = []
    for row in _rows(path, _NODE_COLUMNS):
        node_id = row.integer("node_index")
        if node_id in lines:
            row.reject(
                "node_index",
                f"must be unique (also on line {lines[node_id]})",
            )
        lines[node_id] = row.line
        xs.append(row.number("pos_x"))
        ys.append(row.number("pos_y"))
    return list(lines), xs, ys


def _read_edges(
    path: Path, node_ids: set[int], nodes_path: Path
) -> tuple[list[int], list[int], list[float], list[float]]:
    """Tail, head, metres and seconds of every edge of an edges file."""
    tails: list[int] = []
    heads: list[int] = []
    lengths: list[float] = []
    times: list[float] = []
    for row in _rows(path, _EDGE_COLUMNS):
        for column, ends in (("from_node", tails), ("to_node", heads)):
            node_id = row.integer(column)
            if node_id not in node_ids:
                row.reject(column, f"must be a node_index of {nodes_path}")
            ends.append(node_id)
        lengths.append(row.number("distance", minimum=0.0))
        times.append(row.number("travel_time", minimum=0.0))
    return tails, heads, lengths, times


def _require_file(field: str, path: Path) -> None:
    if not path.is_file():
        raise InvalidRequestError(field, str(path), "must be an existing file")


@dataclass(frozen=True, slots=True)
class _Row:
    """One row of a CSV file, read by column name."""

    path: Path
    line: int
    values: dict[str, str]

    def reject(self, column: str, rule: str) -> NoReturn:
        raise InvalidRequestError(
            f"{self.path}, line {self.line}, {column}",
            self.values[column],
            rule,
        )

    def integer(self, column: str) -> int:
        try:
            return int(self.values[column])
        except ValueError:
            self.reject(column, "must be an integer")

    def number(self, column: str, minimum: float = -math.inf) -> float:
        try:
            value = float(self.values[column])
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value >= minimum):
            bound = "" if math.isinf(minimum) else f" >= {minimum:g}"
            self.reject(column, f"must be a finite number{bound}")
        return value


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[_Row]:
    try:
        yield from _read_rows(path, columns)
    except (UnicodeDecodeError, csv.Error) as error:
        raise InvalidRequestError(
            "csv_file", str(path), f"must be UTF-8 CSV text ({error})"
        ) from None


def _read_rows(path: Path, columns: tuple[str, ...]) -> Iterator[_Row]:
    with path.open(newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in columns if name not in header]
        if missing:
            raise InvalidRequestError(
                f"{path}, line 1",
                ",".join(header),
                f"header must name the columns {', '.join(columns)}",
            )
        positions = {name: header.index(name) for name in columns}
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise InvalidRequestError(
                    f"{path}, line {reader.line_num}",
                    ",".join(row),
                    f"must have {len(header)} fields, like the header",
                )
            yield _Row(
                path,
                reader.line_num,
                {name: row[i].strip() for name, i in positions.items()},
            )


@dataclass(frozen=True, slots=True)
class _Way:
    """The part of an OpenStreetMap way that routing needs."""

    nodes: list[int]
    speed_kmh: float
    forward: bool
    backward: bool


def _open_osm(path: Path) -> io.BufferedReader | gzip.GzipFile:
    stream = path.open("rb")
    if stream.read(2) == b"\x1f\x8b":
        stream.close()
        return gzip.open(path, "rb")
    stream.seek(0)
    return stream


def _osm_elements(path: Path) -> Iterator[Element]:
    """Each top-level element of an OSM file, cleared once it is used."""
    try:
        with _open_osm(path) as stream:
            root: Element | None = None
            for event, element in iterparse(stream, events=("start", "end")):
                if root is None:
                    root = element
                elif event == "end" and element.tag in _TOP_LEVEL:
                    yield element
                    root.clear()
    except ParseError as error:
        line, column = error.position
        problem = str(error).rsplit(": line", 1)[0]
        raise InvalidRequestError(
            f"{path}, line {line}, column {column}",
            problem,
            "must be well-formed OpenStreetMap XML",
        ) from None
    except (OSError, EOFError, zlib.error) as error:
        raise InvalidRequestError(
            "osm_file",
            str(path),
            f"must be readable XML or gzip-compressed XML ({error})",
        ) from None


def _osm_integer(path: Path, element: Element, key: str) -> int:
    text = element.get(key, "")
    try:
        return int(text)
    except ValueError:
        raise InvalidRequestError(
            f"{path}, {element.tag} {element.get('id')}, {key}",
            text,
            "must be an integer",
        ) from None


def _osm_coordinates(path: Path, element: Element) -> tuple[float, float]:
    where = f"{path}, node {element.get('id')}"
    lon_text, lat_text = element.get("lon", ""), element.get("lat", "")
    try:
        lon, lat = float(lon_text), float(lat_text)
    except ValueError:
        raise InvalidRequestError(
            f"{where}, lon/lat",
            f"{lon_text}/{lat_text}",
            "must be numbers",
        ) from None
    if not (abs(lon) <= 180 and abs(lat) <= 90):
        raise InvalidRequestError(
            f"{where}, lon/lat",
            f"{lon_text}/{lat_text}",
            "must be degrees within [-180, 180] and [-90, 90]",
        )
    return lon, lat


def _drivable_way(path: Path, element: Element) -> _Way | None:
    tags = {
        tag.get("k", ""): tag.get("v", "").strip().lower()
        for tag in element.iter("tag")
    }
    highway = tags.get("highway", "")
    if highway not in DEFAULT_SPEEDS_KMH:
        return None

    nodes = [_osm_integer(path, nd, "ref") for nd in element.iter("nd")]
    speed = _parse_maxspeed(tags.get("maxspeed", ""))
    oneway = tags.get("oneway", "")
    if oneway in _FORWARD:
        forward, backward = True, False
    elif oneway in _REVERSE:
        forward, backward = False, True
    elif oneway in _BOTH_WAYS:
        forward, backward = True, True
    else:
        implied = (
            highway in IMPLIED_ONEWAY_HIGHWAYS
            or tags.get("junction", "") in IMPLIED_ONEWAY_JUNCTIONS
        )
        forward, backward = True, not implied
    return _Way(nodes, speed or DEFAULT_SPEEDS_KMH[highway], forward, backward)


def _parse_maxspeed(text: str) -> float | None:
    """Speed in km/h of a ``maxspeed`` value, or None if it has none.

    ``"50"``, ``"50 km/h"``, ``"30 mph"`` and ``"10 knots"`` are read;
    of ``"50;60"`` the first value is taken; words such as ``"signals"``
    or ``"none"`` give None.
    """
    match = _SPEED.match(text.split(";")[0])
    if match is None:
        return None
    speed = float(match.group(1))
    unit = match.group(2)
    if unit == "mph":
        speed *= _MPH_IN_KMH
    elif unit == "knots":
        speed *= _KNOT_IN_KMH
    return speed if speed > 0 else None


def _directed_segments(
    ways: list[_Way], coordinates: dict[int, tuple[float, float]]
) -> tuple[
    npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]
]:
    """Tail, head and speed of every directed segment of the ways.

    A segment with an end missing from the file is left out.
    """
    tails: list[int] = []
    heads: list[int] = []
    speeds: list[float] = []
    missing = 0
    for way in ways:
        for tail, head in zip(way.nodes, way.nodes[1:], strict=False):
            if tail not in coordinates or head not in coordinates:
                missing += 1
                continue
            if way.forward:
                tails.append(tail)
                heads.append(head)
                speeds.append(way.speed_kmh)
            if way.backward:
                tails.append(head)
                heads.append(tail)
                speeds.append(way.speed_kmh)
    if missing:
        logger.debug("left out %d segments with a node missing", missing)
    return (
        np.array(tails, dtype=np.int64),
        np.array(heads, dtype=np.int64),
        np.array(speeds, dtype=np.float64),
    )


def _haversine_m(
    lon1: npt.NDArray[np.float64],
    lat1: npt.NDArray[np.float64],
    lon2: npt.NDArray[np.float64],
    lat2: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Great-circle distance in metres between paired points."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    half_dlat = (phi2 - phi1) / 2
    half_dlon = np.radians(lon2 - lon1) / 2
    h = (
        np.sin(half_dlat) ** 2
        + np.cos(phi1) * np.cos(phi2) * np.sin(half_dlon) ** 2
    )
    distance: npt.NDArray[np.float64] = (
        2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    )
    return distance
