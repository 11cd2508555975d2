"""What the advisor is asked, and what it answers.

An :class:`AssignmentQuestion` asks which driver should take each of a
batch of orders; the answer is an :class:`Advice`. A plan's second
opinion is a :class:`Review`. Both answers say, through their
:class:`Outcome`, how the advisor call ended and, through ``source``,
whose answer the caller is given: the model's, or the heuristic's.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from engine.model import Location, Order, Plan

Source = Literal["advisor", "heuristic"]
"""Whose answer was used: the advisor's, or the heuristic fallback's."""


class Outcome(enum.StrEnum):
    """How one advisor call ended; each call ends as exactly one."""

    CACHE_HIT = "cache_hit"
    """An earlier answer to the same question, still valid, was reused."""

    OK = "ok"
    """The model answered in time with a valid answer, which was used."""

    TIMEOUT = "timeout"
    """No answer came within the timeout; the heuristic's was used."""

    ERROR = "error"
    """The call failed (transport, HTTP status, provider error); the
    heuristic's answer was used."""

    REJECTED = "rejected"
    """The model answered, but the answer was malformed or infeasible; it
    was discarded and the heuristic's was used."""

    BREAKER_OPEN = "breaker_open"
    """The circuit breaker refused the call; the heuristic's answer was
    used without calling the model."""

    @property
    def used_advisor(self) -> bool:
        """Whether an outcome of this kind applies the advisor's answer."""
        return self in (Outcome.CACHE_HIT, Outcome.OK)


def _finite(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRequestError(field, value, "must be a number")
    if not math.isfinite(value):
        raise InvalidRequestError(field, value, "must be a finite number")


def _unique(field: str, ids: Iterable[str]) -> None:
    repeated = [key for key, n in Counter(ids).items() if n > 1]
    if repeated:
        raise InvalidRequestError(field, repeated[0], "ids must be unique")


@dataclass(frozen=True, slots=True)
class Candidate:
    """A driver that could take orders.

    The driver is free at ``location`` from ``available_at`` on (seconds on
    the question's clock), has room for ``free_capacity`` more units, and
    must finish its work by ``shift_end``.
    """

    driver_id: str
    location: Location
    available_at: float
    free_capacity: int
    shift_end: float = math.inf

    def __post_init__(self) -> None:
        where = f"candidates[{self.driver_id}]"
        if not isinstance(self.driver_id, str) or not self.driver_id:
            raise InvalidRequestError(
                "candidate.driver_id",
                self.driver_id,
                "must be a non-empty string",
            )
        _finite(f"{where}.available_at", self.available_at)
        if (
            isinstance(self.free_capacity, bool)
            or not isinstance(self.free_capacity, int)
            or self.free_capacity < 0
        ):
            raise InvalidRequestError(
                f"{where}.free_capacity",
                self.free_capacity,
                "must be an integer >= 0",
            )
        if not isinstance(self.shift_end, int | float) or math.isnan(
            self.shift_end
        ):
            raise InvalidRequestError(
                f"{where}.shift_end", self.shift_end, "must be a number"
            )


@dataclass(frozen=True, slots=True)
class AssignmentQuestion:
    """Which driver should take each of ``orders``?

    ``locations`` holds every pickup and delivery location the orders
    name; ``candidates`` the drivers to choose from; ``now`` the time the
    question is asked. Orders are answered in the sequence given, which
    matters when drivers' capacity runs short. Travel times are passed to
    :meth:`~engine.advisor.Advisor.assign` beside the question.
    """

    orders: tuple[Order, ...]
    locations: tuple[Location, ...]
    candidates: tuple[Candidate, ...]
    now: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "orders", tuple(self.orders))
        object.__setattr__(self, "locations", tuple(self.locations))
        object.__setattr__(self, "candidates", tuple(self.candidates))
        _finite("question.now", self.now)
        if not self.orders:
            raise InvalidRequestError(
                "question.orders", self.orders, "must hold at least one order"
            )
        _unique("question.orders", (order.id for order in self.orders))
        _unique("question.locations", (loc.id for loc in self.locations))
        _unique(
            "question.candidates",
            (candidate.driver_id for candidate in self.candidates),
        )
        known = {location.id for location in self.locations}
        for order in self.orders:
            for role in ("pickup", "delivery"):
                ref = getattr(order, role)
                if ref not in known:
                    raise InvalidRequestError(
                        f"question.orders[{order.id}].{role}",
                        ref,
                        "must name a location of the question",
                    )


@dataclass(frozen=True, slots=True)
class Advice:
    """The answer to an :class:`AssignmentQuestion`.

    ``assignments`` maps every asked order id to a driver id, or to
    ``None`` when no driver should take it. ``latency_s`` is the time to
    charge for the advice: the modelled latency (at most the timeout) or
    the measured wall time of the HTTP calls, summed over the calls made;
    a cache hit or a refusal by the breaker costs nothing.

    When the question was split into several calls (see
    :meth:`~engine.advisor.Advisor.assign`), ``outcome`` is the worst of
    the calls' outcomes in the order of :data:`SEVERITY`, and ``source``
    is ``"heuristic"`` as soon as one call fell back.
    """

    assignments: Mapping[str, str | None]
    outcome: Outcome
    source: Source
    latency_s: float


@dataclass(frozen=True, slots=True)
class Review:
    """A second opinion on a plan.

    The advisor can only accept or reject a plan, never edit it, so
    ``plan`` is always the plan that was reviewed: the solver's plan as
    it is is also the heuristic's answer. ``verdict`` and ``reason`` are
    the model's when ``source`` is ``"advisor"``, and ``None`` when the
    call fell back.
    """

    plan: Plan
    outcome: Outcome
    source: Source
    latency_s: float
    verdict: Literal["accept", "reject"] | None = None
    reason: str | None = None


SEVERITY: tuple[Outcome, ...] = (
    Outcome.CACHE_HIT,
    Outcome.OK,
    Outcome.REJECTED,
    Outcome.BREAKER_OPEN,
    Outcome.ERROR,
    Outcome.TIMEOUT,
)
"""Outcomes from best to worst, for the outcome of a split question: a
fallback is worse than an answer, and a fallback that cost a timeout is
the worst."""


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    """The worst of ``outcomes`` in the order of :data:`SEVERITY`."""
    return max(outcomes, key=SEVERITY.index)
