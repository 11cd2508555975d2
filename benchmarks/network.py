"""Speed of the road-network travel model on the shared networks.

Times loading each network, a cold 200 x 200 travel-time matrix between
random nodes, and the same matrix again (answered from the memo), and
prints the median of several repeats.

    .venv/bin/python benchmarks/network.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np

from engine.model import Location
from engine.travel import load_csv_network, load_osm_network
from simulator.machine import describe

NETWORKS = Path(__file__).resolve().parents[2] / "shared/data/networks"


def _seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _locations(network, count: int, seed: int) -> list[Location]:
    rng = np.random.default_rng(seed)
    picked = rng.choice(network.node_count, size=count, replace=False)
    return [
        Location(f"n{k}", *map(float, network.nodes[node]))
        for k, node in enumerate(picked)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parser.parse_args().repeats

    loaders = {
        "munich (csv)": lambda: load_csv_network(
            NETWORKS / "munich/nodes.csv", NETWORKS / "munich/edges.csv"
        ),
        "campo_grande (osm)": lambda: load_osm_network(
            NETWORKS / "campo_grande/campo-grande.osm.gz"
        ),
    }
    print(
        f"{'network':20} {'nodes':>7} {'load s':>7} {'cold ms':>8} "
        f"{'memo ms':>8}"
    )
    for name, load in loaders.items():
        load_s = _seconds(load, repeats)
        network = load()
        cold = []
        for seed in range(repeats):
            places = _locations(network, 200, seed)
            began = time.perf_counter()
            network.matrix(places, places)
            cold.append(time.perf_counter() - began)
        memo = _seconds(partial(network.matrix, places, places), repeats)
        print(
            f"{name:20} {network.node_count:7d} {load_s:7.2f} "
            f"{statistics.median(cold) * 1e3:8.1f} {memo * 1e3:8.2f}"
        )
    info = describe()
    print(
        f"{repeats} repeats, 200 x 200 matrices; {info['cpu']}, "
        f"{info['cores']} cores"
    )


if __name__ == "__main__":
    main()
