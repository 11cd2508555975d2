"""Solver metrics: how long a solve takes, by the backend whose plan was
served, and how often a failed backend fell back to the heuristic."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from engine.metrics.buckets import LATENCY_BUCKETS

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class SolverMetrics:
    """The service's hooks (:class:`~engine.service.ServiceHooks`) as
    collectors on ``registry``.

    .. note::
       A fallback's plan is the heuristic's, so its duration is counted
       under ``backend="heuristic"``; which backend failed is in the
       log, not in a label.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration = Histogram(
            "barq_solver_duration_seconds",
            "Wall time of one solve, fallback included, by the backend "
            "whose plan was served.",
            ["backend"],
            buckets=LATENCY_BUCKETS,
            unit="seconds",
            registry=registry,
        )
        self.fallbacks = Counter(
            "barq_solver_fallbacks",
            "Solves whose backend failed or returned an infeasible plan, "
            "answered by the insertion heuristic instead.",
            registry=registry,
        )

    def on_solve(self, backend: str, fallback: bool, seconds: float) -> None:
        """Observe one solve."""
        self.duration.labels(backend).observe(seconds)
        if fallback:
            self.fallbacks.inc()
