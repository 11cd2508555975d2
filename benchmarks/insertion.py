"""Speed of the insertion heuristic, the engine's fallback.

Times ``InsertionSolver`` alone (the travel matrix is computed before the
clock starts) on the seeded 100-order example and on Li & Lim instances,
and prints the median and worst of several repeats per request.

    .venv/bin/python benchmarks/insertion.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from engine.solvers import InsertionSolver, Problem, check_plan
from simulator.bench.instances import read_lilim
from simulator.example import example_request
from simulator.machine import describe

LILIM = Path(__file__).resolve().parents[2] / "shared/data/benchmarks/lilim100"


def _time(request, repeats: int) -> tuple[float, float, int]:
    problem = Problem.from_request(request)
    solver = InsertionSolver()
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        plan = solver.solve(request, problem)
        seconds.append(time.perf_counter() - began)
    check_plan(request, plan)
    return statistics.median(seconds), max(seconds), len(plan.unassigned)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    cases = [("example, 100 orders, 20 couriers", example_request())]
    for name in ("lc101", "lr101", "lrc101", "lc201", "lr201", "lrc201"):
        path = LILIM / f"{name}.txt"
        if path.exists():
            cases.append((f"Li & Lim {name}", read_lilim(path).request))

    print(f"{'request':<34} {'orders':>6} {'median ms':>10} {'max ms':>8}")
    for label, request in cases:
        median, worst, _ = _time(request, args.repeats)
        print(
            f"{label:<34} {len(request.orders):>6} "
            f"{median * 1000:>10.1f} {worst * 1000:>8.1f}"
        )
    machine = describe()
    print(
        f"{args.repeats} repeats; {machine['cpu']}, {machine['cores']} cores"
    )


if __name__ == "__main__":
    main()
