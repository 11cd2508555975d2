"""Cache metrics: look-ups by layer and result, stores, evictions by
reason, errors, degradation, and the size of each layer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge

from engine.cache import LAYERS, EvictionReason, Lookup

if TYPE_CHECKING:
    from collections.abc import Iterable

    from prometheus_client import CollectorRegistry

OPERATIONS = ("get", "set", "delete", "flush", "stats", "encode", "decode")
"""The cache operations whose failures are counted."""


class CacheMetrics:
    """The cache layers' hooks (:class:`~engine.cache.CacheHooks`) as
    collectors on ``registry``.

    Give an instance as ``hooks`` to :meth:`engine.cache.Caches.build`.
    The size of a layer is not an event; whoever owns the caches sets
    it with :meth:`set_size`, for example before each scrape. Every
    look-up result, eviction reason, failed operation and degraded flag
    of ``layers`` exists from the start at zero, so that ratios and
    rates over them have data before the first event.
    """

    def __init__(
        self, registry: CollectorRegistry, layers: Iterable[str] = LAYERS
    ) -> None:
        self.lookups = Counter(
            "barq_cache_lookups",
            "Cache look-ups by layer and result (hit, miss, shared, "
            "error, bypass).",
            ["layer", "result"],
            registry=registry,
        )
        self.stored_bytes = Counter(
            "barq_cache_stored_bytes",
            "Bytes of encoded values handed to a layer's backend.",
            ["layer"],
            unit="bytes",
            registry=registry,
        )
        self.evictions = Counter(
            "barq_cache_evictions",
            "Entries a backend dropped, by reason (expired, entries, "
            "bytes, flush, oversize).",
            ["layer", "reason"],
            registry=registry,
        )
        self.errors = Counter(
            "barq_cache_errors",
            "Failed cache operations (get, set, delete, flush, stats, "
            "encode, decode); the caller carried on without the cache.",
            ["layer", "operation"],
            registry=registry,
        )
        self.degraded = Gauge(
            "barq_cache_degraded",
            "1 while a layer's shared backend is unavailable and its "
            "memory fallback serves, else 0.",
            ["layer"],
            registry=registry,
        )
        self.entries = Gauge(
            "barq_cache_entries",
            "Live entries in a layer's backend in use.",
            ["layer"],
            registry=registry,
        )
        self.size = Gauge(
            "barq_cache_size_bytes",
            "Bytes of live values in a layer's backend in use.",
            ["layer"],
            unit="bytes",
            registry=registry,
        )
        for layer in layers:
            for result in Lookup:
                self.lookups.labels(layer, result.value)
            for reason in EvictionReason:
                self.evictions.labels(layer, reason.value)
            for operation in OPERATIONS:
                self.errors.labels(layer, operation)
            self.degraded.labels(layer).set(0)
        for layer in layers:
            for result in Lookup:
                self.lookups.labels(layer, result.value)
            for reason in EvictionReason:
                self.evictions.labels(layer, reason.value)
            for operation in OPERATIONS:
                self.errors.labels(layer, operation)
            self.degraded.labels(layer).set(0)

    def on_lookup(self, layer: str, result: Lookup, size: int) -> None:
        """Count a look-up."""
        self.lookups.labels(layer, result.value).inc()

    def on_set(self, layer: str, size: int) -> None:
        """Count the bytes of a store."""
        self.stored_bytes.labels(layer).inc(size)

    def on_eviction(
        self, layer: str, reason: EvictionReason, size: int
    ) -> None:
        """Count an eviction."""
        self.evictions.labels(layer, reason.value).inc()

    def on_error(
        self, layer: str, operation: str, error: BaseException
    ) -> None:
        """Count a failed operation."""
        self.errors.labels(layer, operation).inc()

    def on_degraded(self, layer: str, degraded: bool) -> None:
        """Mark a layer degraded or recovered."""
        self.degraded.labels(layer).set(1 if degraded else 0)

    def count_lookups(self, layer: str, result: str, count: int) -> None:
        """Count ``count`` look-ups at once, from a recorded tally."""
        self.lookups.labels(layer, result).inc(count)

    def count_evictions(self, layer: str, reason: str, count: int) -> None:
        """Count ``count`` evictions at once, from a recorded tally."""
        self.evictions.labels(layer, reason).inc(count)

    def count_errors(self, layer: str, operation: str, count: int) -> None:
        """Count ``count`` failed operations at once."""
        self.errors.labels(layer, operation).inc(count)

    def set_size(self, layer: str, entries: int, size: int) -> None:
        """Set a layer's live entries and their bytes."""
        self.entries.labels(layer).set(entries)
        self.size.labels(layer).set(size)
