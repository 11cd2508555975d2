"""The solver benchmark: Li & Lim and Solomon instances against their
best-known solutions.

The gap is measured against the distance-only reference of each set
(``lilim100_dist``, ``solomon100_dist`` in ``bks.csv``), since the engine
minimises travel, not the number of vehicles; the hierarchical best-known
vehicles and distance are printed beside it.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, TextIO

from engine.errors import InfeasiblePlanError, InvalidRequestError
from engine.model import Backend, Options, StopKind
from engine.solvers import check_plan, solve
from simulator.bench.instances import (
    DEPOT,
    read_best_known,
    read_lilim,
    read_solomon,
)
from simulator.machine import describe

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from engine.model import Plan
    from simulator.bench.instances import Instance

READERS: dict[str, Callable[[Path, Options], Instance]] = {
    "lilim100": read_lilim,
    "solomon100": read_solomon,
}
"""Instance sets and the reader of each."""


@dataclass(frozen=True, slots=True)
class InstanceResult:
    """One instance solved: what was found, the references, the time."""

    instance: str
    vehicles: int
    distance: float
    unassigned: int
    feasible: bool
    bks_vehicles: int | None
    bks_distance: float | None
    reference_distance: float | None
    gap_percent: float | None
    wall_s: float
    backend: str
    routes: list[list[int]] = field(repr=False)


@dataclass(frozen=True, slots=True)
class BenchmarkResult:
    """A whole benchmark run, with its settings and machine."""

    set: str
    time_limit: float
    backend: str
    seed: int
    machine: dict[str, str | int]
    instances: list[InstanceResult]

    @property
    def average_gap(self) -> float | None:
        """Mean gap in percent over instances that have a reference."""
        gaps = [
            r.gap_percent for r in self.instances if r.gap_percent is not None
        ]
        return statistics.fmean(gaps) if gaps else None

    def to_dict(self) -> dict[str, object]:
        """The result as JSON-ready data, averages included."""
        data = asdict(self)
        data["average"] = {
            "gap_percent": self.average_gap,
            "vehicles": statistics.fmean(r.vehicles for r in self.instances),
            "distance": statistics.fmean(r.distance for r in self.instances),
            "wall_s": statistics.fmean(r.wall_s for r in self.instances),
            "feasible": sum(r.feasible for r in self.instances),
        }
        return data


def instance_paths(
    data: Path, benchmark_set: str, names: Iterable[str] | None
) -> list[Path]:
    """The instance files of a set, all or those ``names`` picks."""
    if benchmark_set not in READERS:
        raise InvalidRequestError(
            "--set", benchmark_set, f"must be one of {', '.join(READERS)}"
        )
    folder = data / benchmark_set
    if not folder.is_dir():
        raise InvalidRequestError(
            "--data", str(data), f"must hold a folder {benchmark_set}/"
        )
    available = {path.stem.lower(): path for path in folder.glob("*.txt")}
    if names is None:
        return [available[name] for name in sorted(available)]
    chosen = []
    for name in names:
        if name.lower() not in available:
            raise InvalidRequestError(
                "--instances",
                name,
                f"must name instances of {folder} (e.g. "
                f"{', '.join(sorted(available)[:3])})",
            )
        chosen.append(available[name.lower()])
    return chosen


def run_benchmark(
    data: Path,
    benchmark_set: str,
    time_limit: float,
    names: Iterable[str] | None = None,
    backend: Backend = Backend.AUTO,
    seed: int = 0,
    progress: TextIO | None = None,
) -> BenchmarkResult:
    """Solve each instance once and compare with the best known."""
    paths = instance_paths(data, benchmark_set, names)
    best_known = read_best_known(data / "bks.csv")
    options = Options(time_limit=time_limit, backend=backend, seed=seed)
    results = []
    for path in paths:
        instance = READERS[benchmark_set](path, options)
        plan = solve(instance.request)
        name = instance.name.lower()
        bks = best_known.get((benchmark_set, name))
        reference = best_known.get((f"{benchmark_set}_dist", name))
        result = InstanceResult(
            instance=instance.name,
            vehicles=len(plan.routes),
            distance=round(plan.travel_time, 2),
            unassigned=len(plan.unassigned),
            feasible=_feasible(instance, plan),
            bks_vehicles=bks.vehicles if bks else None,
            bks_distance=bks.distance if bks else None,
            reference_distance=reference.distance if reference else None,
            gap_percent=(
                100 * (plan.travel_time / reference.distance - 1)
                if reference and not plan.unassigned
                else None
            ),
            wall_s=plan.stats.wall_s,
            backend=plan.stats.backend,
            routes=_node_routes(plan),
        )
        results.append(result)
        if progress is not None:
            print(format_row(result), file=progress, flush=True)
    return BenchmarkResult(
        set=benchmark_set,
        time_limit=time_limit,
        backend=backend.value,
        seed=seed,
        machine=describe(),
        instances=results,
    )


def _feasible(instance: Instance, plan: Plan) -> bool:
    """Feasible for the benchmark: the engine's check, and for depot-pickup
    sets (Solomon) no return to the depot for more goods mid-route."""
    try:
        check_plan(instance.request, plan)
    except InfeasiblePlanError:
        return False
    for route in plan.routes:
        kinds = [stop.kind for stop in route.stops]
        pickups_at_depot = [
            stop.kind is StopKind.PICKUP and stop.location_id == DEPOT
            for stop in route.stops
        ]
        if any(pickups_at_depot) and kinds != sorted(
            kinds, key=lambda kind: kind is StopKind.DELIVERY
        ):
            return False
    return not plan.unassigned


def _node_routes(plan: Plan) -> list[list[int]]:
    """Each route as instance node indices in visiting order, no depot."""
    return [
        [
            int(stop.location_id)
            for stop in route.stops
            if stop.location_id != DEPOT
        ]
        for route in plan.routes
    ]


HEADER = (
    f"{'instance':<10} {'veh':>4} {'distance':>10} {'bks veh':>7} "
    f"{'bks dist':>10} {'ref dist':>10} {'gap %':>7} {'time s':>7}"
)


def _cell(value: float | int | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_row(result: InstanceResult) -> str:
    """One line of the table for ``result``."""
    flag = "" if result.feasible else "  INFEASIBLE"
    return (
        f"{result.instance:<10} {result.vehicles:>4} {result.distance:>10.2f} "
        f"{_cell(result.bks_vehicles, 'd'):>7} "
        f"{_cell(result.bks_distance, '.2f'):>10} "
        f"{_cell(result.reference_distance, '.2f'):>10} "
        f"{_cell(result.gap_percent, '.2f'):>7} {result.wall_s:>7.2f}{flag}"
    )


def format_summary(result: BenchmarkResult) -> str:
    """The averages line and the settings, for the end of the table."""
    rows = result.instances
    feasible = sum(r.feasible for r in rows)
    return (
        f"{'average':<10} {statistics.fmean(r.vehicles for r in rows):>4.1f} "
        f"{statistics.fmean(r.distance for r in rows):>10.2f} "
        f"{'':>7} {'':>10} {'':>10} "
        f"{_cell(result.average_gap, '.2f'):>7} "
        f"{statistics.fmean(r.wall_s for r in rows):>7.2f}\n"
        f"{feasible}/{len(rows)} feasible; set {result.set}, "
        f"{result.time_limit:g} s per instance, backend {result.backend}, "
        f"seed {result.seed}; {result.machine['cpu']}, "
        f"{result.machine['cores']} cores"
    )


def write_json(result: BenchmarkResult, path: Path) -> None:
    """Write ``result`` as JSON, routes included."""
    path.write_text(json.dumps(result.to_dict(), indent=1) + "\n")
