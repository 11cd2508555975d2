"""The four layers built from a configuration, in memory and in Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING

import fakeredis

import engine.cache
from engine.cache import (
    LAYERS,
    CacheConfig,
    Caches,
    EvictionReason,
    LayerConfig,
    Lookup,
    MemoryBackend,
    RedisBackend,
)
from engine.clock import ManualClock

if TYPE_CHECKING:
    from tests.engine.cache.conftest import RecordingHooks


def test_package_exports_what_it_lists() -> None:
    """Every name in engine.cache.__all__ exists, and the names the
    service codes against are there."""
    for name in engine.cache.__all__:
        assert hasattr(engine.cache, name), name
    assert {
        "Caches",
        "CacheConfig",
        "CacheLayer",
        "Lookup",
        "canonical",
        "fingerprint",
        "json_codec",
    } <= set(engine.cache.__all__)


def test_memory_layers_follow_their_configuration(
    hooks: RecordingHooks,
) -> None:
    """Each layer gets a memory backend with its own TTL and bounds; an
    eviction in one reaches the hooks and that layer's statistics."""
    config = CacheConfig(routes=LayerConfig(10.0, 2, 1000))
    caches = Caches.build(config, ManualClock(), hooks)

    assert [layer.name for layer in caches.layers()] == list(LAYERS)
    for layer in caches.layers():
        policy = config.layer(layer.name)
        assert isinstance(layer.backend, MemoryBackend)
        assert layer.fallback is None
        assert layer.ttl == policy.ttl
        assert layer.backend.max_entries == policy.max_entries
        assert layer.backend.max_bytes == policy.max_bytes

    for key in ("a", "b", "c"):
        caches.routes.put(key, key)
    assert hooks.of("eviction") == [
        ("eviction", "routes", EvictionReason.ENTRIES, 3)
    ]
    assert caches.stats()["routes"].evictions == 1
    assert caches.stats()["matrices"].evictions == 0


def test_layers_keep_their_values_apart() -> None:
    """The same key in two layers holds two values."""
    caches = Caches.build(CacheConfig(), ManualClock())
    caches.routes.put("k", "plan")
    caches.advice.put("k", "advice")
    assert caches.routes.get("k") == "plan"
    assert caches.advice.get("k") == "advice"


def test_redis_layers_have_namespaces_and_memory_fallbacks() -> None:
    """With Redis each layer stores under barq:{schema}:{layer} and has
    a memory fallback with the layer's bounds; flush empties them all
    and close leaves a client it was given open."""
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    config = CacheConfig(backend="redis", schema_version=4)
    caches = Caches.build(config, ManualClock(), redis_client=client)

    for layer in caches.layers():
        assert isinstance(layer.backend, RedisBackend)
        assert layer.backend.namespace == f"barq:4:{layer.name}"
        assert isinstance(layer.fallback, MemoryBackend)
        assert layer.fallback.max_bytes == config.layer(layer.name).max_bytes
        assert layer.retry_after == config.retry_after

    assert caches.routes.get_or_compute("fp", lambda: {"cost": 1}) == (
        {"cost": 1},
        Lookup.MISS,
    )
    assert client.get("barq:4:routes:fp") == b'{"cost":1}'
    assert 0 < client.pttl("barq:4:routes:fp") <= 300_000

    caches.flush()
    assert client.dbsize() == 0
    caches.close()
    assert client.ping()
    client.close()


def test_redis_layers_make_their_own_client() -> None:
    """Without a client given, build makes one for the configured URL
    with short timeouts, and close closes it."""
    config = CacheConfig(backend="redis", redis_url="redis://127.0.0.1:1/3")
    caches = Caches.build(config, ManualClock())
    backend = caches.routes.backend
    assert isinstance(backend, RedisBackend)
    settings = backend.client.get_connection_kwargs()
    assert settings["socket_connect_timeout"] == 0.2
    assert settings["socket_timeout"] == 0.5
    assert (settings["port"], settings["db"]) == (1, 3)
    caches.close()
