"""Request metrics (RED and USE): rate, errors and duration per endpoint,
requests in flight and worker saturation.

The same names serve the HTTP API (wall time) and a simulation
(simulated time): a dashboard cannot tell them apart but by labels the
scrape or the run directory adds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from engine.metrics.buckets import LATENCY_BUCKETS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from prometheus_client import CollectorRegistry


class RequestMetrics:
    """Collectors of served requests, on ``registry``.

    ``endpoint`` is a route's name (``optimize``, ``eta``...), never a
    path with ids in it; ``outcome`` is ``ok``, ``error`` or another
    short word the caller chooses (``fallback``, ``unknown``).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "barq_request_duration_seconds",
            "Time from a request's arrival to its answer, queueing "
            "for a worker included.",
            ["endpoint", "outcome"],
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.errors = Counter(
            "barq_request_errors",
            "Requests that ended with outcome error.",
            ["endpoint"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "barq_requests_in_flight",
            "Requests that arrived and are not answered yet: waiting "
            "for a worker or being served.",
            registry=registry,
        )
        self.workers = Gauge(
            "barq_workers",
            "Workers that serve requests.",
            registry=registry,
        )
        self.workers_busy = Gauge(
            "barq_workers_busy",
            "Workers serving a request now.",
            registry=registry,
        )

    def started(self) -> None:
        """A request arrived."""
        self.in_flight.inc()

    def finished(self, endpoint: str, outcome: str, seconds: float) -> None:
        """A request that :meth:`started` was answered."""
        self.in_flight.dec()
        self.observe(endpoint, outcome, seconds)

    def observe(self, endpoint: str, outcome: str, seconds: float) -> None:
        """Count one answered request and its duration, leaving the
        in-flight gauge alone (a simulation sets that itself)."""
        self.duration.labels(endpoint, outcome).observe(seconds)
        # An endpoint's error count exists at zero from its first
        # request on, so that its error ratio has data.
        errors = self.errors.labels(endpoint)
        if outcome == "error":
            errors.inc()

    def observe_many(
        self, endpoint: str, outcome: str, seconds: Iterable[float]
    ) -> None:
        """:meth:`observe` for many requests of one endpoint and outcome,
        looking their series up once."""
        duration = self.duration.labels(endpoint, outcome)
        errors = self.errors.labels(endpoint)
        count = 0
        for value in seconds:
            duration.observe(value)
            count += 1
        if outcome == "error":
            errors.inc(count)

    def set_in_flight(self, requests: int) -> None:
        """Set the number of requests in flight."""
        self.in_flight.set(requests)

    def set_workers(self, busy: int, capacity: int) -> None:
        """Set how many of ``capacity`` workers are busy."""
        self.workers.set(capacity)
        self.workers_busy.set(busy)
