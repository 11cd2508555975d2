"""Running a scenario and writing its run directory.

:func:`simulate` runs one replication and writes::

    results.json        every figure (schema barq.results/1)
    samples.parquet     one row per request
    orders.parquet      one row per order, its life in simulated seconds
    timeseries.parquet  one row per simulated minute

:func:`simulate_replications` runs seeds ``seed .. seed+n-1`` in worker
processes, each into ``rep-<seed>/``, and writes a top-level
``results.json`` with each figure's mean and 95% confidence interval.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from simulator import machine
from simulator.results import (
    SCHEMA,
    advisor_figures,
    cache_figures,
    endpoint_figures,
    kpis,
    order_table,
    throughput,
    timeseries,
)
from simulator.world import Workload, World, random_streams

if TYPE_CHECKING:
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

REPOSITORY = Path(__file__).resolve().parents[1]


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
) -> dict[str, Any]:
    """Run one replication of ``scenario`` and write its run directory
    into ``out``; returns the results document."""
    from simulator.assembly import build_service

    seed = scenario.seed if seed is None else seed
    started = datetime.now(UTC)
    streams = random_streams(seed)
    workload = build_workload(scenario, streams)
    world = World(
        scenario,
        workload,
        streams,
        lambda clock, recorder, rng: build_service(
            scenario, clock, recorder, rng
        ),
    )

    began = time.perf_counter()
    step = max(scenario.duration_s / 100.0, 60.0)
    until = 0.0
    while until < scenario.duration_s:
        until = min(until + step, scenario.duration_s)
        world.run(until)
        if progress:
            _show_progress(world, until, time.perf_counter() - began)
    wall_s = time.perf_counter() - began
    if progress:
        sys.stderr.write("\n")

    results = write_run(world, out, seed, started, wall_s)
    log.info("run %s: %.0f simulated s in %.1f wall s", out, until, wall_s)
    return results


def write_run(
    world: World,
    out: Path,
    seed: int,
    started: datetime,
    wall_s: float,
) -> dict[str, Any]:
    """Write the run directory of a finished world."""
    from simulator.scenario import scenario_hash

    scenario = world.scenario
    simulated_s = float(world.env.now)
    out.mkdir(parents=True, exist_ok=True)

    samples = world.recorder.samples()
    samples.to_parquet(out / "samples.parquet", index=False)
    orders = order_table(_orders_frame(world))
    orders.to_parquet(out / "orders.parquet", index=False)
    series = timeseries(samples, world.recorder, simulated_s)
    series.to_parquet(out / "timeseries.parquet", index=False)

    details = machine.describe()
    busy, shift = _driver_time(world, simulated_s)
    caches = world.service.caches.stats()
    results: dict[str, Any] = {
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
        "endpoints": endpoint_figures(samples),
        "throughput": throughput(samples, simulated_s),
        "caches": cache_figures(caches, _evictions(world)),
        "advisor": advisor_figures(world.recorder.advisor_events),
        "storage": None,
        "kpis": kpis(orders, busy, shift),
        "targets": scenario.targets.model_dump(mode="json"),
        "faults": [
            {"kind": f.kind, "start_s": f.start_s, "end_s": f.end_s}
            for f in scenario.faults
        ],
    }
    (out / "results.json").write_text(
        json.dumps(results, indent=2, allow_nan=False) + "\n"
    )
    return results


def _orders_frame(world: World) -> pd.DataFrame:
    orders = list(world.orders.values())
    return pd.DataFrame(
        {
            "order_id": [o.id for o in orders],
            "created_s": [o.created_s for o in orders],
            "assigned_s": [o.assigned_s for o in orders],
            "picked_s": [o.picked_s for o in orders],
            "delivered_s": [o.delivered_s for o in orders],
            "cancelled_s": [o.cancelled_s for o in orders],
            "due_s": [o.promised_s for o in orders],
        }
    )


def _driver_time(world: World, simulated_s: float) -> tuple[float, float]:
    busy = sum(d.busy_s for d in world.drivers.values())
    shift = sum(
        max(min(d.plan.shift_end, simulated_s) - d.plan.shift_start, 0.0)
        for d in world.drivers.values()
    )
    return busy, shift


def _evictions(world: World) -> dict[str, int]:
    totals: dict[str, int] = {}
    for (layer, _), count in world.recorder.cache_evictions.items():
        totals[layer] = totals.get(layer, 0) + count
    return totals


def _show_progress(world: World, until: float, wall_s: float) -> None:
    hours, rest = divmod(int(until), 3600)
    recent = world.recorder.recent_p95()
    p95 = f"{1e3 * recent:.1f} ms" if recent is not None else "-"
    sys.stderr.write(
        f"\r{hours:02d}:{rest // 60:02d} simulated / "
        f"{world.scenario.duration_s / 3600:.0f} h, "
        f"{len(world.orders)} orders, p95 {p95}, "
        f"{until / max(wall_s, 1e-9):.0f}x   "
    )
    sys.stderr.flush()
