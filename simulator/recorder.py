"""The recorder: raw samples and events of a run, in simulated time.

Everything a run reports is computed from what the recorder holds: one
sample per request (endpoint, arrival, wait, service, outcome and the
breakdown of the service time), advisor outcomes, solves and cache
look-ups with the simulated second they happened, and a snapshot of
active orders and drivers every simulated minute. Nothing is aggregated
while the run goes; :mod:`simulator.results` turns the raw record into
figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from engine.advisor import BreakerState, Outcome
    from engine.cache import EvictionReason, Lookup
    from engine.clock import Clock

SAMPLE_COLUMNS = (
    "endpoint",
    "arrival_s",
    "wait_s",
    "service_s",
    "latency_s",
    "outcome",
    "cache",
    "compute_s",
    "modelled_s",
)
"""Columns of ``samples.parquet``, in order."""


@dataclass
class Recorder:
    """Collects a run's raw record; reads simulated time from ``clock``."""

    clock: Clock
    _samples: list[tuple[str, float, float, float, str, str, float]] = field(
        default_factory=list
    )
    advisor_events: list[tuple[float, str, str, float]] = field(
        default_factory=list
    )
    """``(time, kind, outcome, latency)`` per advisor call."""
    breaker_events: list[tuple[float, str]] = field(default_factory=list)
    cache_lookups: Counter[tuple[int, str, str]] = field(
        default_factory=Counter
    )
    """Look-ups per ``(minute, layer, result)``."""
    cache_evictions: Counter[tuple[str, str]] = field(default_factory=Counter)
    cache_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Failed cache operations per ``(layer, operation)``."""
    cache_stored: Counter[str] = field(default_factory=Counter)
    """Bytes handed to each layer's backend."""
    solve_events: list[tuple[float, str, bool, float]] = field(
        default_factory=list
    )
    """``(time, backend, fallback, wall seconds)`` per solve."""
    degraded_events: list[tuple[float, str, bool]] = field(
        default_factory=list
    )
    snapshots: list[tuple[float, int, int]] = field(default_factory=list)
    """``(time, active orders, active drivers)`` every simulated minute."""

    def sample(
        self,
        endpoint: str,
        arrival: float,
        wait: float,
        compute: float,
        modelled: float,
        outcome: str,
        cache: str = "",
    ) -> None:
        """Record one request served by the engine."""
        self._samples.append(
            (endpoint, arrival, wait, compute, outcome, cache, modelled)
        )

    def samples_since(self, first: int) -> list[tuple[str, str, float]]:
        """``(endpoint, outcome, latency)`` of every request recorded
        from the ``first``-th on, in the order they were answered."""
        return [
            (s[0], s[4], s[2] + s[3] + s[6]) for s in self._samples[first:]
        ]

    @property
    def sample_count(self) -> int:
        """Requests recorded so far."""
        return len(self._samples)

    def recent_p95(self, count: int = 2000) -> float | None:
        """The p95 latency of the last ``count`` requests, for progress."""
        recent = self._samples[-count:]
        if not recent:
            return None
        latency = [s[2] + s[3] + s[6] for s in recent]
        return float(np.percentile(latency, 95))

    def samples(self) -> pd.DataFrame:
        """One row per request, in the columns of :data:`SAMPLE_COLUMNS`."""
        if not self._samples:
            return pd.DataFrame(
                {
                    name: pd.Series(dtype=_dtype(name))
                    for name in SAMPLE_COLUMNS
                }
            )
        endpoint, arrival, wait, compute, outcome, cache, modelled = zip(
            *self._samples, strict=True
        )
        compute_s = np.asarray(compute, dtype=np.float64)
        modelled_s = np.asarray(modelled, dtype=np.float64)
        return sample_frame(
            endpoint,
            arrival,
            wait,
            compute_s + modelled_s,
            outcome,
            cache,
            {"compute_s": compute_s, "modelled_s": modelled_s},
        )

    def snapshot(self, active_orders: int, active_drivers: int) -> None:
        """Record the number of active orders and drivers now."""
        self.snapshots.append(
            (self.clock.now(), active_orders, active_drivers)
        )

    # Engine hooks: the cache's, the advisor's and the service's, in
    # simulated time.

    def on_lookup(self, layer: str, result: Lookup, size: int) -> None:
        """A cache look-up, counted per simulated minute."""
        minute = int(self.clock.now() // 60)
        self.cache_lookups[minute, layer, result.value] += 1

    def on_set(self, layer: str, size: int) -> None:
        """A value stored: its bytes, counted per layer."""
        self.cache_stored[layer] += size

    def on_eviction(
        self, layer: str, reason: EvictionReason, size: int
    ) -> None:
        """An entry evicted, counted by reason."""
        self.cache_evictions[layer, reason.value] += 1

    def on_error(
        self, layer: str, operation: str, error: BaseException
    ) -> None:
        """A cache backend error, counted per layer and operation."""
        self.cache_errors[layer, operation] += 1

    def on_degraded(self, layer: str, degraded: bool) -> None:
        """A layer lost or regained its shared backend."""
        self.degraded_events.append((self.clock.now(), layer, degraded))

    def on_advice(self, kind: str, outcome: Outcome, latency_s: float) -> None:
        """One advisor call and how it ended."""
        self.advisor_events.append(
            (self.clock.now(), kind, outcome.value, latency_s)
        )

    def on_breaker(self, state: BreakerState) -> None:
        """The advisor's circuit breaker changed state."""
        self.breaker_events.append((self.clock.now(), state.value))

    def on_solve(self, backend: str, fallback: bool, seconds: float) -> None:
        """The engine solved a request."""
        self.solve_events.append(
            (self.clock.now(), backend, fallback, seconds)
        )


def _dtype(column: str) -> str:
    if column in ("endpoint", "outcome", "cache"):
        return "category"
    return "float64"


def sample_frame(
    endpoint: Sequence[Any],
    arrival: npt.ArrayLike,
    wait: npt.ArrayLike,
    service: npt.ArrayLike,
    outcome: Sequence[Any],
    cache: Sequence[Any],
    extra: Mapping[str, npt.ArrayLike],
) -> pd.DataFrame:
    """The columns every run's ``samples.parquet`` holds, simulated or
    loaded (``latency_s`` is wait plus service), then ``extra``."""
    wait_s = np.asarray(wait, dtype=np.float64)
    service_s = np.asarray(service, dtype=np.float64)
    return pd.DataFrame(
        {
            "endpoint": pd.Categorical(endpoint),
            "arrival_s": np.asarray(arrival, dtype=np.float64),
            "wait_s": wait_s,
            "service_s": service_s,
            "latency_s": wait_s + service_s,
            "outcome": pd.Categorical(outcome),
            "cache": pd.Categorical(cache),
            **extra,
        }
    )
