"""Quality of dispatch on meal-delivery benchmark instances.

Replays each instance folder with the engine policy and with the greedy
rule (engine calls answer at once, so the figures are deterministic and
do not depend on the machine), and prints per instance and pooled over
all orders: the share delivered, click-to-door mean and p90, and the
mean click-to-door bound that no policy can beat. Each instance runs in
a worker process of its own.

    .venv/bin/python benchmarks/replay.py FOLDER [FOLDER ...] [--workers N]
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simulator.machine import describe
from simulator.replay.instance import read_instance
from simulator.replay.run import replay

POLICIES = ("engine", "greedy")


@dataclass(frozen=True)
class Run:
    """One policy's replay of one instance, in minutes."""

    instance: str
    policy: str
    orders: int
    click_to_door: list[float]
    bound: list[float]

    def row(self) -> str:
        """A line of the table."""
        minutes = np.asarray(self.click_to_door, dtype=float)
        return (
            f"{self.instance:<16} {self.policy:<7} {self.orders:>6} "
            f"{100 * minutes.size / self.orders:>9.2f}% "
            f"{minutes.mean():>8.2f} {np.percentile(minutes, 90):>6.1f} "
            f"{np.mean(self.bound):>6.2f}"
        )


def _replay(folder: Path, policy: str) -> Run:
    instance = read_instance(folder)
    result = replay(instance, policy)
    return Run(
        instance.name,
        policy,
        len(instance.orders),
        [d.click_to_door for d in result.deliveries],
        [instance.click_to_door_bound(o) for o in instance.orders],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    jobs = [(f, p) for f in args.folders for p in POLICIES]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(_replay, *zip(*jobs, strict=True)))

    print(
        f"{'instance':<16} {'policy':<7} {'orders':>6} {'delivered':>10} "
        f"{'ctd mean':>8} {'p90':>6} {'bound':>6}"
    )
    for run in runs:
        print(run.row())
    for policy in POLICIES:
        chosen = [run for run in runs if run.policy == policy]
        pooled = Run(
            "pooled",
            policy,
            sum(run.orders for run in chosen),
            [m for run in chosen for m in run.click_to_door],
            [m for run in chosen for m in run.bound],
        )
        print(pooled.row())
    machine = describe()
    print(f"{machine['cpu']}, {machine['cores']} cores")


if __name__ == "__main__":
    main()
