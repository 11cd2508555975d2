"""Travel times inside a simulation: node-to-node seconds, filled lazily.

A simulated day asks for travel times hundreds of thousands of times:
each driver leg, and each dispatch request's matrix. Every location of a
simulation sits on a road node, so the answers are rows of one
node-to-node table, computed by Dijkstra a batch of source nodes at a
time, the first time a row is needed, and kept for the run.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt

    from engine.model import Location
    from engine.travel import RoadNetwork


class NodeTimes:
    """Free-flow seconds between the nodes of a road network.

    Rows are computed on first use and kept; memory is one float32 per
    pair of nodes for the rows in use (100 MB at most for a 5,000-node
    network).
    """

    def __init__(self, network: RoadNetwork) -> None:
        self.network = network
        size = network.node_count
        self._rows = np.zeros((size, size), dtype=np.float32)
        self._known = np.zeros(size, dtype=bool)
        self._nodes: dict[tuple[float, float], int] = {}
        self._graph = _csr(network)
        self.identity = _network_identity(network)

    def nodes(self, locations: Sequence[Location]) -> npt.NDArray[np.intp]:
        """The node of each location, snapping each point once."""
        missing = [
            loc for loc in locations if (loc.x, loc.y) not in self._nodes
        ]
        if missing:
            snapped = self.network.snap(missing)
            for loc, node in zip(missing, snapped.tolist(), strict=True):
                self._nodes[loc.x, loc.y] = node
        return np.fromiter(
            (self._nodes[loc.x, loc.y] for loc in locations),
            dtype=np.intp,
            count=len(locations),
        )

    def between(
        self,
        origins: npt.NDArray[np.intp],
        destinations: npt.NDArray[np.intp],
        scale: float = 1.0,
    ) -> npt.NDArray[np.float64]:
        """Seconds from each origin node to each destination node,
        multiplied by ``scale``."""
        self._ensure(origins)
        # Whole rows first, then columns: twice as fast as one gather of
        # np.ix_ on a large table.
        return np.multiply(
            self._rows[origins][:, destinations], scale, dtype=np.float64
        )

    def leg(self, origin: int, destination: int) -> float:
        """Seconds from one node to another."""
        if not self._known[origin]:
            self._ensure(np.array([origin], dtype=np.intp))
        return float(self._rows[origin, destination])

    def _ensure(self, origins: npt.NDArray[np.intp]) -> None:
        missing = np.unique(origins[~self._known[origins]])
        if missing.size:
            found = dijkstra(self._graph, indices=missing)
            self._rows[missing] = found
            self._known[missing] = True


class TimedTravel:
    """The engine-facing travel model at one moment of the simulated day:
    node-to-node seconds scaled by the hour's multiplier."""

    def __init__(self, times: NodeTimes, multiplier: float) -> None:
        self._times = times
        self.multiplier = multiplier

    def matrix(
        self,
        origins: Sequence[Location],
        destinations: Sequence[Location],
    ) -> npt.NDArray[np.float64]:
        """Travel seconds from each origin (rows) to each destination."""
        rows = self._times.nodes(origins)
        columns = self._times.nodes(destinations)
        return self._times.between(rows, columns, self.multiplier)

    def identity(self) -> str:
        """The network and the multiplier, for request fingerprints."""
        return f"{self._times.identity}*{self.multiplier:.6g}"


def _csr(network: RoadNetwork) -> csr_array:
    # Built from its parts, as the network builds its own, so that edges
    # of zero seconds stay explicit entries, which csgraph treats as edges.
    tails, heads = network.edge_nodes.T
    size = network.node_count
    indptr = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=size), out=indptr[1:])
    return csr_array(
        (network.edge_travel_times, heads, indptr), shape=(size, size)
    )


def _network_identity(network: RoadNetwork) -> str:
    digest = hashlib.blake2b(digest_size=12)
    digest.update(np.ascontiguousarray(network.nodes).tobytes())
    digest.update(np.ascontiguousarray(network.edge_nodes).tobytes())
    digest.update(np.ascontiguousarray(network.edge_travel_times).tobytes())
    return digest.hexdigest()
