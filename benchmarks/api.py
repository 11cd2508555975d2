"""The HTTP API under load: ``barq serve`` on PostgreSQL and Redis,
driven by Locust at rising request rates.

    .venv/bin/python benchmarks/api.py [--duration S] [--users N]
        [--rates 50,100,...] [--health-rates 100,...] [--out DIR]

1. ``barq serve --workers 2`` stores into a schema of its own in
   ``postgresql://127.0.0.1:5432/test`` (dropped at the end) and caches
   in Redis database 14 on 127.0.0.1:6379 (flushed first).
2. *The realistic mix*: ``barq load scenarios/baseline.yaml`` with a
   flat hourly profile, so that the rate is the same all run long, at
   each rate of ``--rates`` for ``--duration`` seconds. The mix is the
   baseline's: ETAs, driver locations, merchants' batch plans and
   dispatch. Rates rise until p95 over all requests passes 200 ms.
3. *The ceiling of the stack*: ``GET /healthz`` at each rate of
   ``--health-rates`` on the same server, until p95 passes 200 ms.
4. *A cached optimize*: one merchant's batch plan sent again and again
   at 100 requests per second; the percentiles of the cache hits.

Every latency is measured from the instant a request was due (the open
arrival model of ``barq load``), so a client that falls behind shows in
the figures; the share of late sends is printed beside them. Steps 3
and 4 run in a subprocess of this script (``fixed``), since Locust
monkey-patches the process that runs it. The server and Locust share
the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from simulator.load.serving import barq_command, free_port, wait_until_healthy

REPOSITORY = Path(__file__).resolve().parents[1]
BASELINE = REPOSITORY / "scenarios" / "baseline.yaml"
POSTGRES = "postgresql://127.0.0.1:5432/test"
REDIS = "redis://127.0.0.1:6379/14"
FLAT = "demand.hourly_profile=[" + ", ".join(["1"] * 24) + "]"
"""Orders (and so requests) at the same rate all day."""

P95_LIMIT_S = 0.2
CACHED_RATE = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command")
    fixed = commands.add_parser("fixed", help="one fixed-call load run")
    fixed.add_argument("--target", required=True)
    fixed.add_argument("--call", choices=["healthz", "optimize"])
    fixed.add_argument("--rate", type=float, required=True)
    fixed.add_argument("--duration", type=float, required=True)
    fixed.add_argument("--users", type=int, required=True)
    fixed.add_argument("--out", type=Path, required=True)
    _run_options(parser)
    args = parser.parse_args()
    if args.command == "fixed":
        _fixed(args)
    else:
        _benchmark(args)


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--rates", default="50,100,200,300,400,500,600,800,1000"
    )
    parser.add_argument(
        "--health-rates", default="100,250,500,1000,1500,2000,3000"
    )
    parser.add_argument("--out", type=Path, default=Path("runs") / "bench-api")


def _benchmark(args: argparse.Namespace) -> None:
    from simulator.machine import describe

    args.out.mkdir(parents=True, exist_ok=True)
    schema = f"barq_bench_{uuid.uuid4().hex[:10]}"
    _psql(f"CREATE SCHEMA {schema}")
    _flush_redis()
    port = free_port()
    target = f"http://127.0.0.1:{port}"
    log = args.out / "serve.log"
    server = _serve(port, schema, log)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": describe(),
        "duration_s": args.duration,
        "users": args.users,
    }
    try:
        wait_until_healthy(target, server, log, timeout_s=120)
        report["mix"] = _climb(
            [float(r) for r in args.rates.split(",")],
            lambda rate: _mix_run(target, rate, args),
        )
        report["healthz"] = _climb(
            [float(r) for r in args.health_rates.split(",")],
            lambda rate: _fixed_run(target, "healthz", rate, args),
        )
        report["cached_optimize"] = _fixed_run(
            target, "optimize", CACHED_RATE, args, hits_only=True
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        _psql(f"DROP SCHEMA {schema} CASCADE")

    (args.out / "api.json").write_text(json.dumps(report, indent=2) + "\n")
    print(_table(report))


def _climb(rates: list[float], step: Any) -> list[dict[str, Any]]:
    """Run ``step`` at each rate until p95 passes the limit."""
    found = []
    for rate in rates:
        figures = step(rate)
        found.append(figures)
        print(_row(figures), flush=True)
        if figures["p95_s"] > P95_LIMIT_S:
            break
    return found


def _mix_run(
    target: str, rate: float, args: argparse.Namespace
) -> dict[str, Any]:
    out = args.out / f"mix-{rate:g}"
    command = barq_command(
        "load",
        str(BASELINE),
        "--target",
        target,
        "--rate",
        str(rate),
        "--duration",
        str(args.duration),
        "--users",
        str(args.users),
        "--set",
        FLAT,
        "--out",
        str(out),
        "--no-report",
        "--quiet",
    )
    _run(command)
    return _figures("mix", rate, out)


def _fixed_run(
    target: str,
    call: str,
    rate: float,
    args: argparse.Namespace,
    hits_only: bool = False,
) -> dict[str, Any]:
    out = args.out / f"{call}-{rate:g}"
    command = [
        sys.executable,
        __file__,
        "fixed",
        "--target",
        target,
        "--call",
        call,
        "--rate",
        str(rate),
        "--duration",
        str(args.duration),
        "--users",
        str(args.users),
        "--out",
        str(out),
    ]
    _run(command)
    return _figures(call, rate, out, hits_only)


def _run(command: list[str]) -> None:
    done = subprocess.run(
        command, cwd=REPOSITORY, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}\n{done.stderr}")


def _figures(
    kind: str, rate: float, out: Path, hits_only: bool = False
) -> dict[str, Any]:
    results = json.loads((out / "results.json").read_text())
    samples = pd.read_parquet(out / "samples.parquet")
    if hits_only:
        samples = samples[samples["cache"] == "hit"]
    latency = samples["latency_s"].to_numpy()
    p50, p95, p99 = np.percentile(latency, [50, 95, 99])
    load = results["load"]
    return {
        "kind": kind,
        "rate": rate,
        "sent": int(load["sent"]),
        "throughput": results["throughput"]["mean"],
        "errors": int((samples["outcome"] == "error").sum()),
        "late_share": load["late_share"],
        "missed": load["missed"],
        "p50_s": float(p50),
        "p95_s": float(p95),
        "p99_s": float(p99),
        "service_p95_s": float(np.percentile(samples["service_s"], 95)),
        "endpoints": {
            name: {key: figures[key] for key in ("count", "p50", "p95")}
            for name, figures in results["endpoints"].items()
        },
    }


def _fixed(args: argparse.Namespace) -> None:
    """One load run of a fixed call, in this (patched) process."""
    from simulator.load.results import write_load_run
    from simulator.load.runner import run_load
    from simulator.load.settings import LoadSettings
    from simulator.load.traffic import Call, Repeat, Traffic
    from simulator.scenario import load_scenario

    scenario = load_scenario(BASELINE, [FLAT])
    if args.call == "healthz":
        call = Call("healthz", "GET", "/healthz")
    else:
        batch = Traffic(scenario, scenario.seed).batch_plan(
            12.5 * 3600, np.random.default_rng(0)
        )
        assert batch is not None
        call = batch
    settings = LoadSettings(
        scenario=BASELINE,
        target=args.target,
        users=args.users,
        duration_s=args.duration,
        rate=args.rate,
    )
    started = datetime.now(UTC)
    finished = run_load(settings, scenario, calls=Repeat(call))
    write_load_run(
        args.out,
        scenario,
        scenario.seed,
        finished.load.record.frame(),
        finished.summary(),
        started,
        finished.wall_s,
        finished.scrapes,
    )


def _serve(port: int, schema: str, log: Path) -> subprocess.Popen[bytes]:
    storage = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    command = barq_command(
        "serve",
        "--port",
        str(port),
        "--workers",
        "2",
        "--storage",
        storage,
        "--cache",
        REDIS,
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            command, cwd=REPOSITORY, stdout=out, stderr=subprocess.STDOUT
        )


def _psql(statement: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]


def _flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    client.close()


def _row(figures: dict[str, Any]) -> str:
    return (
        f"{figures['kind']:<9} {figures['rate']:>7.0f} req/s scheduled "
        f"{figures['throughput']:>8.1f} sent/s  "
        f"p50 {1e3 * figures['p50_s']:>8.2f}  "
        f"p95 {1e3 * figures['p95_s']:>8.2f}  "
        f"p99 {1e3 * figures['p99_s']:>8.2f} ms  "
        f"late {figures['late_share']:>6.1%}  errors {figures['errors']}"
    )


def _table(report: dict[str, Any]) -> str:
    lines = [
        "| load | scheduled req/s | sent req/s | p50 ms | p95 ms | p99 ms "
        "| late | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [*report["mix"], *report["healthz"], report["cached_optimize"]]
    for f in rows:
        lines.append(
            f"| {f['kind']} | {f['rate']:.0f} | {f['throughput']:.1f} "
            f"| {1e3 * f['p50_s']:.2f} | {1e3 * f['p95_s']:.2f} "
            f"| {1e3 * f['p99_s']:.2f} | {f['late_share']:.1%} "
            f"| {f['errors']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
