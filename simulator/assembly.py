"""The engine a scenario describes, put together on a simulation's clock.

The simulator uses the engine's public parts only: :class:`Caches` built
from the scenario's cache mapping, the :class:`Advisor` with a modelled
backend whose outage and slowness windows are the scenario's LLM faults,
and :class:`Service` over both. The recorder is the hooks of all three.

With ``engine.storage`` other than ``none``, the service stores its
plans and driver locations through a
:class:`~simulator.storage.SimulatedWriter`, the batching writer on the
simulation's clock, over the scenario's database (by default
``barq.sqlite`` in the run directory), slowed inside ``storage_slow``
windows; :func:`close_store` writes what is left at the end of the run.

Redis loss is simulated, not staged: inside a ``redis_down`` window each
layer's shared backend answers as an unreachable server would (with
:class:`~engine.cache.CacheUnavailableError`), so the layers degrade to
their memory fallback and recover afterwards, through the engine's own
code. A layer without a shared backend gets a memory one standing in for
it, so the degradation shows in memory-only scenarios too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.advisor import (
    Advisor,
    AdvisorConfig,
    BreakerConfig,
    ChatCompletionsBackend,
    FaultWindow,
    LatencyModel,
    ModelConfig,
    ModelledBackend,
)
from engine.cache import (
    CacheConfig,
    Caches,
    CacheUnavailableError,
    MemoryBackend,
)
from engine.errors import InvalidRequestError
from engine.service import Service, ServiceConfig
from engine.storage import (
    StorageConfig,
    StorageError,
    WriterStats,
    open_storage,
)
from simulator.errors import ScenarioError
from simulator.storage import SimulatedWriter

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    import numpy as np

    from engine.advisor import AdvisorBackend
    from engine.cache import CacheBackend, CacheLayer
    from engine.clock import Clock
    from simulator.recorder import Recorder
    from simulator.scenario import Scenario
    from simulator.scenario.service import AdvisorSettings, Fault
    from simulator.world import SimClock

SQLITE_FILE = "barq.sqlite"
"""The SQLite file of a run with ``backend: sqlite`` and no URL, in the
run directory."""

LLM_FAULTS = {"llm_outage": "outage", "llm_slow": "slow"}
"""Scenario fault kinds that are windows of the modelled provider."""


def cache_config(scenario: Scenario) -> CacheConfig:
    """The scenario's cache mapping, validated by the engine."""
    try:
        return CacheConfig.from_dict(scenario.engine.cache)
    except InvalidRequestError as error:
        raise ScenarioError(
            _source(scenario),
            f"engine.cache.{error.field}".rstrip("."),
            error.value,
            error.rule,
        ) from error


def advisor_config(settings: AdvisorSettings) -> AdvisorConfig:
    """The advisor's timeout, batching, cache key and breaker."""
    breaker = settings.breaker
    return AdvisorConfig(
        timeout_s=settings.timeout_s,
        batch_size=settings.batch_size,
        cache_precision=settings.cache_precision,
        urgency_bucket_s=settings.urgency_bucket_s,
        breaker=BreakerConfig(
            failure_ratio=breaker.failure_ratio,
            window_s=breaker.window_s,
            min_calls=breaker.min_calls,
            cool_down_s=breaker.cool_down_s,
            half_open_calls=breaker.half_open_calls,
        ),
    )


def model_config(
    settings: AdvisorSettings, faults: Sequence[Fault]
) -> ModelConfig:
    """The modelled provider, with the scenario's LLM fault windows."""
    latency = settings.latency
    windows = tuple(
        FaultWindow(
            start=fault.start_s,
            end=fault.end_s,
            kind=LLM_FAULTS[fault.kind],  # type: ignore[arg-type]
            factor=fault.factor or 1.0,
        )
        for fault in faults
        if fault.kind in LLM_FAULTS
    )
    return ModelConfig(
        latency=LatencyModel(
            kind=latency.kind,
            median_s=latency.median_s,
            sigma=latency.sigma,
            low_s=latency.low_s or 0.0,
            high_s=latency.high_s or 0.0,
        ),
        error_rate=settings.error_rate,
        worse_rate=settings.worse_rate,
        malformed_rate=settings.malformed_rate,
        windows=windows,
    )


def open_store(
    scenario: Scenario, clock: SimClock, run_dir: Path | None
) -> SimulatedWriter | None:
    """A batching writer on the simulation's clock over the scenario's
    storage, migrated, its process started; or None for ``backend:
    none``.

    Raises
    ------
    ScenarioError
        When the database cannot be opened, or a SQLite file without a
        URL has no run directory to go in.
    """
    settings = scenario.engine.storage
    if settings.backend == "none":
        return None
    url = settings.url
    if url is None:
        if run_dir is None:
            raise ScenarioError(
                _source(scenario),
                "engine.storage.url",
                None,
                "is required where the run has no run directory",
            )
        url = str(run_dir / SQLITE_FILE)
    try:
        config = StorageConfig(
            url=url,
            batch_size=settings.batch_size,
            batch_age_s=settings.batch_age_s,
            buffer_limit=settings.buffer_limit,
        )
        if config.backend != settings.backend:
            raise InvalidRequestError(
                "url", url, f"must name a {settings.backend} database"
            )
        storage = open_storage(config)
    except (InvalidRequestError, StorageError) as error:
        raise ScenarioError(
            _source(scenario), "engine.storage.url", url, str(error)
        ) from error
    slow = [
        (fault.start_s, fault.end_s, fault.factor or 1.0)
        for fault in scenario.faults
        if fault.kind == "storage_slow"
    ]
    writer = SimulatedWriter(clock.env, storage, config, slow)
    clock.env.process(writer.run())
    return writer


def close_store(service: Service) -> WriterStats | None:
    """Write what the service's store holds, close it and its database;
    the writer's counts, or None without storage.

    Raises
    ------
    StorageError
        When a batch could not be written: the database is unreachable.
    """
    writer = service.store
    if not isinstance(writer, SimulatedWriter):
        return None
    try:
        writer.close()
    finally:
        writer.storage.close()
    return writer.stats()


def build_service(
    scenario: Scenario,
    clock: SimClock,
    recorder: Recorder,
    rng: np.random.Generator,
    run_dir: Path | None = None,
) -> Service:
    """The engine service of ``scenario`` on ``clock``; its storage, if
    any, defaults to a SQLite file in ``run_dir``."""
    caches = Caches.build(cache_config(scenario), clock, hooks=recorder)
    outages = [
        (fault.start_s, fault.end_s)
        for fault in scenario.faults
        if fault.kind == "redis_down"
    ]
    if outages:
        for layer in caches.layers():
            _simulate_outages(layer, clock, outages)

    settings = scenario.engine.advisor
    backend: AdvisorBackend
    if settings.backend == "http":
        backend = ChatCompletionsBackend(
            settings.url or "http://127.0.0.1:8090/v1",
            settings.model or "barq-standin",
            None,
        )
    else:
        backend = ModelledBackend(
            model_config(settings, scenario.faults), clock, rng
        )
    config = advisor_config(settings)
    advisor = Advisor(
        backend, clock, config, cache=caches.advice, hooks=recorder
    )
    return Service(
        clock,
        caches,
        advisor,
        store=open_store(scenario, clock, run_dir),
        config=ServiceConfig(cache=cache_config(scenario), advisor=config),
        hooks=recorder,
    )


class _Outage:
    """A shared backend that is unreachable inside given windows."""

    def __init__(
        self,
        backend: CacheBackend,
        clock: Clock,
        windows: Sequence[tuple[float, float]],
    ) -> None:
        self._backend = backend
        self._clock = clock
        self._windows = tuple(windows)

    def _check(self) -> None:
        now = self._clock.now()
        if any(start <= now < end for start, end in self._windows):
            raise CacheUnavailableError("redis_down fault window")

    def get(self, key: str) -> bytes | None:
        self._check()
        return self._backend.get(key)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._check()
        self._backend.set(key, value, ttl)

    def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float) -> None:
        self._check()
        self._backend.set_many(items, ttl)

    def delete(self, key: str) -> None:
        self._check()
        self._backend.delete(key)

    def flush(self) -> None:
        self._check()
        self._backend.flush()

    @property
    def entries(self) -> int:
        return self._backend.entries

    @property
    def bytes(self) -> int:
        return self._backend.bytes


def _simulate_outages(
    layer: CacheLayer[object],
    clock: Clock,
    windows: Sequence[tuple[float, float]],
) -> None:
    if layer.fallback is None:
        # Memory only: a second memory backend stands in for the shared
        # one, so that the layer has something to lose.
        shared = layer.backend
        assert isinstance(shared, MemoryBackend)
        layer.fallback = MemoryBackend(
            clock, shared.max_entries, shared.max_bytes
        )
    layer.backend = _Outage(layer.backend, clock, windows)


def _source(scenario: Scenario) -> str:
    return str(scenario.source) if scenario.source else scenario.name
