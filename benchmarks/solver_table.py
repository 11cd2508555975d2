"""Markdown tables from the JSON files that ``benchmarks/solver.sh``
writes, for docs/benchmarks.md.

    .venv/bin/python benchmarks/solver_table.py runs/bench-solver
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _load(folder: Path, benchmark_set: str) -> list[dict]:
    runs = [
        json.loads(path.read_text())
        for path in sorted(folder.glob(f"{benchmark_set}-*.json"))
    ]
    return sorted(runs, key=lambda run: run["time_limit"])


def _cell(row: dict) -> str:
    gap = row["gap_percent"]
    shown = "-" if gap is None else f"{gap:+.2f}"
    flag = "" if row["feasible"] else " (infeasible)"
    return f"{row['vehicles']} | {row['distance']:.2f} | {shown}{flag}"


def table(runs: list[dict]) -> str:
    """One row per instance, one column group per time limit."""
    limits = [f"{run['time_limit']:g} s" for run in runs]
    head = "| instance | BKS veh | BKS dist | ref dist | " + " | ".join(
        f"{limit} veh | {limit} dist | {limit} gap %" for limit in limits
    )
    rule = "|---" * (4 + 3 * len(runs)) + "|"
    lines = [head + " |", rule]
    for rows in zip(*(run["instances"] for run in runs), strict=True):
        first = rows[0]
        lines.append(
            f"| {first['instance']} | {first['bks_vehicles']} | "
            f"{first['bks_distance']:.2f} | "
            f"{first['reference_distance']:.2f} | "
            + " | ".join(_cell(row) for row in rows)
            + " |"
        )
    averages = " | ".join(
        f"{run['average']['vehicles']:.2f} | {run['average']['distance']:.2f} "
        f"| {run['average']['gap_percent']:+.2f}"
        for run in runs
    )
    lines.append(f"| **average** | | | | {averages} |")
    feasible = ", ".join(
        f"{run['average']['feasible']}/{len(run['instances'])} at "
        f"{run['time_limit']:g} s"
        for run in runs
    )
    lines.append("")
    lines.append(f"Feasible plans: {feasible}.")
    return "\n".join(lines)


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/bench-solver")
    for benchmark_set in ("lilim100", "solomon100"):
        runs = _load(folder, benchmark_set)
        if runs:
            print(f"### {benchmark_set}\n")
            print(table(runs))
            print()


if __name__ == "__main__":
    main()
