"""The engine service: the one entry point that the HTTP API and the
simulator share.

:meth:`Service.optimize` serves a route-optimization request in five
timed stages::

    cache    look the request's fingerprint up in the route-plan layer
    solve    on a miss: plan the canonical request (engine.solvers.solve)
    advisor  on a miss: the fleet advisor's second opinion on the plan
    eta      each planned delivery's time; on a miss also published, per
             order, in the reference layer for :meth:`Service.eta`
    store    the storage hook, when one is attached

Each stage's wall time is measured with :func:`time.perf_counter`: that is
real compute, which a simulation charges to its own clock. Latency that is
modelled rather than spent (the advisor's, in simulation) is reported
apart, in :attr:`Optimized.modelled_s`. Everything that depends on time
(cache expiry, the breaker) reads the injected clock.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from engine.advisor import Advisor, AdvisorConfig, Outcome
from engine.cache import (
    CacheConfig,
    Caches,
    Lookup,
    canonical,
    fingerprint,
)
from engine.codec import plan_from_dict
from engine.errors import InvalidRequestError
from engine.model import StopKind
from engine.solvers import SolverConfig, solve

if TYPE_CHECKING:
    from collections.abc import Mapping

    from engine.advisor import Advice, AssignmentQuestion
    from engine.clock import Clock
    from engine.model import Location, Plan, Request
    from engine.travel import TravelTimes

__all__ = [
    "STAGES",
    "Eta",
    "Optimized",
    "PlanStore",
    "Service",
    "ServiceConfig",
    "ServiceHooks",
    "SolveFunction",
]

log = logging.getLogger(__name__)

STAGES = ("cache", "solve", "advisor", "eta", "store")
"""The stages of :meth:`Service.optimize`, in the order they run."""

COMPUTED_STAGES = ("solve", "advisor", "eta")
"""Stages timed inside a miss's computation, which the cache stage's
time around it leaves out."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """How a :class:`Service` is put together.

    ``review_plans`` asks the advisor for a second opinion on every
    freshly solved plan with two routes or more. ``extra_service_s`` is
    an injected service time added to every answer's modelled latency: a
    known slowdown with which the regression gate is validated.
    """

    cache: CacheConfig = field(default_factory=CacheConfig)
    advisor: AdvisorConfig = field(default_factory=AdvisorConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    review_plans: bool = True
    extra_service_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.extra_service_s >= 0:
            raise InvalidRequestError(
                "service.extra_service_s",
                self.extra_service_s,
                "must be a number of seconds >= 0",
            )


@dataclass(frozen=True, slots=True)
class Optimized:
    """The answer to :meth:`Service.optimize`, with how it was made."""

    plan: Plan
    fingerprint: str
    cache: Lookup
    """The outcome of the route-plan look-up."""
    review: Outcome | None
    """The advisor's outcome, or None where the plan was not reviewed
    (a cached plan, a plan of one route, or no advisor)."""
    etas: Mapping[str, float]
    """Delivery time of each planned order, in clock seconds."""
    stages: Mapping[str, float]
    """Wall seconds spent in each stage of :data:`STAGES`."""
    modelled_s: float
    """Seconds of modelled latency: the advisor's in simulation, plus
    the configured extra service time."""

    @property
    def compute_s(self) -> float:
        """Wall seconds of real compute over all stages."""
        return sum(self.stages.values())

    @property
    def charged_s(self) -> float:
        """The service time this answer costs: compute plus modelled."""
        return self.compute_s + self.modelled_s


@dataclass(frozen=True, slots=True)
class Eta:
    """A customer's answer: when an order is planned to be delivered."""

    order_id: str
    vehicle_id: str
    delivery_s: float
    planned_at: float


class PlanStore(Protocol):
    """Where the service records what it did; storage backends implement
    it, and writes are expected to be buffered, not synchronous."""

    def save_plan(
        self, fingerprint: str, request: Request, plan: Plan, at: float
    ) -> None:
        """Record a served plan."""
        ...

    def save_location(
        self, driver_id: str, location: Location, at: float
    ) -> None:
        """Record a driver's reported location."""
        ...


class SolveFunction(Protocol):
    """What plans a request: :func:`engine.solvers.solve` by default;
    the HTTP API passes one that runs it in a worker process."""

    def __call__(self, request: Request, config: SolverConfig) -> Plan:
        """A checked plan of ``request``."""
        ...


class ServiceHooks(Protocol):
    """Receives what the service does; only an adapter makes metrics of
    it. Called from the thread that served the request; must be quick
    and must not raise."""

    def on_solve(self, backend: str, fallback: bool, seconds: float) -> None:
        """A request was solved in ``seconds`` of wall time by
        ``backend`` (the heuristic, with ``fallback`` true, when the
        chosen backend failed)."""
        ...


class _Stopwatch:
    """Wall seconds per stage, accumulated."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)

    def time(self, stage: str) -> _Lap:
        return _Lap(self.seconds, stage)


class _Lap:
    def __init__(self, seconds: dict[str, float], stage: str) -> None:
        self._seconds = seconds
        self._stage = stage
        self._began = 0.0

    def __enter__(self) -> None:
        self._began = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self._seconds[self._stage] += time.perf_counter() - self._began


class Service:
    """Route optimization with caches, the fleet advisor and storage.

    Build one with :meth:`build` from a configuration, or hand the parts
    in directly. The service is safe to share between threads: the
    caches lock, and identical concurrent misses are solved once.

    .. note::
       A request is solved in its canonical form (orders, vehicles and
       locations sorted by id, coordinates rounded to
       ``CacheConfig.precision`` decimals), so that equal fingerprints
       mean equal answers. Coordinates finer than the precision are not
       seen by the solver.
    """

    def __init__(
        self,
        clock: Clock,
        caches: Caches,
        advisor: Advisor | None = None,
        store: PlanStore | None = None,
        config: ServiceConfig | None = None,
        hooks: ServiceHooks | None = None,
        solver: SolveFunction | None = None,
    ) -> None:
        self.clock = clock
        self.caches = caches
        self.advisor = advisor
        self.store = store
        self.config = config or ServiceConfig()
        self.hooks = hooks
        self.solver = solver
        """Plans a missed request; :func:`engine.solvers.solve` when
        None."""

    @classmethod
    def build(
        cls,
        config: ServiceConfig,
        clock: Clock,
        advisor: Advisor | None = None,
        store: PlanStore | None = None,
        caches: Caches | None = None,
        hooks: ServiceHooks | None = None,
        solver: SolveFunction | None = None,
    ) -> Service:
        """A service with caches built from ``config`` unless given."""
        if caches is None:
            caches = Caches.build(config.cache, clock)
        return cls(clock, caches, advisor, store, config, hooks, solver)

    def optimize(self, request: Request) -> Optimized:
        """Plan ``request``, from the cache when it was planned before."""
        watch = _Stopwatch()
        modelled = [self.config.extra_service_s]
        review: list[Outcome] = []
        computed: list[Plan] = []

        precision = self.config.cache.precision
        with watch.time("cache"):
            key = fingerprint(request, precision)

        def compute() -> dict[str, Any]:
            solvable = canonical(request, precision)
            plan = self._solve(solvable, watch)
            reviewed = self._review(solvable, plan, watch)
            if reviewed is not None:
                review.append(reviewed[0])
                modelled.append(reviewed[1])
            with watch.time("eta"):
                self._publish_etas(plan)
            computed.append(plan)
            return plan.to_dict()

        began = time.perf_counter()
        value, lookup = self.caches.routes.get_or_compute(key, compute)
        spent = time.perf_counter() - began
        inner = sum(watch.seconds[stage] for stage in COMPUTED_STAGES)
        watch.seconds["cache"] += max(spent - inner, 0.0)

        # A plan computed here is served as it is; one from the cache, or
        # computed by another thread, is decoded (the two are equal).
        with watch.time("cache"):
            plan = computed[0] if computed else plan_from_dict(value)
        with watch.time("eta"):
            etas = _delivery_times(plan)
        if self.store is not None:
            with watch.time("store"):
                self.store.save_plan(key, request, plan, self.clock.now())

        return Optimized(
            plan=plan,
            fingerprint=key,
            cache=lookup,
            review=review[0] if review else None,
            etas=etas,
            stages=watch.seconds,
            modelled_s=sum(modelled),
        )

    def eta(self, order_id: str) -> Eta | None:
        """The delivery of ``order_id`` in the plan last computed that
        routes it, or None.

        ETAs are published when a plan is computed, not when a cached
        plan is served again: ``planned_at`` is when the plan was made,
        and serving an older plan from the cache never overwrites a
        newer plan's estimate.
        """
        value = self.caches.reference.get(f"eta:{order_id}")
        if value is None:
            return None
        return Eta(order_id, value["vehicle"], value["eta"], value["at"])

    def update_location(self, driver_id: str, location: Location) -> None:
        """Keep a driver's reported location, shared between workers."""
        now = self.clock.now()
        self.caches.reference.put(
            f"driver:{driver_id}",
            {"x": location.x, "y": location.y, "at": now},
        )
        if self.store is not None:
            self.store.save_location(driver_id, location, now)

    def advise(
        self, question: AssignmentQuestion, travel: TravelTimes
    ) -> Advice:
        """The advisor's choice of driver for each order of ``question``.

        Without an advisor, every answer is the heuristic's.
        """
        if self.advisor is None:
            raise InvalidRequestError(
                "advisor", None, "this service runs without an advisor"
            )
        return self.advisor.assign(question, travel)

    def _solve(self, request: Request, watch: _Stopwatch) -> Plan:
        planner = self.solver if self.solver is not None else solve
        with watch.time("solve"):
            plan = planner(request, self.config.solver)
        if self.hooks is not None:
            stats = plan.stats
            self.hooks.on_solve(stats.backend, stats.fallback, stats.wall_s)
        return plan

    def _review(
        self, request: Request, plan: Plan, watch: _Stopwatch
    ) -> tuple[Outcome, float] | None:
        if (
            self.advisor is None
            or not self.config.review_plans
            or len(plan.routes) < 2
        ):
            return None
        with watch.time("advisor"):
            review = self.advisor.review(request, plan)
        return review.outcome, review.latency_s

    def _publish_etas(self, plan: Plan) -> None:
        now = self.clock.now()
        self.caches.reference.put_many(
            {
                f"eta:{stop.order_id}": {
                    "vehicle": route.vehicle_id,
                    "eta": stop.arrival,
                    "at": now,
                }
                for route in plan.routes
                for stop in route.stops
                if stop.kind is StopKind.DELIVERY
            }
        )


def _delivery_times(plan: Plan) -> dict[str, float]:
    """The planned arrival at each order's delivery stop."""
    return {
        stop.order_id: stop.arrival
        for route in plan.routes
        for stop in route.stops
        if stop.kind is StopKind.DELIVERY
    }
