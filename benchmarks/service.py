"""Latency of ``engine.Service.optimize`` in process, cold and cached.

A 30-order, 10-courier request (the seeded example) is planned through
the whole service: fingerprint, route-plan layer, solver, ETAs. *Cold*
calls plan a request never seen before (each call a new seed, so a new
request, and a miss); *cached* calls repeat one request already planned
(a hit). The advisor is left out: its latency is a remote call's, which
the simulation models, not compute of the engine's. Caches are the
in-process memory layer or Redis on 127.0.0.1:6379.

    .venv/bin/python benchmarks/service.py [--calls N] [--backend B]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from typing import Literal

import numpy as np

from engine.cache import CacheConfig
from engine.clock import WallClock
from engine.model import Backend, Options
from engine.service import Service, ServiceConfig
from simulator.example import example_request
from simulator.machine import describe


def _service(cache: Literal["memory", "redis"]) -> Service:
    config = ServiceConfig(cache=CacheConfig(backend=cache))
    service = Service.build(config, WallClock())
    service.caches.flush()
    return service


def _percentiles(seconds: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99])
    return f"{p50:>8.3f} {p95:>8.3f} {p99:>8.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument(
        "--backend",
        default=Backend.HEURISTIC.value,
        choices=[b.value for b in Backend],
        help="solver backend for the cold calls (default: heuristic)",
    )
    parser.add_argument(
        "--work-limit", type=int, default=50, help="search iterations"
    )
    args = parser.parse_args()
    options = Options(
        work_limit=args.work_limit, backend=Backend(args.backend)
    )

    print(
        f"{'layer':<8} {'kind':<7} {'calls':>6} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8}"
    )
    layers: tuple[Literal["memory", "redis"], ...] = ("memory", "redis")
    for cache in layers:
        service = _service(cache)
        cold = []
        for seed in range(args.calls):
            request = example_request(30, 10, seed=seed, options=options)
            began = time.perf_counter()
            answer = service.optimize(request)
            cold.append(time.perf_counter() - began)
            assert answer.cache.value == "miss", answer.cache
        repeated = dataclasses.replace(request)
        cached = []
        for _ in range(args.calls * 10):
            began = time.perf_counter()
            answer = service.optimize(repeated)
            cached.append(time.perf_counter() - began)
            assert answer.cache.value == "hit", answer.cache
        print(f"{cache:<8} {'cold':<7} {len(cold):>6} {_percentiles(cold)}")
        print(
            f"{cache:<8} {'cached':<7} {len(cached):>6} {_percentiles(cached)}"
        )
        service.caches.flush()
    machine = describe()
    print(
        f"backend {args.backend}, work limit {args.work_limit}; "
        f"{machine['cpu']}, {machine['cores']} cores"
    )


if __name__ == "__main__":
    main()
