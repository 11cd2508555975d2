"""The metrics adapter: the engine's and the simulator's hooks as
Prometheus collectors. Nothing else in Barq imports prometheus_client.

Every class takes the :class:`~prometheus_client.CollectorRegistry` to
register on, so that a service, a simulation and each test have their
own::

    RequestMetrics     rate, errors, duration per endpoint; in flight;
                       worker saturation
    CacheMetrics       CacheHooks: look-ups, evictions, errors, size
    AdvisorMetrics     AdvisorHooks: calls by outcome, latency, breaker
    SolverMetrics      ServiceHooks: solve duration by backend, fallbacks
    StorageMetrics     query duration, errors, rows, connection pool
    CityMetrics        orders by state, deliveries, drivers, utilization
    SimulationMetrics  simulated and wall seconds, speed

:class:`Metrics` builds them all on one registry. docs/metrics.md lists
every metric they register; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from engine.metrics.advisor import AdvisorMetrics
from engine.metrics.buckets import DELIVERY_BUCKETS, LATENCY_BUCKETS
from engine.metrics.cache import CacheMetrics
from engine.metrics.city import CityMetrics, SimulationMetrics
from engine.metrics.exposition import (
    Labelled,
    MetricsServer,
    Timeline,
    exposed_name,
    exposition_text,
    push,
)
from engine.metrics.requests import RequestMetrics
from engine.metrics.solver import SolverMetrics
from engine.metrics.storage import StorageMetrics

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

__all__ = [
    "DELIVERY_BUCKETS",
    "LATENCY_BUCKETS",
    "AdvisorMetrics",
    "CacheMetrics",
    "CityMetrics",
    "CollectorRegistry",
    "Labelled",
    "Metrics",
    "MetricsServer",
    "RequestMetrics",
    "SimulationMetrics",
    "SolverMetrics",
    "StorageMetrics",
    "Timeline",
    "exposed_name",
    "exposition_text",
    "labelled",
    "metric_names",
    "push",
]


@dataclass(frozen=True, slots=True)
class Metrics:
    """Every adapter of Barq, on one registry."""

    registry: CollectorRegistry
    requests: RequestMetrics
    cache: CacheMetrics
    advisor: AdvisorMetrics
    solver: SolverMetrics
    storage: StorageMetrics
    city: CityMetrics
    simulation: SimulationMetrics

    @classmethod
    def build(cls, registry: CollectorRegistry | None = None) -> Metrics:
        """Every adapter on ``registry``, a new one by default."""
        registry = registry if registry is not None else CollectorRegistry()
        return cls(
            registry=registry,
            requests=RequestMetrics(registry),
            cache=CacheMetrics(registry),
            advisor=AdvisorMetrics(registry),
            solver=SolverMetrics(registry),
            storage=StorageMetrics(registry),
            city=CityMetrics(registry),
            simulation=SimulationMetrics(registry),
        )


def labelled(
    registry: CollectorRegistry, labels: dict[str, str]
) -> CollectorRegistry:
    """A registry whose only collector is ``registry`` with ``labels``
    added to every sample (:class:`Labelled`)."""
    wrapper = CollectorRegistry()
    wrapper.register(Labelled(registry, labels))
    return wrapper


def metric_names(source: Collector) -> set[str]:
    """The exposed name of every family of ``source``
    (:func:`exposed_name`)."""
    return {exposed_name(family) for family in source.collect()}
