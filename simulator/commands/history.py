"""``barq history``: store runs' figures and show them over time."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from simulator.history import default_url, history_add, history_show

if TYPE_CHECKING:
    import argparse


def register(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Add ``history add`` and ``history show`` to the subcommands."""
    parser = commands.add_parser(
        "history",
        help="run figures over time, with change points",
        description="Keep every run's figures in a SQLite file or a "
        "PostgreSQL database, and show a scenario's series with the "
        "change points E-Divisive finds in it.",
    )
    actions = parser.add_subparsers(dest="action", required=True)

    add = actions.add_parser(
        "add",
        help="store a run directory's figures",
        description="Store the figures of a run directory; a run already "
        "stored (the same results.json) is not stored twice.",
    )
    add.add_argument("run_dir", type=Path, help="run directory")
    _url(add)
    add.set_defaults(handler=_add)

    show = actions.add_parser(
        "show",
        help="print a scenario's series and its change points",
        description="Print the headline figures of every stored run of a "
        "scenario, oldest first, and each change point with the run "
        "where the new level began.",
    )
    show.add_argument(
        "--scenario", required=True, help="scenario name, as in results"
    )
    _url(show)
    show.set_defaults(handler=_show)


def _url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        help="SQLite path, sqlite:///path or postgresql://... "
        f"(default: {default_url()})",
    )


def _add(args: argparse.Namespace) -> int:
    return history_add(args.run_dir, args.url)


def _show(args: argparse.Namespace) -> int:
    return history_show(args.scenario, args.url)
