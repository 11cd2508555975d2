"""Tests of advisor cache keys: places are rounded to the precision,
and remembering them changes no key."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.advisor.fingerprint import review_key
from engine.model import (
    Location,
    Order,
    Plan,
    Request,
    Route,
    SolveStats,
    Stop,
    StopKind,
    Vehicle,
)
from engine.travel import Euclidean

COORDINATES = st.floats(-1e4, 1e4, allow_nan=False) | st.sampled_from(
    [0, 0.0, -0.0, 0.0005, -0.0004999, 12.3455]
)


def reviewed(x: float, y: float) -> tuple[Request, Plan]:
    """A request with one order picked up at (x, y), and its plan."""
    request = Request(
        locations=(Location("m", x, y), Location("c", 1.0, 2.0)),
        orders=(Order("o1", "m", "c"),),
        vehicles=(Vehicle("v1", "m", 1),),
        travel=Euclidean(),
    )
    stops = tuple(
        Stop("o1", kind, where, 0.0, 0.0, 0.0, 1)
        for kind, where in ((StopKind.PICKUP, "m"), (StopKind.DELIVERY, "c"))
    )
    plan = Plan(
        routes=(Route("v1", stops, 1.0, 1.0),),
        unassigned=(),
        cost=1.0,
        stats=SolveStats("heuristic", 0, 0.0),
    )
    return request, plan


@settings(derandomize=True, max_examples=200, deadline=None)
@given(COORDINATES, COORDINATES, st.integers(0, 6))
def test_review_key_follows_the_rounded_places(
    x: float, y: float, precision: int
) -> None:
    """Two plans share a review key exactly when their places agree to
    ``precision`` decimals (a negative zero reads as zero), whether asked
    once, again, or about equal places built anew, at two precisions in
    turn."""
    origin = reviewed(0.0, 0.0)
    for decimals in (precision, precision + 1):
        same = all(float(f"{value:.{decimals}f}") == 0 for value in (x, y))
        for _ in range(2):
            key = review_key(*reviewed(x, y), decimals)
            assert (key == review_key(*origin, decimals)) == same
