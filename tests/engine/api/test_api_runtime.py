"""Tests of the runtime an API serves, built in process: the metrics it
sets before a scrape, its readiness, and the Unix-seconds clock."""

from __future__ import annotations

import time

from engine.api import ApiConfig, Backends, EpochClock, Runtime
from engine.metrics import CollectorRegistry


def test_scrape_sets_memory_cache_sizes() -> None:
    """Before a scrape, each in-memory cache layer's entries and bytes
    are set from the layer; the workers gauge holds the pool's size."""
    registry = CollectorRegistry()
    runtime = Runtime.build(ApiConfig(workers=3), Backends(), registry)
    try:
        runtime.service.caches.routes.put("key", {"plan": [1, 2, 3]})
        runtime.observe()
        entries = registry.get_sample_value(
            "barq_cache_entries", {"layer": "routes"}
        )
        size = registry.get_sample_value(
            "barq_cache_size_bytes", {"layer": "routes"}
        )
        assert entries == 1
        assert size is not None
        assert size > 0
        assert registry.get_sample_value("barq_workers") == 3
        assert runtime.readiness() == []
    finally:
        runtime.close()
    assert runtime.readiness() == ["solver: the worker pool is closed"]


def test_epoch_clock_reads_unix_seconds_and_never_goes_back() -> None:
    """The clock starts at the wall time and moves with the monotonic
    clock."""
    clock = EpochClock()
    first = clock.now()
    assert abs(first - time.time()) < 1.0
    assert clock.now() >= first
