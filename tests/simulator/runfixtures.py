"""Synthetic run directories, written the way a simulation writes them.

The figures in each ``results.json`` are computed from the samples written
beside it, so a reader that recomputes one finds the same number. Latency
is a single-server queue per endpoint (Lindley's recursion), so samples
within a run are autocorrelated as real queueing makes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.runs import Run

ADVISOR_OUTCOMES = (
    "cache_hit",
    "ok",
    "timeout",
    "error",
    "rejected",
    "breaker_open",
)


@dataclass(frozen=True)
class Traffic:
    """How one endpoint's requests arrive and are served.

    ``rate`` is requests per simulated second, ``service_s`` the median
    service time; with ``queueing`` each request waits behind the previous
    ones at a single server.
    """

    rate: float = 2.0
    service_s: float = 0.1
    sigma: float = 0.5
    error_share: float = 0.01
    queueing: bool = True


@dataclass(frozen=True)
class Shape:
    """Everything about a fixture run that a test may want to vary."""

    minutes: int = 30
    endpoints: dict[str, Traffic] = field(
        default_factory=lambda: {"eta": Traffic(), "plan": Traffic(1.0, 0.2)}
    )
    service_scale: float = 1.0
    machine_noise: float = 0.0
    """Sigma of a lognormal factor drawn once per run (per replication)
    and applied to every service time: the machine's run-to-run
    noise."""
    scenario: str = "fixture-city"
    file_hash: str = "sha256:fixture"
    fingerprint: str = "machine-a"
    git_revision: str = "0123abc"
    started_at: str = "2025-01-06T09:00:00+00:00"
    kpis: dict[str, Any] = field(default_factory=dict)
    caches: dict[str, Any] = field(default_factory=dict)
    advisor_outcomes: dict[str, int] = field(default_factory=dict)
    targets: dict[str, Any] | None = None
    faults: tuple[tuple[str, float, float], ...] = (("llm_slow", 600, 900),)


def write_fixture_run(
    path: Path,
    rng: np.random.Generator,
    shape: Shape | None = None,
    *,
    seed: int = 1,
    replications: tuple[int, ...] = (),
    top_samples: bool = True,
) -> Path:
    """Write a run directory at ``path`` and return it.

    With ``replications``, each seed gets a ``rep-<seed>/`` run of its own
    and the top level holds the pooled figures, an ``aggregate`` with a
    mean and 95% interval per figure, and (unless ``top_samples`` is
    false) the pooled samples.
    """
    shape = shape or Shape()
    path.mkdir(parents=True, exist_ok=True)
    if not replications:
        samples = _samples(rng, shape)
        _write_single(path, shape, seed, samples)
        return path

    reps = []
    for rep_seed in replications:
        rep_dir = path / f"rep-{rep_seed}"
        rep_dir.mkdir(exist_ok=True)
        samples = _samples(rng, shape)
        reps.append(
            (rep_seed, _write_single(rep_dir, shape, rep_seed, samples))
        )

    pooled = pd.concat(
        [
            pd.read_parquet(path / f"rep-{s}" / "samples.parquet").assign(
                replication=s
            )
            for s, _ in reps
        ],
        ignore_index=True,
    )
    results = _results(shape, seed, pooled, len(replications))
    results["replications"] = [{"seed": s, "dir": f"rep-{s}"} for s, _ in reps]
    results["aggregate"] = _aggregate([r for _, r in reps])
    if top_samples:
        pooled.to_parquet(path / "samples.parquet")
    (path / "results.json").write_text(json.dumps(results, indent=1))
    return path


def fixture_run(
    rng: np.random.Generator, shape: Shape | None = None, *, seed: int = 1
) -> Run:
    """A single run held in memory only, as :func:`load_run` would read
    it: for statistics over many runs, where disk would dominate."""
    shape = shape or Shape()
    samples = _samples(rng, shape)
    return Run(
        path=Path(f"memory/{shape.scenario}/{seed}"),
        results=_results(shape, seed, samples, 1),
        samples=samples,
        orders=None,
        timeseries=None,
    )


def replicated_fixture_run(
    rng: np.random.Generator,
    shape: Shape | None = None,
    *,
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5),
) -> Run:
    """A run of replications held in memory only, as :func:`load_run`
    would read it, each replication drawn afresh (with its own machine
    noise)."""
    shape = shape or Shape()
    reps = []
    for seed in seeds:
        samples = _samples(rng, shape)
        reps.append(
            Run(
                path=Path(f"memory/{shape.scenario}/rep-{seed}"),
                results=_results(shape, seed, samples, 1),
                samples=samples,
                orders=None,
                timeseries=None,
            )
        )
    pooled = pd.concat(
        [
            rep.samples.assign(replication=seed)
            for seed, rep in zip(seeds, reps, strict=True)
        ],
        ignore_index=True,
    )
    results = _results(shape, seeds[0], pooled, len(seeds))
    results["replications"] = [
        {"seed": seed, "dir": f"rep-{seed}"} for seed in seeds
    ]
    results["aggregate"] = _aggregate([rep.results for rep in reps])
    return Run(
        path=Path(f"memory/{shape.scenario}"),
        results=results,
        samples=pooled,
        orders=None,
        timeseries=None,
        replications=tuple(reps),
    )


def _write_single(
    path: Path, shape: Shape, seed: int, samples: pd.DataFrame
) -> dict[str, Any]:
    results = _results(shape, seed, samples, 1)
    samples.to_parquet(path / "samples.parquet")
    _timeseries(samples, shape).to_parquet(path / "timeseries.parquet")
    _orders(shape).to_parquet(path / "orders.parquet")
    (path / "results.json").write_text(json.dumps(results, indent=1))
    return results


def _samples(rng: np.random.Generator, shape: Shape) -> pd.DataFrame:
    duration = shape.minutes * 60.0
    machine = rng.lognormal(0.0, shape.machine_noise)
    frames = []
    for name, traffic in shape.endpoints.items():
        count = rng.poisson(traffic.rate * duration)
        arrival = np.sort(rng.uniform(0.0, duration, count))
        service = (
            traffic.service_s
            * shape.service_scale
            * machine
            * rng.lognormal(0.0, traffic.sigma, count)
        )
        wait = _lindley(arrival, service) if traffic.queueing else 0 * service
        outcome = np.where(
            rng.random(count) < traffic.error_share, "error", "ok"
        )
        frames.append(
            pd.DataFrame(
                {
                    "endpoint": name,
                    "arrival_s": arrival,
                    "wait_s": wait,
                    "service_s": service,
                    "latency_s": wait + service,
                    "outcome": outcome,
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(
        "arrival_s", ignore_index=True
    )


def _lindley(arrival: np.ndarray, service: np.ndarray) -> np.ndarray:
    """Waiting times at one FIFO server: W[n] = max(0, W[n-1] + X[n])."""
    if len(arrival) == 0:
        return arrival
    steps = np.concatenate([[0.0], service[:-1] - np.diff(arrival)])
    walk = np.cumsum(steps)
    return walk - np.minimum(np.minimum.accumulate(walk), 0.0)


def _results(
    shape: Shape, seed: int, samples: pd.DataFrame, runs: int
) -> dict[str, Any]:
    duration = shape.minutes * 60.0
    endpoints = {}
    for name, group in samples.groupby("endpoint"):
        latency = group["latency_s"].to_numpy()
        endpoints[str(name)] = {
            "count": len(group),
            "errors": int((group["outcome"] != "ok").sum()),
            "mean": float(latency.mean()),
            "p50": float(np.percentile(latency, 50)),
            "p95": float(np.percentile(latency, 95)),
            "p99": float(np.percentile(latency, 99)),
            "max": float(latency.max()),
        }
    per_minute = np.bincount(
        (samples["arrival_s"] // 60).astype(int), minlength=shape.minutes
    )
    outcomes = dict.fromkeys(ADVISOR_OUTCOMES, 0) | {
        "cache_hit": 40,
        "ok": 50,
        "timeout": 6,
        "error": 2,
        "breaker_open": 2,
    }
    outcomes |= shape.advisor_outcomes
    calls = sum(outcomes.values())
    kpis = {
        "orders_created": 120,
        "orders_delivered": 110,
        "orders_cancelled": 4,
        "orders_open": 6,
        "on_time_ratio": 0.93,
        "delivery_minutes": {"p50": 24.0, "p90": 38.5},
        "driver_utilization": 0.71,
    } | shape.kpis
    caches = {
        "plan": {
            "hits": 300,
            "misses": 100,
            "hit_ratio": 0.75,
            "evictions": 3,
            "bytes": 51200,
        }
    } | shape.caches
    return {
        "schema": "barq.results/1",
        "scenario": {
            "name": shape.scenario,
            "file_hash": shape.file_hash,
            "seed": seed,
        },
        "run": {
            "started_at": shape.started_at,
            "git_revision": shape.git_revision,
            "machine": {
                "fingerprint": shape.fingerprint,
                "cpu": "Fixture CPU",
                "cores": 2,
                "python": "3.11.7",
                "platform": "Linux",
            },
            "wall_s": 12.5 * runs,
            "simulated_s": duration * runs,
            "speed": duration / 12.5,
        },
        "endpoints": endpoints,
        "throughput": {
            "mean": len(samples) / (duration * runs),
            "peak": float(per_minute.max() / 60.0),
        },
        "caches": caches,
        "advisor": {
            "calls": calls,
            "outcomes": outcomes,
            "fallback_share": (outcomes["timeout"] + outcomes["error"])
            / calls,
            "latency": {"p50": 0.8, "p95": 2.1, "p99": 2.9},
        },
        "storage": {
            "writes": 500,
            "batches": 50,
            "query": {"p50": 0.002, "p95": 0.01, "p99": 0.02},
            "errors": 0,
        },
        "kpis": kpis,
        "targets": shape.targets,
        "faults": [
            {"kind": kind, "start_s": start, "end_s": end}
            for kind, start, end in shape.faults
        ],
    }


def _aggregate(reps: list[dict[str, Any]]) -> dict[str, Any]:
    def combine(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {k: combine([v[k] for v in values]) for k in values[0]}
        numbers = np.asarray(values, dtype=float)
        mean = float(numbers.mean())
        half = (
            1.96 * float(numbers.std(ddof=1)) / np.sqrt(len(numbers))
            if len(numbers) > 1
            else 0.0
        )
        return {
            "mean": mean,
            "ci95": [mean - half, mean + half],
            "values": numbers.tolist(),
        }

    sections = ("endpoints", "throughput", "caches", "advisor", "kpis")
    return {s: combine([r[s] for r in reps]) for s in sections}


def _timeseries(samples: pd.DataFrame, shape: Shape) -> pd.DataFrame:
    minute = (samples["arrival_s"] // 60).astype(int)
    grouped = samples.groupby(minute)["latency_s"]
    index = np.arange(shape.minutes)
    requests = grouped.size().reindex(index, fill_value=0)
    p95 = grouped.quantile(0.95).reindex(index)
    frame = pd.DataFrame(
        {
            "minute_s": index * 60.0,
            "requests": requests.to_numpy(),
            "p95_s": p95.to_numpy(),
            "cache_hit_ratio": 0.7 + 0.1 * np.sin(index / 5),
            "active_orders": 10 + index % 7,
            "active_drivers": np.full(shape.minutes, 8),
            "advisor_fallback_share": np.where(
                (index >= 10) & (index < 15), 0.4, 0.05
            ),
        }
    )
    for outcome in ADVISOR_OUTCOMES:
        frame[f"advisor_{outcome}"] = (index + len(outcome)) % 4
    return frame


def _orders(shape: Shape) -> pd.DataFrame:
    count = 12
    created = np.linspace(0.0, shape.minutes * 45.0, count)
    delivered = created + 1500.0
    delivered[-1] = np.nan
    return pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(count)],
            "created_s": created,
            "assigned_s": created + 60.0,
            "picked_s": created + 600.0,
            "delivered_s": delivered,
            "cancelled_s": np.full(count, np.nan),
            "due_s": created + 1800.0,
            "on_time": pd.array([True] * (count - 1) + [None], "boolean"),
        }
    )
