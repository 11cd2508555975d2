"""Running a scenario and writing its run directory.

:func:`simulate` runs one replication and writes::

    results.json        every figure (schema barq.results/1)
    samples.parquet     one row per request
    orders.parquet      one row per order, its life in simulated seconds
    timeseries.parquet  one row per simulated minute
    metrics.om          the run's metrics every simulated minute, as
                        OpenMetrics for backfilling Prometheus

:func:`simulate_replications` runs seeds ``seed .. seed+n-1`` in worker
processes, each into ``rep-<seed>/``, and writes a top-level
``results.json`` with each figure's mean and 95% confidence interval.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator import machine
from simulator.replay.simulate import ReplayWorld
from simulator.results import (
    SCHEMA,
    advisor_figures,
    cache_figures,
    endpoint_figures,
    kpis,
    order_table,
    storage_figures,
    throughput,
    timeseries,
)
from simulator.telemetry import MetricsOptions, observing
from simulator.world import Workload, World, random_streams

if TYPE_CHECKING:
    from engine.storage import WriterStats
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]


def identity(
    scenario: Scenario,
    seed: int,
    started: datetime,
    wall_s: float,
    simulated_s: float,
) -> dict[str, Any]:
    """The ``schema``, ``scenario`` and ``run`` sections of a run's
    ``results.json``, a simulation's or a load test's: what ran, where,
    when and how fast."""
    from simulator.scenario import scenario_hash

    details = machine.describe()
    return {
        "schema": SCHEMA,
        "scenario": {
            "name": scenario.name,
            "file_hash": scenario_hash(scenario),
            "seed": seed,
            "source": str(scenario.source) if scenario.source else None,
        },
        "run": {
            "started_at": started.isoformat(timespec="seconds"),
            "git_revision": git_revision(),
            "machine": {
                **details,
                "fingerprint": machine.fingerprint(details),
            },
            "wall_s": wall_s,
            "simulated_s": simulated_s,
            "speed": simulated_s / wall_s if wall_s > 0 else None,
        },
    }


def git_revision() -> str | None:
    """The checked-out commit, marked ``-dirty`` with local changes, or
    None outside a git work tree."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if dirty else head


def build_workload(scenario: Scenario, streams: dict[str, Any]) -> Workload:
    """The city, merchants, order stream and fleet of a replication."""
    from simulator.city import build_city
    from simulator.demand import merchants, order_arrivals
    from simulator.fleet import driver_plans

    assert scenario.city is not None
    assert scenario.demand is not None
    assert scenario.fleet is not None
    city = build_city(scenario.city, scenario.start_hour, streams["city"])
    shops = merchants(scenario.demand, city, streams["demand"])
    spikes = [f for f in scenario.faults if f.kind == "demand_spike"]
    arrivals = order_arrivals(
        scenario.demand,
        city,
        shops,
        scenario.duration_s,
        scenario.start_hour,
        streams["demand"],
        spikes,
    )
    drivers = driver_plans(
        scenario.fleet,
        city,
        scenario.duration_s,
        scenario.start_hour,
        streams["fleet"],
    )
    return Workload(city, shops, arrivals, drivers)


def simulate(
    scenario: Scenario,
    out: Path,
    seed: int | None = None,
    progress: bool = False,
    metrics: MetricsOptions | None = None,
) -> dict[str, Any]:
    """Run one replication of ``scenario`` and write its run directory
    into ``out``; returns the results document. ``metrics`` says where
    else the run's metrics go (:mod:`simulator.telemetry`)."""
    from simulator.assembly import build_service, close_store

    seed = scenario.seed if seed is None else seed
    started = datetime.now(UTC)
    world: World | ReplayWorld
    if scenario.replay is not None:
        world = ReplayWorld(scenario, seed, out)
    else:
        streams = random_streams(seed)
        workload = build_workload(scenario, streams)
        world = World(
            scenario,
            workload,
            streams,
            lambda clock, recorder, rng: build_service(
                scenario, clock, recorder, rng, out
            ),
        )

    options = metrics or MetricsOptions()
    try:
        with observing(world, out, started, options) as telemetry:
            began = time.perf_counter()
            step = max(scenario.duration_s / 100.0, 60.0)
            until = 0.0
            while until < scenario.duration_s:
                until = min(until + step, scenario.duration_s)
                world.run(until)
                if progress:
                    _show_progress(world, until, time.perf_counter() - began)
            wall_s = time.perf_counter() - began
            telemetry.refresh()
    finally:
        # Everything the engine accepted is written before the figures
        # are taken, and the database is closed with the run.
        storage = close_store(world.service)
    if progress:
        sys.stderr.write("\n")

    results = write_run(world, out, seed, started, wall_s, storage)
    telemetry.write(out)
    if options.push_url is not None:
        telemetry.push(options.push_url, results["run"]["git_revision"])
    log.info("run %s: %.0f simulated s in %.1f wall s", out, until, wall_s)
    return results


def write_run(
    world: World | ReplayWorld,
    out: Path,
    seed: int,
    started: datetime,
    wall_s: float,
    storage: WriterStats | None = None,
) -> dict[str, Any]:
    """Write the run directory of a finished world (a city, or a replay
    of a benchmark instance); ``storage`` holds the counts of its
    closed storage writer, if it had one."""
    scenario = world.scenario
    simulated_s = float(world.env.now)
    out.mkdir(parents=True, exist_ok=True)

    samples = world.recorder.samples()
    samples.to_parquet(out / "samples.parquet", index=False)
    orders = order_table(world.orders_frame())
    orders.to_parquet(out / "orders.parquet", index=False)
    series = timeseries(samples, world.recorder, simulated_s)
    series.to_parquet(out / "timeseries.parquet", index=False)

    busy, shift = world.driver_time(simulated_s)
    caches = world.service.caches.stats()
    results: dict[str, Any] = {
        **identity(scenario, seed, started, wall_s, simulated_s),
        "endpoints": endpoint_figures(samples),
        "throughput": throughput(samples, simulated_s),
        "caches": cache_figures(caches, _evictions(world)),
        "advisor": advisor_figures(world.recorder.advisor_events),
        "storage": storage_figures(storage),
        "kpis": kpis(orders, busy, shift),
        "targets": scenario.targets.model_dump(mode="json"),
        "faults": [
            {"kind": f.kind, "start_s": f.start_s, "end_s": f.end_s}
            for f in scenario.faults
        ],
    }
    if isinstance(world, ReplayWorld):
        results["replay"] = world.write_solution(out)
    (out / "results.json").write_text(
        json.dumps(results, indent=2, allow_nan=False) + "\n"
    )
    return results


def _evictions(world: World | ReplayWorld) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (layer, _), count in world.recorder.cache_evictions.items():
        totals[layer] = totals.get(layer, 0) + count
    return totals


def _show_progress(
    world: World | ReplayWorld, until: float, wall_s: float
) -> None:
    hours, rest = divmod(int(until), 3600)
    recent = world.recorder.recent_p95()
    p95 = f"{1e3 * recent:.1f} ms" if recent is not None else "-"
    sys.stderr.write(
        f"\r{hours:02d}:{rest // 60:02d} simulated / "
        f"{world.scenario.duration_s / 3600:.0f} h, "
        f"{world.placed} orders, p95 {p95}, "
        f"{until / max(wall_s, 1e-9):.0f}x   "
    )
    sys.stderr.flush()


def simulate_replications(
    scenario: Scenario,
    out: Path,
    seed: int,
    count: int,
    executor: str = "local",
) -> dict[str, Any]:
    """Run seeds ``seed .. seed+count-1``, each into ``out/rep-<seed>``,
    in parallel, and write the top-level results with each figure's mean
    and 95% confidence interval.

    ``executor`` is ``local`` (worker processes on this machine, one per
    core at most) or ``dask://HOST:PORT``, a Dask scheduler whose workers
    can import barq and read the scenario's files at the same paths.
    """
    seeds = list(range(seed, seed + count))
    directories = [out / f"rep-{s}" for s in seeds]
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    started = datetime.now(UTC)
    if executor == "local":
        workers = max(min(count, os.cpu_count() or 1), 1)
        with ProcessPoolExecutor(max_workers=workers) as pool:
            runs = list(
                pool.map(_replicate, [scenario] * count, directories, seeds)
            )
    else:
        runs = _on_dask(executor, scenario, directories, seeds)
    wall_s = time.perf_counter() - began

    results = _aggregate(runs)
    results["replications"] = [
        {"seed": s, "dir": d.name}
        for s, d in zip(seeds, directories, strict=True)
    ]
    results["run"] = {
        **runs[0]["run"],
        "started_at": started.isoformat(timespec="seconds"),
        "wall_s": wall_s,
        "simulated_s": sum(r["run"]["simulated_s"] for r in runs),
        "speed": sum(r["run"]["simulated_s"] for r in runs) / wall_s,
        "executor": executor,
    }
    (out / "results.json").write_text(
        json.dumps(results, indent=2, allow_nan=False) + "\n"
    )
    return results


def _replicate(scenario: Scenario, out: Path, seed: int) -> dict[str, Any]:
    return simulate(scenario, out, seed)


def _on_dask(
    address: str,
    scenario: Scenario,
    directories: list[Path],
    seeds: list[int],
) -> list[dict[str, Any]]:
    from simulator.errors import InputError

    if not address.startswith("dask://"):
        raise InputError(
            "--executor", "", address, "must be local or dask://HOST:PORT"
        )
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--executor",
            "",
            address,
            "needs the Dask 'distributed' package (pip install distributed)",
        ) from None
    address = address.replace("dask://", "tcp://", 1)
    with Client(address) as client:  # type: ignore[no-untyped-call]
        futures = client.map(
            _replicate,
            [scenario] * len(seeds),
            directories,
            seeds,
            pure=False,
        )
        runs: list[dict[str, Any]] = client.gather(futures)
    return runs


def _aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first replication's document with every figure replaced by
    the mean over replications, and the aggregate: per figure the mean,
    its 95% confidence interval (Student's t) and every value."""
    from scipy import stats

    merged: dict[str, Any] = json.loads(json.dumps(runs[0]))
    merged["scenario"]["seed"] = runs[0]["scenario"]["seed"]
    aggregate: dict[str, Any] = {}
    for section in FIGURE_SECTIONS:
        for path, values in _leaves([r.get(section) for r in runs]):
            mean = sum(values) / len(values)
            if len(values) > 1:
                sem = stats.sem(values)
                half = (
                    float(stats.t.ppf(0.975, len(values) - 1) * sem)
                    if sem > 0
                    else 0.0
                )
                ci = [mean - half, mean + half]
            else:
                ci = [mean, mean]
            _set(
                aggregate,
                (section, *path),
                {"mean": mean, "ci95": ci, "values": values},
            )
            _set(merged, (section, *path), mean)
    merged["aggregate"] = aggregate
    return merged


FIGURE_SECTIONS = (
    "endpoints",
    "throughput",
    "caches",
    "advisor",
    "storage",
    "kpis",
    "replay",
)
"""Sections of ``results.json`` whose numbers are aggregated."""


def _leaves(
    documents: list[Any], path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], list[float]]]:
    first = documents[0]
    if isinstance(first, dict):
        found = []
        for key in first:
            children = [
                d.get(key) if isinstance(d, dict) else None for d in documents
            ]
            found.extend(_leaves(children, (*path, key)))
        return found
    if all(
        isinstance(d, int | float) and not isinstance(d, bool)
        for d in documents
    ):
        return [(path, [float(d) for d in documents])]
    return []


def _set(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value
