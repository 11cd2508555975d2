"""``barq gate``: does a candidate run hold against a baseline?

Exit codes: 0 the candidate holds, 1 a regression or a missed target, 2
bad input. One line per finding says what was compared and why it
passed or failed; statistical findings name the test, the p-value, the
interval and the effect.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.commands.arguments import add_overrides
from simulator.errors import InputError
from simulator.gate import gate_command
from simulator.runs import RESULTS, load_run

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``gate`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "gate",
        help="compare a candidate run with a baseline; exit 1 on a regression",
        description="Compare a candidate run directory with a baseline "
        "of the same scenario: the candidate's targets, the figures a "
        "seed fixes (exactly, or within a configured tolerance), and "
        "latency and throughput with a paired block-permutation test "
        "(Holm-corrected) and a minimum effect. Runs measured on "
        "different machines are compared with a warning. Exits 0 when "
        "the candidate holds, 1 on a regression, 2 on bad input.",
    )
    parser.add_argument("baseline", type=Path, help="baseline run directory")
    parser.add_argument("candidate", type=Path, help="candidate run directory")
    parser.add_argument(
        "--config",
        type=Path,
        help="gate.yaml (default: the built-in settings, which are the "
        "repository's gate.yaml)",
    )
    parser.add_argument(
        "--deterministic-only",
        action="store_true",
        help="compare only the figures a seed fixes (KPIs, cache and "
        "advisor counts): what CI checks against a committed baseline",
    )
    parser.add_argument(
        "--rerun",
        type=Path,
        metavar="SCENARIO",
        help="on a suspected statistical regression, simulate the "
        "candidate's scenario again with the candidate's seeds and fail "
        "only if the regression holds on the new run",
    )
    add_overrides(
        parser, "override a field of the --rerun scenario (repeatable)"
    )
    parser.add_argument(
        "--rerun-out",
        type=Path,
        help="run directory of the re-run (default: CANDIDATE-rerun)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the gate; the exit code."""
    confirm = None
    if args.rerun is not None:
        out = args.rerun_out or args.candidate.with_name(
            args.candidate.name + "-rerun"
        )
        confirm = rerun_candidate(
            args.baseline, args.candidate, args.rerun, args.overrides, out
        )
    return gate_command(
        args.baseline,
        args.candidate,
        args.config,
        confirm=confirm,
        deterministic_only=args.deterministic_only,
    )


def rerun_candidate(
    baseline: Path,
    candidate: Path,
    scenario_file: Path,
    overrides: Sequence[str],
    out: Path,
) -> Callable[[], tuple[Path, Path]]:
    """A confirmation that simulates the candidate's scenario again.

    The re-run uses the candidate's seeds and must have its scenario
    hash, so that it is the same experiment measured once more.

    .. note::
       Only the candidate side is re-run: the baseline was measured with
       code that need not be checked out any more, so its first run
       stands. A suspected regression caused by a noisy moment during
       the candidate's run does not survive the re-run; one caused by a
       noisy moment during the baseline's does.
    """

    def confirm() -> tuple[Path, Path]:
        from simulator.run import simulate, simulate_replications
        from simulator.scenario import load_scenario, scenario_hash

        first = load_run(candidate)
        scenario = load_scenario(scenario_file, overrides)
        expected = first.results["scenario"]["file_hash"]
        if scenario_hash(scenario) != expected:
            raise InputError(
                scenario_file,
                "scenario",
                scenario_hash(scenario),
                f"--rerun must give the candidate's scenario hash "
                f"{expected} (from {candidate / RESULTS}); pass the same "
                "--set overrides",
            )
        seeds = first.seeds
        if seeds != tuple(range(seeds[0], seeds[0] + len(seeds))):
            raise InputError(
                candidate / RESULTS,
                "replications",
                seeds,
                "--rerun needs consecutive seeds, as barq simulate runs",
            )
        log.info("re-running %s (seeds %s) into %s", scenario_file, seeds, out)
        if len(seeds) > 1:
            simulate_replications(scenario, out, seeds[0], len(seeds), "local")
        else:
            simulate(scenario, out, seeds[0])
        return baseline, out

    return confirm
