"""``barq simulate``: run a scenario and write its run directory."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.commands.arguments import add_overrides, bounded_int
from simulator.errors import InputError
from simulator.run import simulate, simulate_replications
from simulator.scenario import load_scenario
from simulator.telemetry import MetricsOptions

if TYPE_CHECKING:
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
"""The committed scenarios."""

DEFAULT_SCENARIO = SCENARIOS / "baseline.yaml"
"""What ``barq simulate`` runs when no scenario is named."""


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``simulate`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "simulate",
        help="run a scenario in simulated time and write a run directory",
        description="Run a scenario's city against the real engine in "
        "simulated time, and write results.json, the raw samples and a "
        "report into a run directory whose path is printed at the end.",
    )
    parser.add_argument(
        "scenario",
        nargs="?",
        type=Path,
        default=DEFAULT_SCENARIO,
        help="scenario YAML (default: scenarios/baseline.yaml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="run directory (default: runs/<scenario>-<time>-s<seed>)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed (default: the scenario's)"
    )
    parser.add_argument(
        "--replications",
        type=bounded_int(1, 2**31),
        default=1,
        help="run seeds seed..seed+N-1 in parallel (default: 1)",
    )
    parser.add_argument(
        "--executor",
        default="local",
        help="where replications run: local or dask://HOST:PORT "
        "(default: local)",
    )
    add_overrides(parser)
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.html and summary.md",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--serve-metrics",
        type=bounded_int(1, 65535),
        metavar="PORT",
        help="serve the run's metrics on http://127.0.0.1:PORT/metrics "
        "while it runs",
    )
    parser.add_argument(
        "--push",
        metavar="URL",
        help="push the run's final metrics to the Pushgateway at URL, "
        "grouped by scenario, run and git revision",
    )
    parser.add_argument(
        "--metrics-start",
        type=_instant,
        metavar="ISO-8601",
        help="the instant simulated second 0 maps onto in metrics.om "
        "(default: yesterday, UTC, at the scenario's start hour)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the scenario; print the run directory."""
    scenario = load_scenario(args.scenario, args.overrides)
    seed = scenario.seed if args.seed is None else args.seed
    out = args.out or default_run_directory(scenario, seed)
    metrics = MetricsOptions(args.serve_metrics, args.push, args.metrics_start)
    if args.replications > 1:
        if metrics != MetricsOptions():
            raise InputError(
                "--replications",
                "",
                args.replications,
                "must be 1 with --serve-metrics, --push or --metrics-start",
            )
        results = simulate_replications(
            scenario, out, seed, args.replications, args.executor
        )
    else:
        if args.serve_metrics is not None:
            print(
                f"metrics at http://127.0.0.1:{args.serve_metrics}/metrics",
                flush=True,
            )
        progress = not args.quiet and sys.stderr.isatty()
        results = simulate(
            scenario, out, seed, progress=progress, metrics=metrics
        )
    print(_summary(scenario, results))
    if not args.no_report:
        _report(out)
    print(f"run directory: {out}")
    return 0


def default_run_directory(scenario: Scenario, seed: int) -> Path:
    """``runs/<scenario>-<UTC time>-s<seed>`` under the working folder."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{scenario.name}-{stamp}-s{seed}"


def _report(out: Path) -> None:
    try:
        from simulator.report import write_report
    except ImportError:
        log.warning("no report: the report package is not available")
        return
    path = write_report(out)
    print(f"report: {path}")


def _summary(scenario: Scenario, results: dict[str, object]) -> str:
    run = results["run"]
    kpis = results["kpis"]
    endpoints = results["endpoints"]
    assert isinstance(run, dict)
    assert isinstance(kpis, dict)
    assert isinstance(endpoints, dict)
    lines = [
        f"scenario  {scenario.name}: {run['simulated_s'] / 3600:.1f} "
        f"simulated h in {run['wall_s']:.1f} s ({run['speed']:.0f}x)",
        f"orders    {kpis['orders_created']} created, "
        f"{kpis['orders_delivered']} delivered, "
        f"{kpis['orders_cancelled']} cancelled, "
        f"{kpis['orders_open']} open",
    ]
    for name, figures in endpoints.items():
        if figures["count"]:
            lines.append(
                f"{name:9} {figures['count']:>8} requests, "
                f"p50 {1e3 * figures['p50']:.2f} ms, "
                f"p95 {1e3 * figures['p95']:.2f} ms, "
                f"p99 {1e3 * figures['p99']:.2f} ms"
            )
    return "\n".join(lines)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 instant"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
