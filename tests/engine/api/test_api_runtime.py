"""Tests of the runtime an API serves, built in process: the metrics it
sets before a scrape, its readiness, a full storage buffer answered
503, and the Unix-seconds clock."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import httpx

from engine.api import ApiConfig, Backends, EpochClock, Runtime, create_app
from engine.metrics import CollectorRegistry
from engine.storage import StorageFullError

if TYPE_CHECKING:
    from engine.model import Location, Plan, Request


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


class FullStore:
    """A storage writer whose buffer is always full."""

    def save_plan(
        self, fingerprint: str, request: Request, plan: Plan, at: float
    ) -> None:
        raise StorageFullError("save_plans", 10)

    def save_location(
        self, driver_id: str, location: Location, at: float
    ) -> None:
        raise StorageFullError("save_locations", 10)


def test_full_storage_buffer_is_503_with_the_reason() -> None:
    """A location the storage writer refuses answers 503 with
    Retry-After and the writer's reason, not 500."""
    runtime = Runtime.build(ApiConfig(workers=1), Backends())
    runtime.service.store = FullStore()
    app = create_app(runtime)

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://api"
        ) as client:
            return await client.post(
                "/api/drivers/d1/location", json={"x": 1, "y": 2}
            )

    try:
        reply = asyncio.run(post())
    finally:
        runtime.close()
    assert reply.status_code == 503
    assert reply.headers["retry-after"] == "1"
    assert "buffer_limit" in reply.json()["reason"]
    assert reply.headers["x-request-id"]
