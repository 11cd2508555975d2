"""Storage metrics: query duration and errors by operation, the
connection pool's use, and the records the batching writer refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from engine.metrics.buckets import LATENCY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class StorageMetrics:
    """Collectors of the storage backend, on ``registry``.

    ``operation`` names a kind of statement (``save_plans``,
    ``save_locations``...), never a statement's text or its arguments.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "barq_storage_query_duration_seconds",
            "Wall time of one storage statement or batch.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.errors = Counter(
            "barq_storage_errors",
            "Storage statements that failed.",
            ["operation"],
            registry=registry,
        )
        self.rows = Counter(
            "barq_storage_rows_written",
            "Rows written, batched or not.",
            ["operation"],
            registry=registry,
        )
        self.pool = Gauge(
            "barq_storage_pool_connections",
            "Connections of the pool by state (in_use, idle).",
            ["state"],
            registry=registry,
        )
        self.rejected = Counter(
            "barq_storage_rejected",
            "Records the batching writer refused, its buffer full.",
            ["operation"],
            registry=registry,
        )
        self.waiting = Gauge(
            "barq_storage_pool_waiting",
            "Requests waiting for a connection of the pool.",
            registry=registry,
        )

    def on_query(
        self, operation: str, seconds: float, rows: int, ok: bool
    ) -> None:
        """Observe one statement or batch of ``rows`` rows."""
        self.duration.labels(operation).observe(seconds)
        if ok:
            self.rows.labels(operation).inc(rows)
        else:
            self.errors.labels(operation).inc()

    def on_pool(self, in_use: int, idle: int, waiting: int) -> None:
        """Set the pool's connections in use and idle, and the waiters."""
        self.pool.labels("in_use").set(in_use)
        self.pool.labels("idle").set(idle)
        self.waiting.set(waiting)

    def on_rejected(self, operation: str) -> None:
        """Count a record the writer refused with its buffer full."""
        self.rejected.labels(operation).inc()
