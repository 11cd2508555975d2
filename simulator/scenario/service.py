"""The service sections of a scenario: dispatch, API mix, engine, faults
and targets.

Units: seconds for durations and latencies, requests per hour per active
entity for the API mix, requests per second for throughput, shares in
[0, 1] for ratios.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, field_validator, model_validator

from engine.cache import CacheConfig
from engine.errors import InvalidRequestError
from engine.model import Backend
from simulator.scenario.fields import (
    MISSING,
    Bool,
    Count,
    NonNegative,
    Positive,
    RuleError,
    Section,
    Share,
    Str,
    forbid_unused,
    require,
)


class DispatchConfig(Section):
    """How often the dispatcher plans, and how hard the solver searches.

    In a simulation the solver is bounded by ``work_limit`` so that a
    seed always gives the same plans; ``time_limit`` bounds it in service
    mode (live runs against the HTTP API).
    """

    epoch_s: Positive = 30.0
    """Seconds between two dispatch rounds (simulated seconds)."""

    backend: Backend = Backend.AUTO
    """Solver backend: ``auto``, ``pyvrp``, ``ortools`` or
    ``heuristic``."""

    work_limit: Annotated[int, Strict(), Field(ge=0)] = 200
    """Search iterations per solve in simulation (deterministic)."""

    time_limit: Positive = 1.0
    """Wall-clock budget per solve in service mode (seconds)."""

    reoptimize: Bool = True
    """Whether orders assigned but not yet picked up may move to another
    driver in a later round."""

    max_orders_per_solve: Count = 200
    """At most this many pending orders go into one solve, the oldest
    first; the rest wait for the next round."""

    delivery_weight: NonNegative = 0.0
    """Weight of each order's seconds from ready to delivery in the
    solver's objective, against one per second travelled: 0 plans for
    travel alone within the promised times."""

    horizon_s: Positive = 1800.0
    """Rolling horizon: a driver is offered only the work it can finish
    within this many seconds of its next free moment; the rest waits for
    a later round (seconds)."""

    pickup_service_s: NonNegative = 120.0
    """Time a driver spends at the merchant to pick an order up
    (seconds)."""

    delivery_service_s: NonNegative = 120.0
    """Time a driver spends at the customer to hand an order over
    (seconds)."""


class ApiMixConfig(Section):
    """Requests beside dispatch, as rates per active entity.

    An order is active from placement until delivered or cancelled; a
    driver is active while on shift and online; a merchant is active
    while it has an active order. Each active entity sends requests as a
    Poisson process at the given rate (requests per hour).
    """

    eta_per_active_order: NonNegative = 360.0
    """Customers asking for their order's ETA (per active order per
    hour; 360 is once every 10 s)."""

    location_per_active_driver: NonNegative = 1200.0
    """Drivers sending their location (per active driver per hour; 1200
    is once every 3 s)."""

    batch_plan_per_merchant: NonNegative = 60.0
    """Merchants asking for a batch route plan (per active merchant per
    hour)."""

    batch_couriers: Count = 3
    """Couriers offered in a batch plan request: the merchant asks how
    this many couriers leaving now would deliver its orders not yet
    picked up."""

    batch_capacity: Count = 4
    """Capacity of each courier of a batch plan request (units)."""

    batch_work_limit: Annotated[int, Strict(), Field(ge=0)] = 50
    """Search iterations of a batch plan's solve."""


class LatencySettings(Section):
    """A model of a remote call's latency (seconds), as
    ``engine.advisor.LatencyModel`` reads it.

    ``lognormal`` takes ``median_s`` and ``sigma``; ``constant`` takes
    ``median_s`` as its one value; ``uniform`` takes ``low_s`` and
    ``high_s``.
    """

    replaced_on_new_kind = True

    kind: Literal["lognormal", "constant", "uniform"] = "lognormal"
    """Which family latencies are drawn from."""

    median_s: Positive = 0.8
    """Median latency of ``lognormal``, the latency of ``constant``
    (seconds)."""

    sigma: NonNegative = 0.5
    """Standard deviation of the log latency of ``lognormal``."""

    low_s: NonNegative | None = None
    """Least latency of ``uniform`` (seconds)."""

    high_s: NonNegative | None = None
    """Greatest latency of ``uniform`` (seconds)."""

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> LatencySettings:
        reason = f"by {self.kind} latency"
        if self.kind == "uniform":
            require(self, ["low_s", "high_s"], reason)
            if self._high < self._low:
                raise RuleError(
                    "high_s", self.high_s, f"must be >= low_s ({self.low_s})"
                )
        else:
            forbid_unused(self, set(), {"low_s", "high_s"}, reason)
        return self

    @property
    def _low(self) -> float:
        return self.low_s or 0.0

    @property
    def _high(self) -> float:
        return self.high_s or 0.0


class BreakerSettings(Section):
    """The circuit breaker in front of the advisor."""

    failure_ratio: Annotated[float, Strict(), Field(gt=0, le=1)] = 0.5
    """The breaker opens when this share of calls in the window failed."""

    window_s: Positive = 30.0
    """Sliding window over which calls are counted (seconds)."""

    min_calls: Count = 5
    """Calls in the window before the breaker may open."""

    cool_down_s: Positive = 10.0
    """Time an open breaker waits before a trial call (seconds)."""

    half_open_calls: Count = 1
    """Trial calls admitted while half open."""


class AdvisorSettings(Section):
    """The LLM fleet advisor, and in simulation the model of its
    provider."""

    backend: Literal["modelled", "http"] = "modelled"
    """``modelled``: latency and answers drawn from this section;
    ``http``: a real OpenAI-compatible endpoint at ``url``."""

    url: Str | None = None
    """Base URL of the endpoint, for ``backend: http``."""

    model: Str | None = None
    """Model name sent to the endpoint, for ``backend: http``."""

    latency: LatencySettings = LatencySettings()
    """Latency of one call to the modelled provider."""

    error_rate: Share = 0.01
    """Chance that a modelled call fails."""

    worse_rate: Share = 0.05
    """Chance that a modelled answer is valid but worse than the
    heuristic's."""

    malformed_rate: Share = 0.01
    """Chance that a modelled answer cannot be parsed."""

    timeout_s: Positive = 2.0
    """A call that takes longer is abandoned (seconds)."""

    batch_size: Count = 8
    """Orders per advisor call."""

    cache_precision: Annotated[int, Strict(), Field(ge=0, le=8)] = 3
    """Decimal places of coordinates kept in the advice cache key."""

    urgency_bucket_s: Positive = 300.0
    """Width of the urgency buckets in the advice cache key (seconds)."""

    breaker: BreakerSettings = BreakerSettings()
    """The circuit breaker."""

    @model_validator(mode="after")
    def _http_needs_url(self) -> AdvisorSettings:
        if self.backend == "http" and self.url is None:
            raise RuleError("url", MISSING, "is required by backend: http")
        return self


class StorageSettings(Section):
    """Where the engine stores plans and events."""

    backend: Literal["none", "sqlite", "postgresql"] = "none"
    """Storage backend; ``none`` stores nothing."""

    url: Str | None = None
    """Database URL: required for ``postgresql``; for ``sqlite`` a file
    path, by default ``barq.sqlite`` in the run directory."""

    batch_size: Count = 200
    """Records the writer puts in one batch, at most."""

    batch_age_s: Positive = 0.5
    """A batch is written once its oldest record is this old, full or
    not (simulated seconds)."""

    buffer_limit: Count = 10_000
    """Records the writer holds unwritten before it refuses saves."""

    @model_validator(mode="after")
    def _url_for_backend(self) -> StorageSettings:
        if self.backend == "postgresql" and self.url is None:
            raise RuleError(
                "url", MISSING, "is required by backend: postgresql"
            )
        if self.backend == "none" and self.url is not None:
            raise RuleError("url", self.url, "is not used by backend: none")
        if self.buffer_limit < self.batch_size:
            raise RuleError(
                "buffer_limit",
                self.buffer_limit,
                f"must be >= batch_size ({self.batch_size})",
            )
        return self


class EngineConfig(Section):
    """The engine under test: workers, caches, advisor, storage."""

    workers: Count = 4
    """Requests served at once; more wait in a queue."""

    cache: dict[Str, Any] = Field(default_factory=dict)
    """Cache backend and layers: a mapping validated by, and passed on
    to, ``engine.cache.CacheConfig.from_dict``."""

    advisor: AdvisorSettings = AdvisorSettings()
    """The LLM fleet advisor."""

    storage: StorageSettings = StorageSettings()
    """Durable storage."""

    extra_service_s: NonNegative = 0.0
    """Seconds added to the service time of every request, to inject a
    known slowdown (used to validate the gate)."""

    slowdown: NonNegative = 0.0
    """Fraction by which every request's service time is stretched (0.1:
    ten percent slower), to inject a known relative slowdown (used to
    validate the gate). It changes latencies only: plans and business
    figures stay those of the seed."""

    @field_validator("cache")
    @classmethod
    def _valid_cache(cls, cache: dict[str, Any]) -> dict[str, Any]:
        try:
            CacheConfig.from_dict(cache, path="cache")
        except InvalidRequestError as error:
            field = error.field.removeprefix("cache").removeprefix(".")
            raise RuleError(field, error.value, error.rule) from None
        return cache


FaultKind = Literal[
    "llm_outage",
    "llm_slow",
    "redis_down",
    "storage_slow",
    "cache_flush",
    "demand_spike",
    "drivers_offline",
]
"""The kinds of fault a scenario can inject."""

FACTOR_KINDS = frozenset({"llm_slow", "storage_slow", "demand_spike"})
"""Fault kinds that take a ``factor``."""

SHARE_KINDS = frozenset({"drivers_offline"})
"""Fault kinds that take a ``share``."""


class Fault(Section):
    """A window of simulated time in which something goes wrong.

    ``llm_outage``: every advisor call fails. ``llm_slow``: advisor
    latencies are multiplied by ``factor``. ``redis_down``: the Redis
    cache backend refuses connections. ``storage_slow``: the storage
    writer's batches are charged ``factor`` times their measured time.
    ``cache_flush``: every cache layer is emptied at ``start_s`` and
    stores nothing until ``end_s``.
    ``demand_spike``: the order rate is multiplied by ``factor``.
    ``drivers_offline``: a random ``share`` of the active drivers goes
    offline at ``start_s`` (finishing the orders they carry) and comes
    back at ``end_s``.
    """

    kind: FaultKind
    """What goes wrong."""

    start_s: NonNegative
    """Start of the window (simulated seconds from the run's start)."""

    end_s: Positive
    """End of the window (simulated seconds, > ``start_s``)."""

    factor: Positive | None = None
    """Multiplier, for ``llm_slow``, ``storage_slow`` and
    ``demand_spike``."""

    share: Annotated[float, Strict(), Field(gt=0, le=1)] | None = None
    """Share of drivers, for ``drivers_offline``."""

    @model_validator(mode="after")
    def _parameters_match_kind(self) -> Fault:
        if self.end_s <= self.start_s:
            raise RuleError(
                "end_s", self.end_s, f"must be > start_s ({self.start_s:g})"
            )
        used = set()
        if self.kind in FACTOR_KINDS:
            used.add("factor")
        if self.kind in SHARE_KINDS:
            used.add("share")
        reason = f"by kind: {self.kind}"
        require(self, sorted(used), reason)
        forbid_unused(self, used, {"factor", "share"}, reason)
        return self

    def active(self, t: float) -> bool:
        """Whether simulated second ``t`` falls in ``[start_s, end_s)``."""
        return self.start_s <= t < self.end_s


class LatencyTarget(Section):
    """Latency percentiles an endpoint must stay under (seconds)."""

    p50: Positive | None = None
    """Median (seconds)."""

    p95: Positive | None = None
    """95th percentile (seconds)."""

    p99: Positive | None = None
    """99th percentile (seconds)."""

    @model_validator(mode="after")
    def _ordered(self) -> LatencyTarget:
        given = [
            (name, value)
            for name, value in (
                ("p50", self.p50),
                ("p95", self.p95),
                ("p99", self.p99),
            )
            if value is not None
        ]
        for (low_name, low), (name, value) in itertools.pairwise(given):
            if value < low:
                raise RuleError(name, value, f"must be >= {low_name} ({low})")
        return self


class EndpointTargets(Section):
    """Latency targets per endpoint; an endpoint left out has none."""

    dispatch: LatencyTarget | None = None
    """A dispatch round's solve."""

    eta: LatencyTarget | None = None
    """A customer's ETA request."""

    location: LatencyTarget | None = None
    """A driver's location update."""

    batch_plan: LatencyTarget | None = None
    """A merchant's batch route plan."""

    advice: LatencyTarget | None = None
    """An advisor call, cached or not."""


class Targets(Section):
    """The service-level targets the report and the gate judge against.

    Every target is optional; one left out is not judged.
    """

    endpoints: EndpointTargets = EndpointTargets()
    """Latency percentiles per endpoint (seconds)."""

    throughput_min: Positive | None = None
    """Least mean throughput over the run (requests per simulated
    second)."""

    cache_hit_ratio_min: Share | None = None
    """Least hit ratio of every cache layer that had a look-up."""

    on_time_ratio_min: Share | None = None
    """Least share of delivered orders delivered within their SLA."""

    error_rate_max: Share | None = None
    """Greatest share of requests that end in an error."""

    advisor_fallback_share_max: Share | None = None
    """Greatest share of advisor calls answered by the heuristic
    fallback (timeout, error, rejected answer or open breaker)."""
