"""The knobs of a load run, checked as they are set.

``barq load`` takes them as options; the locustfile, run by Locust's
own command line (for distributed runs), takes them as ``--barq-*``
options or ``BARQ_*`` environment variables. Either way a value that is
not allowed raises :class:`~simulator.errors.InputError` naming the
option, the value and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from simulator.errors import InputError

if TYPE_CHECKING:
    from pathlib import Path

    from simulator.scenario import DemandConfig, Scenario

DEFAULT_USERS = 50
"""Concurrent senders (Locust users) unless told otherwise."""

DEFAULT_DURATION_S = 60.0
"""Wall seconds the scenario's span is compressed into by default."""


@dataclass(frozen=True)
class LoadSettings:
    """A load run: which scenario, against what, how hard and how long.

    Parameters
    ----------
    scenario
        The scenario file; ``overrides`` are its ``--set`` overrides.
    target
        The service's base URL, ``http://HOST:PORT``.
    users
        Concurrent senders: the most requests in flight at once.
    duration_s
        Wall seconds the scenario's span is compressed into.
    rate
        Requests per second at the busiest moment of the span; ``None``
        for the scenario's own rate there.
    seed
        Seed of the city and the requests; ``None`` for the scenario's.
    """

    scenario: Path
    target: str
    users: int = DEFAULT_USERS
    duration_s: float = DEFAULT_DURATION_S
    rate: float | None = None
    seed: int | None = None
    overrides: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", _base_url(self.target))
        if isinstance(self.users, bool) or not (
            isinstance(self.users, int) and self.users >= 1
        ):
            raise InputError("--users", "", self.users, "must be >= 1")
        _positive("--duration", self.duration_s)
        if self.rate is not None:
            _positive("--rate", self.rate)
        if self.seed is not None and not (
            isinstance(self.seed, int) and self.seed >= 0
        ):
            raise InputError("--seed", "", self.seed, "must be >= 0")


def _base_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            "--target", "", text, "must be a URL like http://127.0.0.1:8000"
        )
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise InputError(
            "--target",
            "",
            text,
            "must be the service's base URL, without a path or query",
        )
    return f"{parts.scheme}://{parts.netloc}"


def _positive(option: str, value: float) -> None:
    if isinstance(value, bool) or not (
        isinstance(value, int | float) and math.isfinite(value) and value > 0
    ):
        raise InputError(option, "", value, "must be a finite number > 0")


def generated_demand(scenario: Scenario) -> DemandConfig:
    """The demand of a scenario that generates its city; a replay is bad
    input, since a load test sends a generated city's requests."""
    if scenario.demand is None:
        source = str(scenario.source) if scenario.source else scenario.name
        raise InputError(
            source,
            "replay",
            "(a replay)",
            "a load test needs a generated workload (city, demand, "
            "fleet), not a replay",
        )
    return scenario.demand
