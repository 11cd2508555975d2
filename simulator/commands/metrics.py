"""``barq metrics backfill``: a run's OpenMetrics file as Prometheus
TSDB blocks.

The blocks come from ``promtool tsdb create-blocks-from openmetrics``
(Debian package ``prometheus``). A Prometheus started with
``--storage.tsdb.path`` on the folder serves them; for one that already
runs, move the block folders into its data folder (docs/metrics.md).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.errors import InputError
from simulator.telemetry import OPENMETRICS_FILE

if TYPE_CHECKING:
    import argparse

log = logging.getLogger(__name__)


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``metrics`` to the ``barq`` subcommands."""
    parser = commands.add_parser(
        "metrics", help="a run's metrics in Prometheus"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    backfill = actions.add_parser(
        "backfill",
        help="turn a run's OpenMetrics file into Prometheus TSDB blocks",
        description="Build Prometheus TSDB blocks from the run "
        f"directory's {OPENMETRICS_FILE} with promtool, so that the "
        "simulated day shows in Prometheus and Grafana at the instants "
        "it was mapped onto.",
    )
    backfill.add_argument("run_dir", type=Path, help="a run directory")
    backfill.add_argument(
        "--tsdb",
        type=Path,
        help="folder for the blocks (default: RUN_DIR/tsdb)",
    )
    backfill.set_defaults(handler=run_backfill)


def run_backfill(args: argparse.Namespace) -> int:
    """Build the blocks; print where they are and how to serve them."""
    tsdb = args.tsdb or args.run_dir / "tsdb"
    backfill(args.run_dir, tsdb)
    print(f"blocks in {tsdb}")
    print(
        "serve them: prometheus --storage.tsdb.path="
        f"{tsdb} --storage.tsdb.retention.time=10y"
    )
    return 0


def backfill(run_dir: Path, tsdb: Path) -> str:
    """Build TSDB blocks from ``run_dir``'s OpenMetrics file into
    ``tsdb``; returns promtool's report of the blocks."""
    source = run_dir / OPENMETRICS_FILE
    if not source.is_file():
        raise InputError(
            run_dir,
            "",
            OPENMETRICS_FILE,
            "must be a run directory written by barq simulate",
        )
    promtool = shutil.which("promtool")
    if promtool is None:
        raise InputError(
            "promtool",
            "",
            "not found on PATH",
            "must be installed (Debian package prometheus)",
        )
    tsdb.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(source),
            str(tsdb),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise InputError(
            source,
            "",
            done.stderr.strip().splitlines()[-1:] or done.returncode,
            "must be OpenMetrics that promtool accepts",
        )
    log.info("backfilled %s into %s", source, tsdb)
    return done.stdout
