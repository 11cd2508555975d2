"""Advisor metrics: calls by kind and outcome, their latency, and the
circuit breaker's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from engine.advisor import BreakerState, Outcome
from engine.metrics.buckets import LATENCY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

KINDS = ("assign", "review")
"""The kinds of advisor call."""


class AdvisorMetrics:
    """The advisor's hooks (:class:`~engine.advisor.AdvisorHooks`) as
    collectors on ``registry``.

    ``barq_advisor_call_duration_seconds`` observes the latency charged
    to each call: zero for cache hits and calls the breaker refused,
    the timeout for calls that ran out of it. Every kind and outcome
    exists from the start at zero.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.calls = Counter(
            "barq_advisor_calls",
            "Advisor calls by kind (assign, review) and outcome "
            "(cache_hit, ok, timeout, error, rejected, breaker_open).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.duration = Histogram(
            "barq_advisor_call_duration_seconds",
            "Latency charged to an advisor call.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.breaker = Gauge(
            "barq_advisor_breaker_state",
            "1 for the circuit breaker's current state (closed, open, "
            "half_open), 0 for the others.",
            ["state"],
            registry=registry,
        )
        for kind in KINDS:
            self.duration.labels(kind)
            for outcome in Outcome:
                self.calls.labels(kind, outcome.value)
        self.on_breaker(BreakerState.CLOSED)

    def on_advice(self, kind: str, outcome: Outcome, latency_s: float) -> None:
        """Count a call and observe its latency."""
        self.calls.labels(kind, outcome.value).inc()
        self.duration.labels(kind).observe(latency_s)

    def on_breaker(self, state: BreakerState) -> None:
        """Show ``state`` as the breaker's current one."""
        for each in BreakerState:
            self.breaker.labels(each.value).set(1 if each is state else 0)
