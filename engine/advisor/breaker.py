"""A circuit breaker on the injected clock.

The breaker stops calling a provider that keeps failing, and tries it
again after a cool-down::

    CLOSED ── failure ratio over the window reached ──► OPEN
    OPEN ── cool-down over (seen on the next look) ──► HALF_OPEN
    HALF_OPEN ── every trial call succeeded ──► CLOSED
    HALF_OPEN ── a trial call failed ──► OPEN (a fresh cool-down)

While closed, the outcome of every call is kept for ``window_s``
seconds; once at least ``min_calls`` outcomes are in the window and the
share of failures among them reaches ``failure_ratio``, the breaker
opens. While open it refuses every call. The move to half-open happens
when the state is next read (by :attr:`CircuitBreaker.state`,
:meth:`~CircuitBreaker.allow` or :meth:`~CircuitBreaker.record`) at or
after the end of the cool-down; half-open admits ``half_open_calls``
trial calls and refuses the rest until their outcomes are recorded.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.clock import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """When the breaker opens, and how it tries again.

    ``failure_ratio`` of failed calls among at least ``min_calls`` calls
    in the last ``window_s`` seconds opens it; after ``cool_down_s``
    seconds it lets ``half_open_calls`` trial calls through.
    """

    failure_ratio: float = 0.5
    window_s: float = 30.0
    min_calls: int = 5
    cool_down_s: float = 10.0
    half_open_calls: int = 1

    def __post_init__(self) -> None:
        ratio = self.failure_ratio
        if not _number(ratio) or not 0 < ratio <= 1:
            raise InvalidRequestError(
                "breaker.failure_ratio", ratio, "must be in (0, 1]"
            )
        if not _number(self.window_s) or not self.window_s > 0:
            raise InvalidRequestError(
                "breaker.window_s", self.window_s, "must be > 0 seconds"
            )
        if not _number(self.cool_down_s) or not self.cool_down_s >= 0:
            raise InvalidRequestError(
                "breaker.cool_down_s", self.cool_down_s, "must be >= 0 seconds"
            )
        for name in ("min_calls", "half_open_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidRequestError(
                    f"breaker.{name}", value, "must be an integer"
                )
            if value < 1:
                raise InvalidRequestError(
                    f"breaker.{name}", value, "must be >= 1"
                )

    @classmethod
    def from_dict(cls, data: Any) -> BreakerConfig:
        """Build from a mapping with the field names as keys."""
        if not isinstance(data, dict):
            raise InvalidRequestError("breaker", data, "must be a mapping")
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidRequestError(
                f"breaker.{unknown[0]}",
                data[unknown[0]],
                f"is not a field; allowed: {', '.join(sorted(allowed))}",
            )
        return cls(**data)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


class BreakerState(enum.StrEnum):
    """The three states of a circuit breaker."""

    CLOSED = "closed"
    """Calls go through; outcomes are watched."""

    OPEN = "open"
    """Calls are refused until the cool-down is over."""

    HALF_OPEN = "half_open"
    """A few trial calls go through to decide between closed and open."""


class CircuitBreaker:
    """A thread-safe circuit breaker reading an injected clock.

    Parameters
    ----------
    config
        Thresholds, window and cool-down.
    clock
        Where the window and the cool-down read the time.
    on_change
        Called with the new state on every transition, while the breaker
        holds its (re-entrant) lock.
    """

    def __init__(
        self,
        config: BreakerConfig,
        clock: Clock,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.RLock()
        self._state = BreakerState.CLOSED
        self._calls: deque[tuple[float, bool]] = deque()
        self._opened_at = -math.inf
        self._trials = 0
        self._passed = 0

    @property
    def state(self) -> BreakerState:
        """The current state; reading it ends a cool-down that is over."""
        with self._lock:
            self._look()
            return self._state

    def allow(self) -> bool:
        """Whether a call may go ahead now; a half-open breaker counts
        the trial calls it admits."""
        with self._lock:
            self._look()
            if self._state is BreakerState.CLOSED:
                return True
            if self._state is BreakerState.OPEN:
                return False
            if self._trials < self.config.half_open_calls:
                self._trials += 1
                return True
            return False

    def record(self, success: bool) -> None:
        """Record the outcome of a call that :meth:`allow` let through.

        An outcome that arrives while the breaker is open (a call that
        began before it opened) is ignored.
        """
        with self._lock:
            self._look()
            now = self._clock.now()
            if self._state is BreakerState.CLOSED:
                self._calls.append((now, success))
                self._forget_before(now - self.config.window_s)
                if self._tripped():
                    self._open(now)
            elif self._state is BreakerState.HALF_OPEN:
                if not success:
                    self._open(now)
                    return
                self._passed += 1
                if self._passed >= self.config.half_open_calls:
                    self._move(BreakerState.CLOSED)

    def _look(self) -> None:
        """Move from open to half-open once the cool-down is over."""
        if self._state is not BreakerState.OPEN:
            return
        if self._clock.now() >= self._opened_at + self.config.cool_down_s:
            self._trials = 0
            self._passed = 0
            self._move(BreakerState.HALF_OPEN)

    def _forget_before(self, horizon: float) -> None:
        while self._calls and self._calls[0][0] <= horizon:
            self._calls.popleft()

    def _tripped(self) -> bool:
        calls = len(self._calls)
        if calls < self.config.min_calls:
            return False
        failures = sum(1 for _, success in self._calls if not success)
        return failures / calls >= self.config.failure_ratio

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        self._calls.clear()
        self._state = state
        if state is BreakerState.OPEN:
            log.warning(
                "advisor breaker opened for %.1f s", self.config.cool_down_s
            )
        else:
            log.info("advisor breaker is %s", state.value)
        if self._on_change is not None:
            self._on_change(state)
