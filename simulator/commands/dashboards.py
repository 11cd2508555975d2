"""``barq dashboards build``: write the Grafana dashboards' JSON.

The dashboards are Python (``dashboards/``, grafana-foundation-sdk);
this writes them into ``dashboards/json/``, where Grafana's provisioning
reads them. The JSON is committed, and a test fails when it differs
from what the code builds.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from dashboards.build import FOLDER, write_all

if TYPE_CHECKING:
    import argparse


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``dashboards`` to the ``barq`` subcommands."""
    parser = commands.add_parser("dashboards", help="Grafana dashboards")
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser(
        "build",
        help="write the dashboards' JSON from their code",
        description="Build every dashboard of dashboards/ and write its "
        "JSON into the folder Grafana provisions from.",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=FOLDER,
        help=f"folder for the JSON (default: {FOLDER})",
    )
    build.set_defaults(handler=run_build)


def run_build(args: argparse.Namespace) -> int:
    """Write the dashboards; print the files that changed."""
    changed = write_all(args.out)
    for path in changed:
        print(f"wrote {path}")
    print(f"{len(changed)} changed in {args.out}")
    return 0
