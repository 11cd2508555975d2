"""The engine's caches: route plans, travel-time matrices, advisor
answers and reference data, in memory or in Redis.

::

    Caches.build(config, clock)        four CacheLayers from a CacheConfig
    CacheLayer                         typed values, hooks, single-flight,
                                       degradation to a memory fallback
    CacheBackend                       bytes under keys with a TTL:
        MemoryBackend                  TTL + LRU + bounds in entries, bytes
        RedisBackend                   namespaced keys, TTL kept by Redis
    canonical, fingerprint             the cache key of a request
"""

from engine.cache.base import (
    CacheBackend,
    CacheHooks,
    CacheUnavailableError,
    EvictionReason,
    LayerStats,
    Lookup,
    NullHooks,
)
from engine.cache.caches import Caches
from engine.cache.config import LAYERS, CacheConfig, LayerConfig
from engine.cache.encoding import decode_json, encode_json, json_codec
from engine.cache.fingerprint import (
    canonical,
    fingerprint,
)
from engine.cache.layer import CacheLayer
from engine.cache.memory import MemoryBackend
from engine.cache.redis_backend import RedisBackend, connect, redis_namespace

__all__ = [
    "LAYERS",
    "CacheBackend",
    "CacheConfig",
    "CacheHooks",
    "CacheLayer",
    "CacheUnavailableError",
    "Caches",
    "EvictionReason",
    "LayerConfig",
    "LayerStats",
    "Lookup",
    "MemoryBackend",
    "NullHooks",
    "RedisBackend",
    "canonical",
    "connect",
    "decode_json",
    "encode_json",
    "fingerprint",
    "json_codec",
    "redis_namespace",
]
