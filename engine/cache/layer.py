"""A named cache layer: typed values over a backend, with single-flight
computation and a memory fallback for when the backend is unreachable."""

from __future__ import annotations

import enum
import logging
import math
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from engine.cache.base import (
    CacheUnavailableError,
    EvictionReason,
    LayerStats,
    Lookup,
    NullHooks,
)
from engine.cache.memory import check_ttl
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from engine.cache.base import CacheBackend, CacheHooks
    from engine.clock import Clock

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Skip(enum.Enum):
    """The backend was not asked: it is down and there is no fallback."""

    BYPASSED = "bypassed"


Bypassed = Literal[_Skip.BYPASSED]


@dataclass(frozen=True, slots=True)
class _Found(Generic[T]):
    """A value read from a backend, and the length of its encoding."""

    value: T
    size: int


@dataclass(slots=True)
class _Counts:
    hits: int = 0
    misses: int = 0
    shared: int = 0
    failed_lookups: int = 0
    bypasses: int = 0
    errors: int = 0
    sets: int = 0
    evictions: int = 0
    degraded_events: int = 0


class CacheLayer(Generic[T]):
    """Values of one kind (route plans, matrices...) under one policy.

    Values are encoded to bytes with ``encode`` and stored in
    ``backend`` for ``ttl`` seconds. Every look-up, store, eviction and
    error is counted (:meth:`stats`) and reported to ``hooks``. A cache
    never fails its caller: an error of the backend or of the codec is
    logged, reported, and the call goes on as if the cache were empty.

    Degradation
        When the backend raises
        :class:`~engine.cache.base.CacheUnavailableError` (Redis is
        down), the layer logs one warning, reports the error and
        ``on_degraded(name, True)``, counts a degraded event, and serves
        from ``fallback`` (or from nothing: :attr:`Lookup.BYPASS`) for
        ``retry_after`` seconds on the clock. The first call after that
        tries the backend again, while the others keep to the fallback;
        if it succeeds the layer logs that it recovered, reports
        ``on_degraded(name, False)`` and empties the fallback, so that
        entries written during one outage never outlive it.

    Single-flight
        :meth:`get_or_compute` computes a missing value once however
        many threads ask for it at the same time: the first computes,
        the others wait for its result (:attr:`Lookup.SHARED`). If the
        computation raises, every waiter raises the same exception and
        nothing is cached: an identical request would most likely fail
        the same way, and should not be computed again by each waiter.

    Parameters
    ----------
    name
        The layer's name in hooks, statistics and logs.
    backend
        Where values are stored.
    ttl
        Seconds a stored value lives.
    clock
        The clock of the degraded window.
    encode, decode
        Turn a value into bytes and back, for example
        :func:`~engine.cache.json_codec`.
    hooks
        Told of every event; :class:`~engine.cache.base.NullHooks` by
        default.
    fallback
        Where values go while ``backend`` is unavailable.
    retry_after
        Seconds between attempts to reach an unavailable backend.

    .. note::
       Single-flight works between the threads of one process. Two
       processes sharing Redis may compute the same value once each.
       A computation that asks its own layer for the same key waits for
       itself forever.

    .. note::
       A flush while degraded reaches only the fallback.
    """

    def __init__(
        self,
        name: str,
        backend: CacheBackend,
        ttl: float,
        clock: Clock,
        encode: Callable[[T], bytes],
        decode: Callable[[bytes], T],
        hooks: CacheHooks | None = None,
        fallback: CacheBackend | None = None,
        retry_after: float = 5.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(
                "name", name, "must be a non-empty string"
            )
        check_ttl(ttl, f"{name}.ttl")
        if not (
            isinstance(retry_after, int | float)
            and math.isfinite(retry_after)
            and retry_after >= 0
        ):
            raise InvalidRequestError(
                f"{name}.retry_after",
                retry_after,
                "must be a finite number of seconds >= 0",
            )
        self.name = name
        self.backend = backend
        self.fallback = fallback
        self.ttl = ttl
        self.retry_after = retry_after
        self._clock = clock
        self._encode = encode
        self._decode = decode
        self._hooks: CacheHooks = hooks if hooks is not None else NullHooks()

        self._lock = threading.Lock()
        self._counts = _Counts()
        self._degraded = False
        self._retry_at = 0.0
        self._flights: dict[str, Future[_Found[T]]] = {}

    def __repr__(self) -> str:
        return (
            f"CacheLayer({self.name!r}, backend={self.backend!r}, "
            f"ttl={self.ttl})"
        )

    @property
    def degraded(self) -> bool:
        """Whether the backend is unavailable and the fallback serves."""
        with self._lock:
            return self._degraded

    def get(self, key: str) -> T | None:
        """The value stored under ``key``, or None; counted as a hit, a
        miss, an error or a bypass.

        A stored None reads the same as a miss; :meth:`get_or_compute`
        tells the two apart.
        """
        result, found = self._read(key)
        if found is None:
            self._count_lookup(result, 0)
            return None
        self._count_lookup(result, found.size)
        return found.value

    def put(self, key: str, value: T) -> None:
        """Store ``value`` under ``key`` for the layer's time to live."""
        try:
            data = self._encode(value)
        except Exception as error:
            self._failed("encode", error)
            return
        self._write(((key, data),))

    def put_many(self, values: Mapping[str, T]) -> None:
        """Store each value of ``values`` under its key, as one call to
        the backend (one round trip to Redis); a value that cannot be
        encoded is left out and counted as an error."""
        items = []
        for key, value in values.items():
            try:
                items.append((key, self._encode(value)))
            except Exception as error:
                self._failed("encode", error)
        if items:
            self._write(items)

    def get_or_compute(
        self, key: str, compute: Callable[[], T]
    ) -> tuple[T, Lookup]:
        """The value under ``key``, computed and stored on a miss.

        Returns the value and how it was found. While one thread
        computes a key, others asking for it wait and share the result.
        An exception of ``compute`` reaches every caller waiting on it.
        """
        result, found = self._read(key)
        if found is not None:
            self._count_lookup(result, found.size)
            return found.value, result

        with self._lock:
            flight = self._flights.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flights[key] = Future()
        if not leading:
            shared = flight.result()
            self._count_lookup(Lookup.SHARED, shared.size)
            return shared.value, Lookup.SHARED

        try:
            result, found = self._lead(key, compute, result)
            flight.set_result(found)
        except BaseException as error:
            flight.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._flights[key]
        self._count_lookup(result, found.size if result is Lookup.HIT else 0)
        return found.value, result

    def flush(self) -> None:
        """Remove every entry of the layer, in the backend and in the
        fallback."""
        try:
            self._use("flush", lambda backend: backend.flush())
        except Exception as error:
            self._failed("flush", error)
        if self.fallback is not None:
            try:
                self.fallback.flush()
            except Exception as error:
                self._failed("flush", error)

    def stats(self) -> LayerStats:
        """Counts so far, and the size of the backend in use."""
        sizes: tuple[int, int] | Bypassed
        try:
            sizes = self._use(
                "stats", lambda backend: (backend.entries, backend.bytes)
            )
        except Exception as error:
            self._failed("stats", error)
            sizes = (0, 0)
        entries, size = (0, 0) if sizes is _Skip.BYPASSED else sizes

        with self._lock:
            counts = self._counts
            return LayerStats(
                hits=counts.hits,
                misses=counts.misses,
                shared=counts.shared,
                errors=counts.errors,
                sets=counts.sets,
                evictions=counts.evictions,
                entries=entries,
                bytes=size,
                degraded_events=counts.degraded_events,
                failed_lookups=counts.failed_lookups,
                bypasses=counts.bypasses,
            )

    def record_eviction(self, reason: EvictionReason, size: int) -> None:
        """Count an entry that a backend dropped, and report it.

        Give this method as the ``on_evict`` callback of the layer's
        :class:`~engine.cache.memory.MemoryBackend` backends.
        """
        with self._lock:
            self._counts.evictions += 1
        self._hooks.on_eviction(self.name, reason, size)

    def _lead(
        self, key: str, compute: Callable[[], T], result: Lookup
    ) -> tuple[Lookup, _Found[T]]:
        """Compute and store the value of ``key``, whose look-up ended
        with ``result``; how it was found, with its encoded size."""
        # Another thread may have stored the value between this thread's
        # look-up and its taking the lead; look again before computing.
        if result is Lookup.MISS:
            again, found = self._read(key)
            if found is not None:
                return again, found

        value = compute()
        try:
            data = self._encode(value)
        except Exception as error:
            self._failed("encode", error)
            return result, _Found(value, 0)
        self._write(((key, data),))
        return result, _Found(value, len(data))

    def _read(self, key: str) -> tuple[Lookup, _Found[T] | None]:
        try:
            data = self._use("get", lambda backend: backend.get(key))
        except Exception as error:
            self._failed("get", error)
            return Lookup.ERROR, None
        if data is _Skip.BYPASSED:
            return Lookup.BYPASS, None
        if data is None:
            return Lookup.MISS, None

        try:
            return Lookup.HIT, _Found(self._decode(data), len(data))
        except Exception as error:
            # An entry that cannot be read is dropped, so that the next
            # store replaces it rather than the next look-up failing.
            self._failed("decode", error)
            try:
                self._use("delete", lambda backend: backend.delete(key))
            except Exception as failure:
                self._failed("delete", failure)
            return Lookup.ERROR, None

    def _write(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store encoded ``(key, data)`` items: one ``set``, or one
        ``set_many`` for several."""

        def store(backend: CacheBackend) -> None:
            if len(items) == 1:
                key, data = items[0]
                backend.set(key, data, self.ttl)
            else:
                backend.set_many(items, self.ttl)

        try:
            done = self._use("set", store)
        except Exception as error:
            self._failed("set", error)
            return
        if done is _Skip.BYPASSED:
            return
        with self._lock:
            self._counts.sets += len(items)
        for _, data in items:
            self._hooks.on_set(self.name, len(data))

    def _use(
        self, operation: str, action: Callable[[CacheBackend], R]
    ) -> R | Bypassed:
        """Run ``action`` on the backend, or on the fallback while the
        backend is unavailable."""
        backend, probing = self._choose()
        if backend is None:
            return _Skip.BYPASSED
        try:
            outcome = action(backend)
        except CacheUnavailableError as error:
            if backend is self.fallback:
                raise
            self._lost(operation, error)
            if self.fallback is None:
                return _Skip.BYPASSED
            return action(self.fallback)
        if probing:
            self._recovered()
        return outcome

    def _choose(self) -> tuple[CacheBackend | None, bool]:
        with self._lock:
            if not self._degraded:
                return self.backend, False
            now = self._clock.now()
            if now >= self._retry_at:
                # This call probes the backend; the others keep to the
                # fallback until it has answered.
                self._retry_at = now + self.retry_after
                return self.backend, True
            return self.fallback, False

    def _lost(self, operation: str, error: CacheUnavailableError) -> None:
        with self._lock:
            first = not self._degraded
            self._degraded = True
            self._retry_at = self._clock.now() + self.retry_after
            self._counts.errors += 1
            if first:
                self._counts.degraded_events += 1

        if first:
            logger.warning(
                "cache layer %s degraded: %s failed (%s); serving from %s "
                "for %g s",
                self.name,
                operation,
                error,
                "memory" if self.fallback is not None else "nothing",
                self.retry_after,
            )
        else:
            logger.debug("cache layer %s still unavailable", self.name)
        self._hooks.on_error(self.name, operation, error)
        if first:
            self._hooks.on_degraded(self.name, True)

    def _recovered(self) -> None:
        with self._lock:
            was_degraded = self._degraded
            self._degraded = False
        if not was_degraded:
            return
        logger.info("cache layer %s recovered", self.name)
        if self.fallback is not None:
            self.fallback.flush()
        self._hooks.on_degraded(self.name, False)

    def _failed(self, operation: str, error: Exception) -> None:
        logger.error(
            "cache layer %s: %s failed",
            self.name,
            operation,
            exc_info=error,
        )
        with self._lock:
            self._counts.errors += 1
        self._hooks.on_error(self.name, operation, error)

    def _count_lookup(self, result: Lookup, size: int) -> None:
        with self._lock:
            counts = self._counts
            if result is Lookup.HIT:
                counts.hits += 1
            elif result is Lookup.MISS:
                counts.misses += 1
            elif result is Lookup.SHARED:
                counts.shared += 1
            elif result is Lookup.ERROR:
                counts.failed_lookups += 1
            else:
                counts.bypasses += 1
        self._hooks.on_lookup(self.name, result, size)
