"""The adapters: each hook call lands in the right sample."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from engine.advisor import (
    Advisor,
    AdvisorConfig,
    BreakerConfig,
    BreakerState,
    Outcome,
)
from engine.advisor.backends import Completion
from engine.cache import CacheConfig, Caches, EvictionReason, Lookup
from engine.clock import ManualClock
from engine.metrics import (
    LATENCY_BUCKETS,
    AdvisorMetrics,
    CacheMetrics,
    CityMetrics,
    Metrics,
    RequestMetrics,
    SimulationMetrics,
    SolverMetrics,
    StorageMetrics,
)
from engine.service import Service, ServiceConfig
from engine.solvers import solve
from simulator.example import example_request


def test_latency_buckets_have_boundaries_at_the_targets() -> None:
    """The 100, 200 and 500 ms targets are bucket boundaries, so their
    SLO ratios come from one bucket; the buckets increase."""
    assert {0.1, 0.2, 0.5} <= set(LATENCY_BUCKETS)
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))


def test_requests_count_durations_errors_and_in_flight() -> None:
    """A started request is in flight until it finishes; its duration
    lands in the bucket of its endpoint and outcome; errors count."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    requests.started()
    requests.started()
    assert registry.get_sample_value("barq_requests_in_flight") == 2
    requests.finished("eta", "ok", 0.15)
    requests.finished("eta", "error", 3.0)
    requests.set_workers(3, 4)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("barq_requests_in_flight") == 0
    assert (
        value(
            "barq_request_duration_seconds_bucket",
            endpoint="eta",
            outcome="ok",
            le="0.2",
        )
        == 1
    )
    assert (
        value(
            "barq_request_duration_seconds_bucket",
            endpoint="eta",
            outcome="ok",
            le="0.1",
        )
        == 0
    )
    assert value("barq_request_errors_total", endpoint="eta") == 1
    assert (value("barq_workers"), value("barq_workers_busy")) == (4, 3)


def test_cache_hooks_of_real_layers_become_counts() -> None:
    """A real layer built with the adapter as its hooks reports each
    look-up by result and the bytes it stores."""
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    caches = Caches.build(CacheConfig(), ManualClock(), hooks=metrics)
    caches.reference.get("absent")
    caches.reference.put("key", {"eta": 1.0})
    caches.reference.get("key")

    def lookups(result: str) -> float | None:
        return registry.get_sample_value(
            "barq_cache_lookups_total",
            {"layer": "reference", "result": result},
        )

    assert (lookups("miss"), lookups("hit"), lookups("bypass")) == (1, 1, 0)
    stored = registry.get_sample_value(
        "barq_cache_stored_bytes_total", {"layer": "reference"}
    )
    assert stored is not None
    assert stored > 0


def test_cache_events_and_sizes() -> None:
    """Evictions count by reason, errors by operation, degradation and
    size are gauges; known label values exist at zero beforehand."""
    registry = CollectorRegistry()
    metrics = CacheMetrics(registry)
    assert (
        registry.get_sample_value(
            "barq_cache_evictions_total",
            {"layer": "routes", "reason": "flush"},
        )
        == 0
    )
    metrics.on_eviction("routes", EvictionReason.FLUSH, 10)
    metrics.on_error("routes", "get", RuntimeError("down"))
    metrics.on_degraded("routes", True)
    metrics.on_lookup("routes", Lookup.HIT, 3)
    metrics.set_size("routes", 5, 1200)
    samples = {
        ("barq_cache_evictions_total", "reason", "flush"): 1,
        ("barq_cache_errors_total", "operation", "get"): 1,
        ("barq_cache_lookups_total", "result", "hit"): 1,
    }
    for (name, label, value), expected in samples.items():
        labels = {"layer": "routes", label: value}
        assert registry.get_sample_value(name, labels) == expected
    routes = {"layer": "routes"}
    assert registry.get_sample_value("barq_cache_degraded", routes) == 1
    assert registry.get_sample_value("barq_cache_entries", routes) == 5
    assert registry.get_sample_value("barq_cache_size_bytes", routes) == 1200


class _Failing:
    """An advisor backend whose every call fails."""

    def complete(
        self, messages: list[dict[str, str]], timeout: float
    ) -> Completion:
        return Completion(None, 0.3, error="HTTP 500")


def test_advisor_hooks_of_a_real_advisor() -> None:
    """Failing calls of a real advisor count as errors with their
    latency, and the breaker's opening shows in the state gauge."""
    registry = CollectorRegistry()
    metrics = AdvisorMetrics(registry)
    breaker = BreakerConfig(min_calls=2, failure_ratio=0.5)
    advisor = Advisor(
        _Failing(),
        ManualClock(),
        AdvisorConfig(breaker=breaker),
        hooks=metrics,
    )
    request = example_request(seed=1, orders=6, vehicles=2)
    plan = solve(request)
    for _ in range(3):
        advisor.review(request, plan)

    def calls(outcome: Outcome) -> float | None:
        return registry.get_sample_value(
            "barq_advisor_calls_total",
            {"kind": "review", "outcome": outcome.value},
        )

    assert calls(Outcome.ERROR) == 2
    assert calls(Outcome.BREAKER_OPEN) == 1
    assert calls(Outcome.OK) == 0

    def state(value: BreakerState) -> float | None:
        return registry.get_sample_value(
            "barq_advisor_breaker_state", {"state": value.value}
        )

    assert state(BreakerState.OPEN) == 1
    assert state(BreakerState.CLOSED) == 0
    assert registry.get_sample_value(
        "barq_advisor_call_duration_seconds_sum", {"kind": "review"}
    ) == pytest.approx(0.6)


def test_service_reports_each_solve() -> None:
    """A service with the solver adapter as hooks observes one solve per
    cache miss, under the backend that made the plan, and none for a
    cached answer."""
    registry = CollectorRegistry()
    clock = ManualClock()
    service = Service.build(
        ServiceConfig(), clock, hooks=SolverMetrics(registry)
    )
    request = example_request(seed=2, orders=8, vehicles=3)
    first = service.optimize(request)
    service.optimize(request)
    backend = first.plan.stats.backend
    assert (
        registry.get_sample_value(
            "barq_solver_duration_seconds_count", {"backend": backend}
        )
        == 1
    )
    assert registry.get_sample_value("barq_solver_fallbacks_total") == 0


def test_storage_queries_and_pool() -> None:
    """Successful statements count rows, failed ones errors; the pool
    gauges show the last report."""
    registry = CollectorRegistry()
    storage = StorageMetrics(registry)
    storage.on_query("save_plans", 0.004, 20, ok=True)
    storage.on_query("save_plans", 0.5, 20, ok=False)
    storage.on_pool(in_use=3, idle=1, waiting=2)
    plans = {"operation": "save_plans"}
    value = registry.get_sample_value
    assert value("barq_storage_rows_written_total", plans) == 20
    assert value("barq_storage_errors_total", plans) == 1
    assert value("barq_storage_query_duration_seconds_count", plans) == 2
    assert value("barq_storage_pool_connections", {"state": "in_use"}) == 3
    assert value("barq_storage_pool_waiting") == 2


def test_city_and_simulation() -> None:
    """Deliveries fill the histogram and the on-time count; the speed
    is simulated over wall seconds of the last step."""
    registry = CollectorRegistry()
    city = CityMetrics(registry)
    simulation = SimulationMetrics(registry)
    city.placed(3)
    city.delivered(1500.0, on_time=True)
    city.delivered(4000.0, on_time=False)
    city.set_drivers(busy=2, idle=1, offline=4, capacity=12)
    simulation.advanced(60.0, 0.5)
    value = registry.get_sample_value
    assert value("barq_orders_created_total") == 3
    assert value("barq_delivery_duration_seconds_count") == 2
    assert value("barq_deliveries_on_time_total") == 1
    assert value("barq_drivers", {"state": "offline"}) == 4
    assert value("barq_driver_capacity") == 12
    assert value("barq_simulation_speed_ratio") == 120
    assert value("barq_simulation_simulated_seconds_total") == 60


def test_every_adapter_fits_one_registry() -> None:
    """All adapters register on one registry without a name clash, and
    each registry is separate."""
    first = Metrics.build()
    second = Metrics.build()
    first.requests.observe("eta", "ok", 0.01)
    assert (
        second.registry.get_sample_value(
            "barq_request_duration_seconds_count",
            {"endpoint": "eta", "outcome": "ok"},
        )
        is None
    )
