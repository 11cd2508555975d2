"""``barq load``: send a scenario's city to the live HTTP API with Locust,
and write a run directory in the simulation's format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.commands.arguments import add_overrides
from simulator.load.settings import (
    DEFAULT_DURATION_S,
    DEFAULT_USERS,
    LoadSettings,
    generated_demand,
)
from simulator.scenario import load_scenario

if TYPE_CHECKING:
    import argparse

    from simulator.scenario import Scenario


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``load`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "load",
        help="load the live HTTP API with a scenario's city (Locust)",
        description="Compress the scenario's span into --duration wall "
        "seconds and send its city's requests (dispatch and batch plans, "
        "ETAs, driver locations, in the scenario's mix) to the service at "
        "--target, as Poisson arrivals whose rate follows the scenario's "
        "order rate. Writes results.json, the raw samples and a report "
        "into a run directory whose path is printed at the end.",
    )
    parser.add_argument("scenario", type=Path, help="scenario YAML")
    parser.add_argument(
        "--target",
        required=True,
        metavar="URL",
        help="the service's base URL, e.g. http://127.0.0.1:8000",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_USERS,
        help="concurrent senders: the most requests in flight at once "
        f"(default: {DEFAULT_USERS})",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_S,
        metavar="S",
        help="wall seconds the scenario's span is compressed into "
        f"(default: {DEFAULT_DURATION_S:g})",
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="R",
        help="requests per second at the busiest moment of the span "
        "(default: the scenario's own request rate there)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="run directory (default: runs/<scenario>-load-<time>-s<seed>)",
    )
    parser.add_argument(
        "--seed", type=int, help="seed (default: the scenario's)"
    )
    add_overrides(parser)
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.html and summary.md",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the load test; print the run directory."""
    settings = LoadSettings(
        scenario=args.scenario,
        target=args.target,
        users=args.users,
        duration_s=args.duration,
        rate=args.rate,
        seed=args.seed,
        overrides=tuple(args.overrides),
    )
    scenario = load_scenario(settings.scenario, settings.overrides)
    generated_demand(scenario)
    seed = scenario.seed if settings.seed is None else settings.seed
    out = args.out or _default_directory(scenario, seed)

    # Locust monkey-patches the whole process with gevent when imported,
    # so it is imported here, for this command alone.
    from simulator.load.results import write_load_run
    from simulator.load.runner import run_load

    started = datetime.now(UTC)
    finished = run_load(settings, scenario, progress=not args.quiet)
    results = write_load_run(
        out,
        scenario,
        seed,
        finished.load.record.frame(),
        finished.summary(),
        started,
        finished.wall_s,
        finished.scrapes,
    )
    print(_summary(scenario, results))
    if not args.no_report:
        from simulator.report import write_report

        print(f"report: {write_report(out)}")
    print(f"run directory: {out}")
    return 0


def _default_directory(scenario: Scenario, seed: int) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{scenario.name}-load-{stamp}-s{seed}"


def _summary(scenario: Scenario, results: dict[str, Any]) -> str:
    load = results["load"]
    lines = [
        f"scenario  {scenario.name}: {load['compression']:.0f}x compressed "
        f"into {load['duration_s']:g} s against {load['target']}",
        f"sent      {load['sent']} requests "
        f"({results['throughput']['mean']:.1f} req/s, "
        f"peak scheduled {load['peak_rate']:.1f} req/s), "
        f"{load['late']} late (> {1e3 * load['late_after_s']:g} ms), "
        f"{load['missed']} missed",
    ]
    for name, figures in results["endpoints"].items():
        if figures["count"]:
            lines.append(
                f"{name:10} {figures['count']:>7} requests, "
                f"{figures['errors']} errors, "
                f"p50 {1e3 * figures['p50']:.2f} ms, "
                f"p95 {1e3 * figures['p95']:.2f} ms, "
                f"p99 {1e3 * figures['p99']:.2f} ms"
            )
    if load["late"]:
        lines.append(
            "late sends mean the users were all busy: raise --users, or "
            "the service is slower than the schedule"
        )
    return "\n".join(lines)
