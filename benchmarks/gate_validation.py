"""How often the regression gate is wrong, measured on this machine.

Simulates a scenario ``--runs`` times as it is (A) and ``--runs`` times
with every request's service time stretched by ``--slowdown`` (B, the
scenario option ``engine.slowdown``), each run of ``--replications``
replications of the same seeds, so that the runs differ only by the
machine's noise and the injected slowdown. Then runs the gate's
statistical check (thresholds and the figures a seed fixes left out, no
confirmation re-run) on

- every ordered pair of distinct A runs: each alarm is a false alarm;
- every pair of an A baseline and a B candidate: each pass is a miss.

and prints both rates with a 95% Wilson interval.

    .venv/bin/python benchmarks/gate_validation.py [SCENARIO] \
        [--runs N] [--slowdown F] [--set F=V ...]
"""

from __future__ import annotations

import argparse
import itertools
import math
import tempfile
from pathlib import Path

import numpy as np

from simulator.gate import GateConfig, compare
from simulator.machine import describe
from simulator.run import simulate, simulate_replications
from simulator.runs import Run, load_run
from simulator.scenario import load_scenario

SMOKE = Path(__file__).resolve().parents[1] / "scenarios" / "smoke.yaml"

STATISTICAL_ONLY = GateConfig(
    thresholds=False, check_deterministic=False, confirm=False
)
"""The gate's defaults (``gate.yaml``), statistical findings alone."""


def _alarm(baseline: Run, candidate: Run) -> bool:
    findings = compare(
        baseline, candidate, STATISTICAL_ONLY, np.random.default_rng(0)
    )
    return any(f.kind == "statistical" and not f.passed for f in findings)


def _wilson(hits: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    z = 1.959963984540054
    share = hits / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = (
        z
        * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials**2))
        / (1 + z * z / trials)
    )
    return max(centre - half, 0.0), min(centre + half, 1.0)


def _runs(
    scenario: Path,
    overrides: list[str],
    count: int,
    replications: int,
    out: Path,
    tag: str,
) -> list[Run]:
    runs = []
    for index in range(count):
        path = out / f"{tag}{index}"
        loaded = load_scenario(scenario, overrides)
        if replications > 1:
            simulate_replications(loaded, path, loaded.seed, replications)
        else:
            simulate(loaded, path)
        runs.append(load_run(path))
    return runs


def _line(label: str, hits: int, trials: int) -> str:
    low, high = _wilson(hits, trials)
    return (
        f"{label:<22} {hits:>4} / {trials:<4} = {hits / trials:6.1%}  "
        f"(95% CI {low:.1%} .. {high:.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", type=Path, default=SMOKE)
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--slowdown", type=float, default=0.10)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        same = _runs(
            args.scenario,
            args.overrides,
            args.runs,
            args.replications,
            out,
            "a",
        )
        slow = _runs(
            args.scenario,
            [*args.overrides, f"engine.slowdown={args.slowdown}"],
            args.runs,
            args.replications,
            out,
            "b",
        )
        false_alarms = sum(
            _alarm(base, cand)
            for base, cand in itertools.permutations(same, 2)
        )
        caught = sum(
            _alarm(base, cand) for base, cand in itertools.product(same, slow)
        )

    pairs_aa = args.runs * (args.runs - 1)
    pairs_ab = args.runs * args.runs
    print(_line("A/A false alarms", false_alarms, pairs_aa))
    print(_line(f"+{args.slowdown:.0%} caught", caught, pairs_ab))
    machine = describe()
    print(
        f"{same[0].scenario}, {args.runs} runs a side of "
        f"{args.replications} replications; "
        f"{machine['cpu']}, {machine['cores']} cores"
    )


if __name__ == "__main__":
    main()
