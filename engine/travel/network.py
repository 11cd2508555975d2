"""Travel times from fastest paths on a directed road network."""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from engine.errors import InvalidRequestError
from engine.travel.geometric import EARTH_RADIUS_M

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.model import Location

    Ints = npt.NDArray[np.int64]
    Floats = npt.NDArray[np.float64]
    Mask = npt.NDArray[np.bool_]
    Edges = tuple[Ints, Ints, Floats, Floats]
    MemoKey = tuple[tuple[int, ...], tuple[int, ...]]

logger = logging.getLogger(__name__)


def _one_dimensional(name: str, values: npt.ArrayLike) -> npt.NDArray[Any]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidRequestError(
            name, array.shape, "must be a one-dimensional array"
        )
    return array


def _integers(name: str, values: npt.ArrayLike) -> Ints:
    array = _one_dimensional(name, values)
    if array.size and array.dtype.kind not in "iu":
        raise InvalidRequestError(name, array.dtype, "must hold integers")
    return array.astype(np.int64)


def _floats(name: str, values: npt.ArrayLike) -> Floats:
    array = _one_dimensional(name, values)
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidRequestError(
            name, array.dtype, "must hold numbers"
        ) from None


def _same_length(**arrays: npt.NDArray[Any]) -> None:
    if len({array.size for array in arrays.values()}) > 1:
        sizes = ", ".join(f"{k}={a.size}" for k, a in arrays.items())
        raise InvalidRequestError(
            "network", sizes, "arrays must have the same length"
        )


def _first_bad(
    name: str, values: npt.NDArray[Any], good: Mask, rule: str
) -> None:
    bad = np.flatnonzero(~good)
    if bad.size:
        raise InvalidRequestError(f"{name}[{bad[0]}]", values[bad[0]], rule)


class RoadNetwork:
    """Fastest travel times on a directed road network.

    Nodes have coordinates; directed edges have a length in metres and a
    travel time in seconds. Only the largest strongly connected component
    is kept, so every node can reach every other one, and of parallel
    edges only the fastest. Node indices ``0 .. node_count - 1`` number
    the nodes that are kept; ``node_ids`` maps them back to the ids given.

    A location is served by the network node nearest to it (see
    :meth:`snap`). Travel times between locations are the fastest paths
    between their nodes, found with Dijkstra's algorithm on a sparse
    matrix. Matrices are remembered for the last ``memo_size`` pairs of
    node sequences asked for, so a repeated question costs no search.

    Parameters
    ----------
    node_ids
        Unique integer id of each node.
    xs, ys
        Coordinates of each node: planar, or longitude and latitude in
        degrees when ``geographic``.
    edge_from, edge_to
        Node ids at the tail and head of each directed edge.
    length
        Length of each edge in metres, at least zero.
    travel_time
        Seconds to traverse each edge, at least zero.
    geographic
        Whether coordinates are longitude and latitude. Snapping then
        measures distances in metres on a local plane.
    memo_size
        How many matrices to remember; zero remembers none.

    .. note::
       A location is moved to its nearest node without cost: the walk or
       drive from a location to the network is not counted, however far.

    .. warning::
       The memo is bounded by count, not by bytes: it may hold
       ``memo_size`` matrices of the largest size asked for.
    """

    def __init__(
        self,
        node_ids: npt.ArrayLike,
        xs: npt.ArrayLike,
        ys: npt.ArrayLike,
        edge_from: npt.ArrayLike,
        edge_to: npt.ArrayLike,
        length: npt.ArrayLike,
        travel_time: npt.ArrayLike,
        *,
        geographic: bool,
        memo_size: int = 64,
    ) -> None:
        if isinstance(memo_size, bool) or not isinstance(memo_size, int):
            raise InvalidRequestError(
                "network.memo_size", memo_size, "must be an integer"
            )
        if memo_size < 0:
            raise InvalidRequestError(
                "network.memo_size", memo_size, "must be >= 0"
            )
        self._geographic = geographic
        self._memo_size = memo_size
        self._memo: OrderedDict[MemoKey, Floats] = OrderedDict()
        self._lock = threading.Lock()
        self._dijkstra_runs = 0
        self._identity: str | None = None

        ids, nodes = self._check_nodes(node_ids, xs, ys, geographic)
        tails, heads, lengths, times = self._check_edges(
            ids, edge_from, edge_to, length, travel_time
        )
        tails, heads, lengths, times = self._fastest_edges(
            tails, heads, lengths, times
        )
        kept = self._largest_component(ids.size, tails, heads)

        # Renumbering by a running count keeps edges sorted by (tail,
        # head), which is the order of a CSR matrix's entries.
        index = np.cumsum(kept) - 1
        inside = kept[tails] & kept[heads]
        self._node_ids = ids[kept]
        self._nodes = nodes[kept]
        self._tails = index[tails[inside]]
        self._heads = index[heads[inside]]
        self._lengths = lengths[inside]
        self._times = times[inside]
        self._build_graph()
        self._build_snapping()
        for array in self._public_arrays():
            array.setflags(write=False)

    @staticmethod
    def _check_nodes(
        node_ids: npt.ArrayLike,
        xs: npt.ArrayLike,
        ys: npt.ArrayLike,
        geographic: bool,
    ) -> tuple[Ints, Floats]:
        ids = _integers("network.node_ids", node_ids)
        x = _floats("network.xs", xs)
        y = _floats("network.ys", ys)
        _same_length(node_ids=ids, xs=x, ys=y)
        if ids.size == 0:
            raise InvalidRequestError(
                "network.node_ids", 0, "must hold at least one node"
            )
        _first_bad("network.xs", x, np.isfinite(x), "must be finite")
        _first_bad("network.ys", y, np.isfinite(y), "must be finite")
        if geographic:
            _first_bad(
                "network.xs",
                x,
                np.abs(x) <= 180,
                "must be a longitude in [-180, 180] degrees",
            )
            _first_bad(
                "network.ys",
                y,
                np.abs(y) <= 90,
                "must be a latitude in [-90, 90] degrees",
            )

        order = np.argsort(ids, kind="stable")
        repeated = np.flatnonzero(np.diff(ids[order]) == 0)
        if repeated.size:
            raise InvalidRequestError(
                "network.node_ids",
                int(ids[order[repeated[0]]]),
                "ids must be unique",
            )
        return ids, np.column_stack((x, y))

    @staticmethod
    def _check_edges(
        ids: Ints,
        edge_from: npt.ArrayLike,
        edge_to: npt.ArrayLike,
        length: npt.ArrayLike,
        travel_time: npt.ArrayLike,
    ) -> Edges:
        tails = _integers("network.edge_from", edge_from)
        heads = _integers("network.edge_to", edge_to)
        lengths = _floats("network.length", length)
        times = _floats("network.travel_time", travel_time)
        _same_length(
            edge_from=tails,
            edge_to=heads,
            length=lengths,
            travel_time=times,
        )
        for name, values in (("length", lengths), ("travel_time", times)):
            good = np.isfinite(values) & (values >= 0)
            _first_bad(
                f"network.{name}", values, good, "must be finite and >= 0"
            )

        # Edges name nodes by id; the graph needs their positions.
        order = np.argsort(ids)
        positions: list[Ints] = []
        for name, ends in (("edge_from", tails), ("edge_to", heads)):
            found = np.searchsorted(ids, ends, sorter=order)
            found = order[np.minimum(found, ids.size - 1)]
            _first_bad(
                f"network.{name}", ends, ids[found] == ends, "unknown node id"
            )
            positions.append(found)
        return positions[0], positions[1], lengths, times

    @staticmethod
    def _fastest_edges(
        tails: Ints, heads: Ints, lengths: Floats, times: Floats
    ) -> Edges:
        # A self-loop never shortens a path; of parallel edges the fastest
        # is the only one a fastest path can use.
        proper = np.flatnonzero(tails != heads)
        order = proper[
            np.lexsort((times[proper], heads[proper], tails[proper]))
        ]
        first = np.ones(order.size, dtype=bool)
        first[1:] = (np.diff(tails[order]) != 0) | (np.diff(heads[order]) != 0)
        keep = order[first]
        return tails[keep], heads[keep], lengths[keep], times[keep]

    @staticmethod
    def _largest_component(node_count: int, tails: Ints, heads: Ints) -> Mask:
        structure = csr_array(
            (np.ones(tails.size), (tails, heads)),
            shape=(node_count, node_count),
        )
        _, labels = connected_components(
            structure, directed=True, connection="strong"
        )
        largest = np.argmax(np.bincount(labels))
        kept: Mask = labels == largest
        logger.info(
            "road network: kept %d of %d nodes in the largest strongly "
            "connected component, dropped %d",
            int(kept.sum()),
            node_count,
            node_count - int(kept.sum()),
        )
        return kept

    def _build_graph(self) -> None:
        n = self._node_ids.size
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self._tails, minlength=n), out=indptr[1:])

        # Built from its parts, the matrix keeps edges of zero seconds as
        # explicit entries, which csgraph treats as edges.
        self._graph = csr_array(
            (self._times, self._heads, indptr), shape=(n, n)
        )
        self._reverse = csr_array(self._graph.T)

        # One key per edge, ascending, then a sentinel above every key so
        # that a search for a missing edge still lands inside the array.
        self._edge_keys = np.append(self._tails * n + self._heads, n * n)

    def _build_snapping(self) -> None:
        self._mean_lon = float(self._nodes[:, 0].mean())
        self._mean_lat = float(self._nodes[:, 1].mean())
        self._tree = cKDTree(self._plane(self._nodes))

    def _plane(self, points: Floats) -> Floats:
        if not self._geographic:
            return points

        # Equirectangular projection around the mean latitude: metres
        # east and north, good to a fraction of a percent across a city.
        east = (points[:, 0] - self._mean_lon + 180.0) % 360.0 - 180.0
        north = points[:, 1] - self._mean_lat
        scale = EARTH_RADIUS_M * math.pi / 180.0
        return np.column_stack(
            (
                east * scale * math.cos(math.radians(self._mean_lat)),
                north * scale,
            )
        )

    def _public_arrays(self) -> tuple[npt.NDArray[Any], ...]:
        return (
            self._node_ids,
            self._nodes,
            self._tails,
            self._heads,
            self._lengths,
            self._times,
        )

    def __repr__(self) -> str:
        return (
            f"RoadNetwork(nodes={self.node_count}, edges={self.edge_count}, "
            f"geographic={self._geographic})"
        )

    def identity(self) -> str:
        """A digest of the nodes and edges kept, for request
        fingerprints; computed on first use."""
        if self._identity is None:
            digest = hashlib.blake2b(digest_size=16)
            sizes = (self._geographic, self.node_count, self.edge_count)
            digest.update(repr(sizes).encode())
            for array in self._public_arrays():
                digest.update(
                    array.astype(array.dtype.newbyteorder("<")).tobytes()
                )
            self._identity = f"road-network({digest.hexdigest()})"
        return self._identity

    @property
    def geographic(self) -> bool:
        """Whether node coordinates are longitude and latitude."""
        return self._geographic

    @property
    def memo_size(self) -> int:
        """How many matrices are remembered at most."""
        return self._memo_size

    @property
    def dijkstra_runs(self) -> int:
        """Number of Dijkstra searches run so far.

        One search may start from many sources; a matrix answered from
        the memo adds none.
        """
        return self._dijkstra_runs

    @property
    def node_count(self) -> int:
        """Number of nodes kept."""
        return int(self._node_ids.size)

    @property
    def edge_count(self) -> int:
        """Number of directed edges kept."""
        return int(self._tails.size)

    @property
    def node_ids(self) -> npt.NDArray[np.int64]:
        """The id given for each node index (read-only)."""
        return self._node_ids

    @property
    def nodes(self) -> npt.NDArray[np.float64]:
        """Coordinates ``(x, y)`` of each node (read-only).

        The shape is ``(node_count, 2)``.
        """
        return self._nodes

    @property
    def edge_nodes(self) -> npt.NDArray[np.int64]:
        """Tail and head node index of each edge (read-only).

        The shape is ``(edge_count, 2)``; rows are sorted by tail, then
        by head, in the order of :attr:`edge_lengths` and
        :attr:`edge_travel_times`.
        """
        pairs = np.column_stack((self._tails, self._heads))
        pairs.setflags(write=False)
        return pairs

    @property
    def edge_lengths(self) -> npt.NDArray[np.float64]:
        """Length of each edge in metres (read-only)."""
        return self._lengths

    @property
    def edge_travel_times(self) -> npt.NDArray[np.float64]:
        """Seconds to traverse each edge (read-only)."""
        return self._times

    def snap(self, locations: Sequence[Location]) -> npt.NDArray[np.intp]:
        """Index of the node nearest to each location.

        Distances are planar, or metres on a local plane around the
        network when it is geographic.
        """
        points = np.array(
            [(loc.x, loc.y) for loc in locations], dtype=np.float64
        ).reshape(-1, 2)
        _, nearest = self._tree.query(self._plane(points))
        return np.asarray(nearest, dtype=np.intp)

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        """Travel seconds from each origin (rows) to each destination.

        Each location is snapped to its nearest node; locations at the
        same node are zero seconds apart.
        """
        return self.node_matrix(self.snap(origins), self.snap(destinations))

    def node_matrix(
        self,
        origin_nodes: npt.ArrayLike,
        destination_nodes: npt.ArrayLike,
    ) -> npt.NDArray[np.float64]:
        """Travel seconds between node indices, as a fresh array.

        Dijkstra runs once, from the distinct origins, or backwards on
        the reversed network from the distinct destinations when there
        are fewer of those.
        """
        origins = self._node_indices("origin_nodes", origin_nodes)
        destinations = self._node_indices(
            "destination_nodes", destination_nodes
        )
        key = (tuple(origins.tolist()), tuple(destinations.tolist()))
        with self._lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key].copy()

        times = self._search(origins, destinations)
        times.setflags(write=False)
        with self._lock:
            if self._memo_size:
                self._memo[key] = times
                while len(self._memo) > self._memo_size:
                    self._memo.popitem(last=False)
        return times.copy()

    def _search(
        self,
        origins: npt.NDArray[np.intp],
        destinations: npt.NDArray[np.intp],
    ) -> npt.NDArray[np.float64]:
        if origins.size == 0 or destinations.size == 0:
            return np.zeros((origins.size, destinations.size))

        sources, source_rows = np.unique(origins, return_inverse=True)
        targets, target_rows = np.unique(destinations, return_inverse=True)
        with self._lock:
            self._dijkstra_runs += 1
        if targets.size < sources.size:
            backward = dijkstra(self._reverse, indices=targets)
            return np.ascontiguousarray(
                backward[np.ix_(target_rows, origins)].T
            )
        forward = dijkstra(self._graph, indices=sources)
        times: npt.NDArray[np.float64] = forward[
            np.ix_(source_rows, destinations)
        ]
        return times

    def shortest_path(
        self, origin_node: int, destination_node: int
    ) -> list[int]:
        """Node indices along the fastest path, both ends included."""
        origin = self._node_index("origin_node", origin_node)
        destination = self._node_index("destination_node", destination_node)
        if origin == destination:
            return [origin]

        _, predecessors = dijkstra(
            self._graph, indices=origin, return_predecessors=True
        )
        with self._lock:
            self._dijkstra_runs += 1
        path = [destination]
        while path[-1] != origin:
            path.append(int(predecessors[path[-1]]))
        path.reverse()
        return path

    def path_edges(self, path: Sequence[int]) -> npt.NDArray[np.intp]:
        """Edge index of each step of a path of node indices.

        Index :attr:`edge_travel_times` or :attr:`edge_lengths` with the
        result to time or measure the steps of a path.
        """
        nodes = self._node_indices("path", path)
        keys = nodes[:-1] * self.node_count + nodes[1:]
        found = np.searchsorted(self._edge_keys, keys)
        missing = np.flatnonzero(self._edge_keys[found] != keys)
        if missing.size:
            step = int(missing[0])
            raise InvalidRequestError(
                f"path[{step}:{step + 2}]",
                nodes[step : step + 2].tolist(),
                "consecutive nodes must be joined by an edge",
            )
        return np.asarray(found, dtype=np.intp)

    def _node_index(self, name: str, value: int) -> int:
        if not isinstance(value, int | np.integer) or isinstance(value, bool):
            raise InvalidRequestError(name, value, "must be a node index")
        if not 0 <= value < self.node_count:
            raise InvalidRequestError(
                name, value, f"must be a node index < {self.node_count}"
            )
        return int(value)

    def _node_indices(
        self, name: str, values: npt.ArrayLike
    ) -> npt.NDArray[np.intp]:
        nodes = _one_dimensional(name, values)
        if nodes.size == 0:
            return np.zeros(0, dtype=np.intp)
        if nodes.dtype.kind not in "iu":
            raise InvalidRequestError(
                name, nodes.dtype, "must hold node indices (integers)"
            )
        good = (nodes >= 0) & (nodes < self.node_count)
        _first_bad(
            name, nodes, good, f"must be a node index < {self.node_count}"
        )
        return nodes.astype(np.intp)
