"""The engine's four cache layers, built from one configuration."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from engine.cache.config import LAYERS
from engine.cache.encoding import json_codec
from engine.cache.layer import CacheLayer
from engine.cache.memory import MemoryBackend
from engine.cache.redis_backend import RedisBackend, connect, redis_namespace

if TYPE_CHECKING:
    import redis

    from engine.cache.base import (
        CacheBackend,
        CacheHooks,
        EvictionReason,
        LayerStats,
    )
    from engine.cache.config import CacheConfig
    from engine.clock import Clock

logger = logging.getLogger(__name__)


class Caches:
    """Route plans, travel-time matrices, advisor answers, reference data.

    Each layer stores JSON data (:func:`~engine.cache.json_codec`) under
    its own policy. Build them with :meth:`build`.

    Parameters
    ----------
    routes
        Plans by request fingerprint, as :meth:`Plan.to_dict` gives them.
    matrices
        Travel-time matrices.
    advice
        Answers of the fleet advisor.
    reference
        Slowly changing data: delivery estimates, driver locations.
    client
        A Redis client that these caches own and :meth:`close` closes.
    """

    __slots__ = ("_client", "advice", "matrices", "reference", "routes")

    def __init__(
        self,
        routes: CacheLayer[Any],
        matrices: CacheLayer[Any],
        advice: CacheLayer[Any],
        reference: CacheLayer[Any],
        *,
        client: redis.Redis | None = None,
    ) -> None:
        self.routes = routes
        self.matrices = matrices
        self.advice = advice
        self.reference = reference
        self._client = client

    @classmethod
    def build(
        cls,
        config: CacheConfig,
        clock: Clock,
        hooks: CacheHooks | None = None,
        redis_client: redis.Redis | None = None,
    ) -> Caches:
        """The layers that ``config`` describes.

        With the memory backend each layer gets a
        :class:`~engine.cache.memory.MemoryBackend` bounded as
        configured. With Redis each layer gets a
        :class:`~engine.cache.redis_backend.RedisBackend` in its own
        namespace, and a memory backend with the same bounds as its
        fallback. ``redis_client`` is used if given (and left open by
        :meth:`close`); otherwise a client for ``config.redis_url`` with
        short timeouts is made (:func:`~engine.cache.redis_backend.connect`).
        Nothing connects to Redis before the first look-up, so a service
        starts while Redis is down, degraded from its first request.
        """
        client: redis.Redis | None = None
        owned: redis.Redis | None = None
        if config.backend == "redis":
            client = redis_client
            if client is None:
                client = owned = connect(config.redis_url)

        layers = {
            name: _layer(name, config, clock, hooks, client) for name in LAYERS
        }
        logger.info(
            "caches: %s backend, layers %s",
            config.backend,
            ", ".join(LAYERS),
        )
        return cls(**layers, client=owned)

    def layers(self) -> tuple[CacheLayer[Any], ...]:
        """The layers: routes, matrices, advice, reference."""
        return (self.routes, self.matrices, self.advice, self.reference)

    def flush(self) -> None:
        """Empty every layer."""
        for layer in self.layers():
            layer.flush()

    def stats(self) -> dict[str, LayerStats]:
        """Statistics of every layer, by name."""
        return {layer.name: layer.stats() for layer in self.layers()}

    def close(self) -> None:
        """Close the Redis client that :meth:`build` made, if any."""
        if self._client is not None:
            self._client.close()


def _layer(
    name: str,
    config: CacheConfig,
    clock: Clock,
    hooks: CacheHooks | None,
    client: redis.Redis | None,
) -> CacheLayer[Any]:
    """One layer, its memory backend reporting evictions to it."""
    policy = config.layer(name)
    encode, decode = json_codec()
    layer: CacheLayer[Any] | None = None

    def evicted(reason: EvictionReason, size: int) -> None:
        if layer is not None:
            layer.record_eviction(reason, size)

    memory = MemoryBackend(
        clock, policy.max_entries, policy.max_bytes, on_evict=evicted
    )
    backend: CacheBackend = memory
    fallback: CacheBackend | None = None
    if client is not None:
        namespace = redis_namespace(name, config.schema_version)
        backend, fallback = RedisBackend(client, namespace), memory

    layer = CacheLayer(
        name,
        backend,
        policy.ttl,
        clock,
        encode,
        decode,
        hooks=hooks,
        fallback=fallback,
        retry_after=config.retry_after,
    )
    return layer
