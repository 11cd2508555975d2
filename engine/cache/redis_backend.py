"""A cache backend in Redis, shared by every process of a service.

Keys are namespaced by layer and schema version,
``barq:{schema_version}:{layer}:{key}``, so that layers never collide,
and a change of the cached values' layout (a new schema version) never
reads old entries. Redis keeps the time to live (``SET ... PX``).
"""

from __future__ import annotations

import logging
import math
import re
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from engine.cache.base import CacheUnavailableError
from engine.cache.memory import check_ttl
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator, Sequence

logger = logging.getLogger(__name__)

T = TypeVar("T")

SCAN_BATCH = 500
"""Keys asked for per SCAN step, and deleted per UNLINK."""


def redis_namespace(layer: str, schema_version: int) -> str:
    """The key prefix of one layer: ``barq:{schema_version}:{layer}``."""
    return f"barq:{schema_version}:{layer}"


def connect(
    url: str, connect_timeout: float = 0.2, timeout: float = 0.5
) -> redis.Redis:
    """A client for ``url`` that gives up quickly.

    A cache must not hold a request up: a call to an unreachable server
    fails within ``connect_timeout`` seconds (``timeout`` once
    connected), and is retried once at once, which reconnects a pooled
    connection that a restart of the server has closed. No connection
    is made before the first command.
    """
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
    )


class RedisBackend:
    """Values in Redis under ``{namespace}:{key}``.

    Any :class:`redis.exceptions.RedisError` (the server is down,
    a timeout, a full server refusing writes) is raised as
    :class:`~engine.cache.base.CacheUnavailableError`, which a layer
    answers by serving from its fallback.

    Parameters
    ----------
    client
        A client that returns bytes (``decode_responses`` off).
    namespace
        The prefix of every key, normally :func:`redis_namespace`.

    .. note::
       Expiry runs on the Redis server's clock, not on the clock that
       the layer is given: in a simulation, entries in Redis expire in
       wall time. Bounds in entries and bytes are Redis's own
       (``maxmemory`` and its policy), and Redis does not say what it
       expires or evicts, so this backend reports no evictions.

    .. warning::
       :attr:`entries` and :attr:`bytes` walk the database's keys with
       SCAN, and ask STRLEN for those of this namespace: exact, but
       linear in the size of the whole database. Read them for a
       report, not on every request.
    """

    def __init__(self, client: redis.Redis, namespace: str) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise InvalidRequestError(
                "namespace", namespace, "must be a non-empty string"
            )
        if client.get_connection_kwargs().get("decode_responses"):
            raise InvalidRequestError(
                "client.decode_responses",
                True,
                "must be off: cached values are bytes",
            )
        self.client = client
        self.namespace = namespace
        self._pattern = _glob_escape(namespace) + ":*"

    def __repr__(self) -> str:
        return f"RedisBackend(namespace={self.namespace!r})"

    def key(self, key: str) -> str:
        """The Redis key that holds ``key``."""
        return f"{self.namespace}:{key}"

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None."""
        value: Any = self._call(lambda: self.client.get(self.key(key)))
        return None if value is None else bytes(value)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, rounded up
        to whole milliseconds."""
        milliseconds = _milliseconds(ttl)
        self._call(
            lambda: self.client.set(self.key(key), value, px=milliseconds)
        )

    def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float) -> None:
        """:meth:`set` of each item, in one pipeline: one round trip."""
        milliseconds = _milliseconds(ttl)

        def send() -> None:
            pipe = self.client.pipeline(transaction=False)
            for key, value in items:
                pipe.set(self.key(key), value, px=milliseconds)
            pipe.execute()

        self._call(send)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        self._call(lambda: self.client.unlink(self.key(key)))

    def flush(self) -> None:
        """Remove every key of this namespace (SCAN, then UNLINK in
        batches); other keys of the database are left alone."""

        def unlink_all() -> int:
            removed = 0
            batch: list[bytes] = []
            for key in self._scan():
                batch.append(key)
                if len(batch) == SCAN_BATCH:
                    removed += self._unlink(batch)
                    batch = []
            if batch:
                removed += self._unlink(batch)
            return removed

        removed = self._call(unlink_all)
        logger.info("flushed %d keys of %s", removed, self.namespace)

    @property
    def entries(self) -> int:
        """Number of keys in this namespace (see the class warning)."""
        return self._call(lambda: sum(1 for _ in self._scan()))

    @property
    def bytes(self) -> int:
        """Total length of the values in this namespace (see the class
        warning); a key that expires during the walk counts zero."""

        def total() -> int:
            keys = list(self._scan())
            size = 0
            for start in range(0, len(keys), SCAN_BATCH):
                pipe = self.client.pipeline(transaction=False)
                for key in keys[start : start + SCAN_BATCH]:
                    pipe.strlen(key)
                size += sum(int(n) for n in pipe.execute())
            return size

        return self._call(total)

    def _scan(self) -> Iterator[builtins.bytes]:
        keys: Iterator[builtins.bytes] = self.client.scan_iter(
            match=self._pattern, count=SCAN_BATCH
        )
        return keys

    def _unlink(self, keys: list[builtins.bytes]) -> int:
        removed: Any = self.client.unlink(*keys)
        return int(removed)

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except redis.exceptions.RedisError as error:
            raise CacheUnavailableError(
                f"redis ({self.namespace}): {error}"
            ) from error


def _milliseconds(ttl: float) -> int:
    """``ttl`` checked and in whole milliseconds, rounded up: PX 0 is
    refused by Redis."""
    check_ttl(ttl)
    return max(1, math.ceil(ttl * 1000))


def _glob_escape(text: str) -> str:
    """``text`` as a Redis glob pattern that matches only itself."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
