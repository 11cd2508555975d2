"""Speed of the city simulation: simulated seconds per wall second.

Runs a scenario twice: whole (dispatch and the API mix, every request
served by the real engine), and dispatch alone (the API mix's rates set
to zero), and prints the wall time, the speed and the requests served.

    .venv/bin/python benchmarks/simulation.py [SCENARIO] [--set F=V ...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simulator.machine import describe
from simulator.run import simulate
from simulator.scenario import load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"

DISPATCH_ONLY = (
    "api.eta_per_active_order=0",
    "api.location_per_active_driver=0",
    "api.batch_plan_per_merchant=0",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", type=Path, default=BASELINE)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    print(
        f"{'run':<14} {'simulated h':>11} {'wall s':>8} {'speed':>7} "
        f"{'requests':>9} {'delivered':>9}"
    )
    for label, extra in (("whole", ()), ("dispatch only", DISPATCH_ONLY)):
        scenario = load_scenario(args.scenario, [*args.overrides, *extra])
        with tempfile.TemporaryDirectory() as out:
            results = simulate(scenario, Path(out) / "run")
        run = results["run"]
        requests = sum(e["count"] for e in results["endpoints"].values())
        print(
            f"{label:<14} {run['simulated_s'] / 3600:>11.1f} "
            f"{run['wall_s']:>8.1f} {run['speed']:>6.0f}x "
            f"{requests:>9} {results['kpis']['orders_delivered']:>9}"
        )
    machine = describe()
    print(f"{scenario.name}; {machine['cpu']}, {machine['cores']} cores")


if __name__ == "__main__":
    main()
