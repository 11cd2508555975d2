"""The Redis backend, against the real local Redis and fakeredis alike:
key layout, TTL in Redis, flush of one namespace only, sizes, errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import redis

from engine.cache import (
    CacheUnavailableError,
    RedisBackend,
    connect,
    redis_namespace,
)
from engine.errors import InvalidRequestError
from simulator.load.serving import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def backend(
    redis_client: redis.Redis, namespace: str
) -> Iterator[RedisBackend]:
    """A backend in a namespace of its own, emptied after the test."""
    backend = RedisBackend(redis_client, namespace)
    yield backend
    backend.flush()


def test_namespace_names_schema_version_and_layer() -> None:
    """Keys of a layer live under barq:{schema_version}:{layer}."""
    backend = RedisBackend(redis.Redis(), redis_namespace("routes", 3))
    assert backend.key("abc") == "barq:3:routes:abc"


def test_value_round_trips_under_its_namespaced_key(
    backend: RedisBackend, redis_client: redis.Redis, namespace: str
) -> None:
    """A stored value reads back byte for byte, and sits in Redis under
    {namespace}:{key}."""
    value = "plän €".encode() + bytes(range(256))
    backend.set("k1", value, ttl=60.0)
    assert backend.get("k1") == value
    assert redis_client.get(f"{namespace}:k1") == value
    assert backend.get("absent") is None


def test_redis_keeps_the_ttl_in_milliseconds(
    backend: RedisBackend, redis_client: redis.Redis, namespace: str
) -> None:
    """The TTL is set in Redis (SET ... PX), rounded up to a whole
    millisecond."""
    backend.set("long", b"x", ttl=30.0)
    backend.set("tiny", b"y", ttl=0.0001)
    assert 29_000 < redis_client.pttl(f"{namespace}:long") <= 30_000

    # Rounded down, the tiny TTL would be PX 0, which Redis refuses; up,
    # it is one millisecond: gone already (-2) or about to go, never
    # kept without expiry (-1).
    assert redis_client.pttl(f"{namespace}:tiny") in (-2, 0, 1)


def test_delete_removes_one_key(backend: RedisBackend) -> None:
    """Delete removes its key and no other; deleting an absent key is
    no error."""
    backend.set("a", b"1", ttl=60.0)
    backend.set("b", b"2", ttl=60.0)
    backend.delete("a")
    backend.delete("absent")
    assert (backend.get("a"), backend.get("b")) == (None, b"2")


def test_sizes_count_this_namespace(
    backend: RedisBackend, redis_client: redis.Redis, namespace: str
) -> None:
    """Entries and bytes count the keys and value lengths of this
    namespace, not those of a namespace that extends its name."""
    backend.set("a", b"123", ttl=60.0)
    backend.set("b", b"4567", ttl=60.0)
    redis_client.set(f"{namespace}x:c", b"0" * 100, px=60_000)
    try:
        assert (backend.entries, backend.bytes) == (2, 7)
    finally:
        redis_client.delete(f"{namespace}x:c")


def test_flush_leaves_other_namespaces_alone(
    redis_client: redis.Redis, namespace: str
) -> None:
    """Flush removes every key of its namespace (more than one SCAN
    batch of them) and nothing else: not a namespace that extends its
    name, nor one that its glob characters would match."""
    tricky = RedisBackend(redis_client, f"{namespace}:*[a]?")
    other = RedisBackend(redis_client, f"{namespace}:xay")
    longer = RedisBackend(redis_client, f"{namespace}:*[a]?2")
    try:
        pipe = redis_client.pipeline()
        for k in range(1234):
            pipe.set(tricky.key(str(k)), b"v", px=60_000)
        pipe.execute()
        other.set("keep", b"1", ttl=60.0)
        longer.set("keep", b"2", ttl=60.0)

        tricky.flush()
        assert tricky.entries == 0
        assert other.get("keep") == b"1"
        assert longer.get("keep") == b"2"
    finally:
        for backend in (tricky, other, longer):
            backend.flush()


def test_client_that_decodes_responses_is_refused() -> None:
    """Values are bytes, so a client with decode_responses is refused."""
    client = redis.Redis(decode_responses=True)
    with pytest.raises(InvalidRequestError) as caught:
        RedisBackend(client, "ns")
    assert caught.value.field == "client.decode_responses"
    client.close()


def test_empty_namespace_is_refused() -> None:
    """A namespace must be a non-empty string."""
    with pytest.raises(InvalidRequestError):
        RedisBackend(redis.Redis(), "")


@pytest.mark.timeout(30)
def test_unreachable_server_raises_cache_unavailable() -> None:
    """Every call to a server that is not there raises
    CacheUnavailableError, chained to the Redis error."""
    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    backend = RedisBackend(client, "ns")
    calls = [
        lambda: backend.get("a"),
        lambda: backend.set("a", b"1", ttl=1.0),
        lambda: backend.delete("a"),
        backend.flush,
        lambda: backend.entries,
        lambda: backend.bytes,
    ]
    for call in calls:
        with pytest.raises(CacheUnavailableError) as caught:
            call()
        assert isinstance(caught.value.__cause__, redis.exceptions.RedisError)
    client.close()


def test_set_many_stores_every_item_with_its_ttl(
    backend: RedisBackend, redis_client: redis.Redis, namespace: str
) -> None:
    """Items stored together (one pipeline) read back each, with the
    TTL set in Redis."""
    items = [(f"k{n}", bytes([n]) * (n + 1)) for n in range(5)]
    backend.set_many(items, ttl=30.0)
    assert [backend.get(key) for key, _ in items] == [v for _, v in items]
    assert 29_000 < redis_client.pttl(f"{namespace}:k4") <= 30_000
