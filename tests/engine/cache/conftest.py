"""Fixtures of the cache tests: recording hooks, Redis clients."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import fakeredis
import pytest
import redis

if TYPE_CHECKING:
    from collections.abc import Iterator

    from engine.cache import EvictionReason, Lookup

REDIS_HOST = "127.0.0.1"
REDIS_PORT = 6379


class RecordingHooks:
    """Hooks that keep every call, in order, as a tuple."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_lookup(self, layer: str, result: Lookup, size: int) -> None:
        self.events.append(("lookup", layer, result, size))

    def on_set(self, layer: str, size: int) -> None:
        self.events.append(("set", layer, size))

    def on_eviction(
        self, layer: str, reason: EvictionReason, size: int
    ) -> None:
        self.events.append(("eviction", layer, reason, size))

    def on_error(
        self, layer: str, operation: str, error: BaseException
    ) -> None:
        self.events.append(("error", layer, operation, type(error).__name__))

    def on_degraded(self, layer: str, degraded: bool) -> None:
        self.events.append(("degraded", layer, degraded))

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        """The events of one kind."""
        return [event for event in self.events if event[0] == kind]


@pytest.fixture
def hooks() -> RecordingHooks:
    """A fresh recorder of hook calls."""
    return RecordingHooks()


def real_redis() -> redis.Redis:
    """A client of the Redis on the standard local port; skips the test
    when none answers."""
    client = redis.Redis(
        host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=0.5
    )
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        client.close()
        pytest.skip(f"no Redis on {REDIS_HOST}:{REDIS_PORT}: {error}")
    return client


@pytest.fixture(params=["real", "fake"])
def redis_client(request: pytest.FixtureRequest) -> Iterator[redis.Redis]:
    """The real local Redis, then fakeredis: the same suite runs on
    both."""
    real = request.param == "real"
    client = (
        real_redis()
        if real
        else fakeredis.FakeRedis(server=fakeredis.FakeServer())
    )
    yield client
    client.close()


@pytest.fixture
def namespace() -> str:
    """A namespace of keys that no other test uses."""
    return f"barq-test:{uuid.uuid4().hex}"
