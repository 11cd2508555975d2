"""Everything a running API holds, built from URLs and closed in order.

::

    Backends(cache, storage, advisor)  where the real parts are
    Runtime.build(config, backends)    service, solve pool, jobs, storage
                                       writer, metrics on one registry
    Runtime.start()                    warm the solve workers up
    Runtime.readiness()                why the service is not ready, if so
    Runtime.close()                    pool, writer, storage, Redis
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import redis

from engine.advisor import (
    Advisor,
    ChatCompletionsBackend,
    ModelConfig,
    ModelledBackend,
)
from engine.api.jobs import JobRegistry
from engine.api.pool import SolverPool
from engine.cache import CacheConfig, Caches, connect
from engine.errors import InvalidRequestError
from engine.metrics import (
    AdvisorMetrics,
    CacheMetrics,
    CollectorRegistry,
    RequestMetrics,
    SolverMetrics,
    StorageMetrics,
)
from engine.service import Service, ServiceConfig
from engine.storage import (
    BatchWriter,
    StorageConfig,
    StorageError,
    open_storage,
)

if TYPE_CHECKING:
    from engine.advisor import AdvisorBackend, BreakerState, Outcome
    from engine.advisor.advisor import Kind
    from engine.api.config import ApiConfig
    from engine.storage import Storage

log = logging.getLogger(__name__)

MODELLED = "modelled"
"""The advisor URL that stands for the modelled provider."""

MEMORY = "memory"
"""The cache URL that stands for in-process caches."""

DEFAULT_ADVISOR_MODEL = "barq-standin"
"""The model asked when ``BARQ_ADVISOR_MODEL`` is not set."""

CLOSE_TIMEOUT_S = 10.0
"""Seconds the storage writer gets to write what it holds at shutdown."""


class EpochClock:
    """Unix seconds that never go back: the wall clock read once, then
    moved on by the monotonic clock, so that times in answers and in
    storage read as dates and intervals stay exact."""

    def __init__(self) -> None:
        self._origin = time.time() - time.monotonic()

    def now(self) -> float:
        """Seconds since the Unix epoch."""
        return self._origin + time.monotonic()


@dataclass(frozen=True, slots=True)
class Backends:
    """Where the real parts of the service are.

    ``cache`` is ``memory`` or a Redis URL (``redis://host:6379/0``);
    ``storage`` is None (nothing stored), a SQLite file or URL, or a
    PostgreSQL URL; ``advisor`` is ``modelled`` (answers and latency
    drawn from the default model, without waiting for the latency) or
    the base URL of an OpenAI-compatible API, asked for the model
    ``BARQ_ADVISOR_MODEL`` (default ``barq-standin``) with the key
    ``BARQ_ADVISOR_KEY`` or ``OPENAI_API_KEY`` when set.
    """

    cache: str = MEMORY
    storage: str | None = None
    advisor: str = MODELLED

    def cache_config(self) -> CacheConfig:
        """The caches' configuration."""
        if self.cache == MEMORY:
            return CacheConfig()
        try:
            return CacheConfig(backend="redis", redis_url=self.cache)
        except InvalidRequestError as error:
            raise InvalidRequestError(
                "cache", self.cache, f"must be {MEMORY} or a Redis URL"
            ) from error

    def storage_config(self) -> StorageConfig | None:
        """The storage's configuration, or None without storage."""
        if self.storage is None:
            return None
        try:
            return StorageConfig(url=self.storage)
        except InvalidRequestError as error:
            raise InvalidRequestError(
                "storage", self.storage, error.rule
            ) from error

    def advisor_backend(self, clock: EpochClock) -> AdvisorBackend:
        """The advisor's backend."""
        if self.advisor == MODELLED:
            return ModelledBackend(
                ModelConfig(), clock, np.random.default_rng(0)
            )
        environ = os.environ
        try:
            return ChatCompletionsBackend(
                self.advisor,
                environ.get("BARQ_ADVISOR_MODEL", DEFAULT_ADVISOR_MODEL),
                environ.get("BARQ_ADVISOR_KEY")
                or environ.get("OPENAI_API_KEY"),
            )
        except InvalidRequestError as error:
            raise InvalidRequestError(
                "advisor",
                self.advisor,
                f"must be {MODELLED} or an http:// or https:// URL",
            ) from error


class _AdvisorRecorder:
    """The advisor's hooks: metrics, and a record of each call in
    storage when there is a writer."""

    def __init__(
        self,
        metrics: AdvisorMetrics,
        writer: BatchWriter | None,
        clock: EpochClock,
    ) -> None:
        self._metrics = metrics
        self._writer = writer
        self._clock = clock

    def on_advice(
        self, kind: Kind, outcome: Outcome, latency_s: float
    ) -> None:
        self._metrics.on_advice(kind, outcome, latency_s)
        if self._writer is None:
            return
        try:
            self._writer.save_advice(
                kind, outcome.value, latency_s, self._clock.now()
            )
        except StorageError as error:
            # Hooks must not raise: the advice is served all the same,
            # and the writer counts what it refused.
            log.warning("advisor call not stored: %s", error)

    def on_breaker(self, state: BreakerState) -> None:
        self._metrics.on_breaker(state)


class Runtime:
    """The service and what serves it; build with :meth:`build`.

    Attributes are public so that the application can reach them:
    ``service``, ``pool``, ``jobs``, ``requests`` (the request metrics),
    ``cache_metrics``, ``registry`` (every collector), ``writer`` and
    ``storage`` (None without storage).
    """

    def __init__(
        self,
        config: ApiConfig,
        service: Service,
        pool: SolverPool,
        jobs: JobRegistry,
        registry: CollectorRegistry,
        requests: RequestMetrics,
        cache_metrics: CacheMetrics,
        redis_client: redis.Redis | None = None,
        storage: Storage | None = None,
        writer: BatchWriter | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.pool = pool
        self.jobs = jobs
        self.registry = registry
        self.requests = requests
        self.cache_metrics = cache_metrics
        self.redis = redis_client
        self.storage = storage
        self.writer = writer

    @classmethod
    def build(
        cls,
        config: ApiConfig,
        backends: Backends,
        registry: CollectorRegistry | None = None,
    ) -> Runtime:
        """Connect to storage (which must answer), make the caches, the
        advisor, the solve pool and the service. Nothing connects to
        Redis before the first look-up, so a service starts while Redis
        is down, and says so in :meth:`readiness`.

        Raises
        ------
        InvalidRequestError
            When a URL is not one the service knows.
        StorageUnavailableError
            When the storage cannot be reached.
        """
        registry = registry if registry is not None else CollectorRegistry()
        clock = EpochClock()
        requests = RequestMetrics(registry)
        requests.set_workers(0, config.workers)
        cache_config = backends.cache_config()
        storage_config = backends.storage_config()
        advisor_backend = backends.advisor_backend(clock)

        storage: Storage | None = None
        writer: BatchWriter | None = None
        if storage_config is not None:
            hooks = StorageMetrics(registry)
            storage = open_storage(storage_config, hooks)
            writer = BatchWriter(storage, storage_config, hooks)

        client = None
        if cache_config.backend == "redis":
            client = connect(cache_config.redis_url)
        cache_metrics = CacheMetrics(registry)
        caches = Caches.build(
            cache_config, clock, cache_metrics, redis_client=client
        )
        advisor = Advisor(
            advisor_backend,
            clock,
            cache=caches.advice,
            hooks=_AdvisorRecorder(AdvisorMetrics(registry), writer, clock),
        )
        pool = SolverPool(
            config.workers,
            config.max_waiting,
            config.retry_after_s,
            on_workers=requests.set_workers,
        )
        service = Service.build(
            ServiceConfig(cache=cache_config),
            clock,
            advisor=advisor,
            store=writer,
            caches=caches,
            hooks=SolverMetrics(registry),
            solver=pool,
        )
        jobs = JobRegistry(
            clock,
            config.max_jobs,
            config.job_ttl_s,
            config.max_finished_jobs,
            sink=writer,
            source=storage,
            retry_after_s=config.retry_after_s,
        )
        return cls(
            config,
            service,
            pool,
            jobs,
            registry,
            requests,
            cache_metrics,
            client,
            storage,
            writer,
        )

    def start(self) -> None:
        """Start and warm up the solve workers (blocks for seconds)."""
        self.pool.warm_up()

    def observe(self) -> None:
        """Set the metrics that are states, not events, before a
        scrape: the size of each cache layer.

        .. note::
           Layers in Redis are not sized: that walks the whole database
           (:class:`~engine.cache.RedisBackend`), too much for every
           scrape. Redis reports its own memory.
        """
        if self.redis is not None:
            return
        for name, stats in self.service.caches.stats().items():
            self.cache_metrics.set_size(name, stats.entries, stats.bytes)

    def readiness(self) -> list[str]:
        """Why the service is not ready: one reason per part that does
        not answer; empty when storage, cache and workers all do."""
        reasons = []
        if not self.pool.running:
            reasons.append("solver: the worker pool is closed")
        if self.redis is not None:
            try:
                self.redis.ping()
            except redis.exceptions.RedisError as error:
                reasons.append(f"cache: redis does not answer: {error}")
        if self.storage is not None:
            try:
                self.storage.ping()
            except StorageError as error:
                reasons.append(f"storage: {error}")
        return reasons

    def close(self) -> None:
        """Stop the solve workers, write what the writer holds, and close
        storage and Redis."""
        self.pool.close()
        if self.writer is not None:
            try:
                self.writer.close(CLOSE_TIMEOUT_S)
            except StorageError as error:
                log.error("storage writer: %s", error)
        if self.storage is not None:
            self.storage.close()
        if self.redis is not None:
            self.redis.close()
