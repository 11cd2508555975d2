"""Clocks: where everything in the engine that depends on time reads it.

The engine never calls :func:`time.monotonic` for its own logic (cache
expiry, breaker windows, timeouts, job expiry); it asks an injected
:class:`Clock`. A service passes :class:`WallClock`; a simulation passes
a clock that reads the simulated ``now``; tests pass :class:`ManualClock`
and move it by hand.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from engine.errors import InvalidRequestError


class Clock(Protocol):
    """A source of the current time in seconds."""

    def now(self) -> float:
        """Seconds since an arbitrary fixed origin; never decreases."""
        ...


class WallClock:
    """Monotonic wall time, for a running service."""

    def now(self) -> float:
        """Seconds from :func:`time.monotonic`."""
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told to, for tests."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """The time last set."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds``."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise InvalidRequestError(
                "seconds", seconds, "clocks only move forward"
            )
        self._now += seconds
