"""The engine port: how a simulated request is served by the real engine.

A request reaches the engine at its arrival instant, and the engine runs
for real there and then; its measured wall time, plus any latency that
is modelled rather than spent (the advisor's), is the request's service
time. The request then queues for one of the scenario's engine workers
and holds it for that service time. The sample recorded is the wait plus
the service time, with its breakdown.

Requests are served first come, first served, and each one's service
time is known when it arrives, so the queue needs no SimPy process: a
heap of the instants at which each worker becomes free gives every
request's start as ``max(arrival, earliest free worker)``, exactly what
a FIFO :class:`simpy.Resource` of that capacity would give, at the cost
of one heap operation instead of several events per request.

.. note::
   The engine computes at the arrival instant, before the queueing
   that the request then goes through. What the engine answers thus
   never depends on how fast this machine is, which keeps plans, cache
   hits and advisor outcomes deterministic for a seed; only latencies
   are measured. The price: the engine sees the clock as it was at
   arrival, up to one queueing delay early.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from simulator.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable

    import simpy

    from engine.model import Request
    from engine.service import Optimized, Service
    from simulator.recorder import Recorder

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Served(Generic[T]):
    """An engine answer and what it cost."""

    value: T
    compute_s: float
    modelled_s: float


class EnginePort:
    """Serves requests on ``workers`` engine workers, in simulated time.

    ``extra_service_s`` is added to every request's modelled time, and
    ``slowdown`` stretches every request's whole service time by that
    fraction (0.1: ten percent slower): injected slowdowns with which
    the regression gate is validated. ``slowdown`` changes only what
    requests cost, never what the engine answers or when a plan takes
    effect, so the figures a seed fixes stay the same.
    """

    def __init__(
        self,
        env: simpy.Environment,
        workers: int,
        recorder: Recorder,
        extra_service_s: float = 0.0,
        slowdown: float = 0.0,
    ) -> None:
        if workers < 1:
            raise InputError(
                "scenario", "engine.workers", workers, "must be >= 1"
            )
        self.env = env
        self.workers = workers
        self.recorder = recorder
        self.extra_service_s = extra_service_s
        self.stretch = 1.0 + slowdown
        self._free_at = [0.0] * workers
        """When each worker is next free: a heap."""
        self._starts: list[float] = []
        """When requests not yet begun will begin: a heap."""
        self._ends: list[float] = []
        """When requests not yet answered will be: a heap."""

    def busy(self) -> int:
        """Workers serving a request now."""
        now = self.env.now
        return sum(1 for free_at in self._free_at if free_at > now)

    def waiting(self) -> int:
        """Requests arrived and waiting for a worker now."""
        return len(_after(self._starts, self.env.now))

    def in_flight(self) -> int:
        """Requests arrived and not yet answered now."""
        return len(_after(self._ends, self.env.now))

    def serve(
        self,
        endpoint: str,
        work: Callable[[], T],
        modelled: Callable[[T], float] | None = None,
        outcome: Callable[[T], str] | None = None,
        cache: Callable[[T], str] | None = None,
    ) -> Served[T]:
        """Run ``work`` now, queue it for a worker, and record the sample.

        ``modelled``, ``outcome`` and ``cache`` read from the answer its
        modelled latency, its outcome (default ``"ok"``) and the outcome
        of its cache look-up. An exception from ``work`` is recorded as
        an ``"error"`` sample and raised again.
        """
        arrival = self.env.now
        began = time.perf_counter()
        try:
            value = work()
        except Exception:
            spent = time.perf_counter() - began
            self._occupy(
                endpoint, arrival, spent, self.extra_service_s, "error", ""
            )
            raise
        spent = time.perf_counter() - began

        extra = self.extra_service_s + (modelled(value) if modelled else 0.0)
        self._occupy(
            endpoint,
            arrival,
            spent,
            extra,
            outcome(value) if outcome else "ok",
            cache(value) if cache else "",
        )
        return Served(value, spent, extra)

    def optimize(
        self, endpoint: str, service: Service, request: Request
    ) -> Served[Optimized]:
        """Serve ``service.optimize(request)``: its outcome is
        ``fallback`` where the plan is the heuristic's fallback, and its
        modelled latency the advisor's."""
        return self.serve(
            endpoint,
            lambda: service.optimize(request),
            modelled=_modelled,
            outcome=_plan_outcome,
            cache=_lookup,
        )

    def _occupy(
        self,
        endpoint: str,
        arrival: float,
        compute: float,
        modelled: float,
        outcome: str,
        cache: str,
    ) -> None:
        compute *= self.stretch
        modelled *= self.stretch
        start = max(arrival, self._free_at[0])
        end = start + compute + modelled
        heapq.heapreplace(self._free_at, end)
        if start > arrival:
            heapq.heappush(_after(self._starts, arrival), start)
        if end > arrival:
            heapq.heappush(_after(self._ends, arrival), end)
        self.recorder.sample(
            endpoint,
            arrival,
            start - arrival,
            compute,
            modelled,
            outcome,
            cache,
        )


def _modelled(optimized: Optimized) -> float:
    return optimized.modelled_s


def _plan_outcome(optimized: Optimized) -> str:
    return "fallback" if optimized.plan.stats.fallback else "ok"


def _lookup(optimized: Optimized) -> str:
    return optimized.cache.value


def _after(instants: list[float], now: float) -> list[float]:
    """``instants``, a heap, without those at or before ``now``."""
    while instants and instants[0] <= now:
        heapq.heappop(instants)
    return instants
