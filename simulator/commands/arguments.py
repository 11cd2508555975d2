"""Argument types and options that several subcommands share.

Each type raises :class:`argparse.ArgumentTypeError` naming the text
given and what is allowed, which argparse turns into a usage error
(exit code 2).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable


def positive_float(text: str) -> float:
    """A number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite >= 0")
    return value


def rate(text: str) -> float:
    """A share in [0, 1]."""
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a rate in [0, 1]")
    return value


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    """The type of an integer in ``[low, high]``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer"
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} must be in [{low}, {high}]"
            )
        return value

    return parse


def add_overrides(
    parser: argparse.ArgumentParser,
    help: str = "override a scenario field, validated like the file "
    "(repeatable)",
) -> None:
    """``--set FIELD.PATH=VALUE``, repeatable, into ``overrides``."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD.PATH=VALUE",
        help=help,
    )
