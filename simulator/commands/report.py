"""``barq report``: write a run directory's report.html and summary.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from simulator.report import report_command

if TYPE_CHECKING:
    import argparse


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``report`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "report",
        help="write report.html and summary.md into a run directory",
        description="Read a run directory and write its report: a "
        "self-contained report.html with a verdict, targets against "
        "actuals and plots, and a short summary.md. With --baseline, "
        "every figure stands beside the baseline's with the gate's "
        "comparison. Exits 0 once written, whatever the verdict.",
    )
    parser.add_argument("run_dir", type=Path, help="run directory")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="run directory of the same scenario to compare with",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; the exit code."""
    return report_command(args.run_dir, args.baseline)
