"""What every cache backend and layer shares: outcomes, hooks, statistics.

A :class:`CacheBackend` stores bytes under string keys, each with a time
to live. A layer (:class:`~engine.cache.layer.CacheLayer`) puts typed
values on top of a backend and reports what happens through
:class:`CacheHooks`; only an adapter turns those calls into metrics.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from engine.errors import EngineError

if TYPE_CHECKING:
    from collections.abc import Sequence


class Lookup(enum.StrEnum):
    """The outcome of one look-up in a cache layer."""

    HIT = "hit"
    """The value was in the cache."""

    MISS = "miss"
    """The value was not in the cache (and was computed, if asked to)."""

    SHARED = "shared"
    """Another thread was computing the value; this call waited for it."""

    ERROR = "error"
    """The backend or the codec failed; the call went on without it."""

    BYPASS = "bypass"
    """The backend is unavailable and there is no fallback to ask."""


class EvictionReason(enum.StrEnum):
    """Why a backend dropped an entry before it was replaced."""

    EXPIRED = "expired"
    """Its time to live ran out."""

    ENTRIES = "entries"
    """The backend held its maximum number of entries."""

    BYTES = "bytes"
    """The backend held its maximum number of bytes."""

    FLUSH = "flush"
    """The backend was flushed."""

    OVERSIZE = "oversize"
    """The value alone was larger than the backend may hold; it was never
    stored."""


class CacheUnavailableError(EngineError):
    """A backend cannot be reached: a network outage, not a bad value.

    A layer with a fallback serves from the fallback while its backend
    raises this; any other exception from a backend is treated as a
    failed call (:attr:`Lookup.ERROR`).
    """


class CacheBackend(Protocol):
    """A store of bytes under string keys, each with a time to live.

    Keys are strings chosen by the layer; values are the encoded bytes.
    A backend is safe to call from several threads.
    """

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None if absent or expired."""
        ...

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds."""
        ...

    def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float) -> None:
        """Store each ``(key, value)`` of ``items`` for ``ttl`` seconds,
        in order, as one call (one round trip to a remote store)."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        ...

    def flush(self) -> None:
        """Remove every entry of this backend, and nothing else."""
        ...

    @property
    def entries(self) -> int:
        """Number of live entries."""
        ...

    @property
    def bytes(self) -> int:
        """Total size of the live values in bytes."""
        ...


class CacheHooks(Protocol):
    """Receives what happens in cache layers, for metrics and logs.

    ``size`` is always the length of an encoded value in bytes. Hooks
    are called from whatever thread used the layer, outside the layer's
    locks; they must be quick and must not raise.
    """

    def on_lookup(self, layer: str, result: Lookup, size: int) -> None:
        """A look-up ended with ``result``; ``size`` of the value served,
        zero when none was found."""
        ...

    def on_set(self, layer: str, size: int) -> None:
        """A value of ``size`` bytes was handed to the backend."""
        ...

    def on_eviction(
        self, layer: str, reason: EvictionReason, size: int
    ) -> None:
        """The backend dropped a value of ``size`` bytes for ``reason``."""
        ...

    def on_error(
        self, layer: str, operation: str, error: BaseException
    ) -> None:
        """``operation`` (get, set, delete, flush, stats, encode,
        decode) failed with ``error``; the caller carried on."""
        ...

    def on_degraded(self, layer: str, degraded: bool) -> None:
        """The layer's backend became unavailable (True) or came back
        (False)."""
        ...


class NullHooks:
    """Hooks that do nothing: the default of every layer."""

    def on_lookup(self, layer: str, result: Lookup, size: int) -> None:
        """Ignore a look-up."""

    def on_set(self, layer: str, size: int) -> None:
        """Ignore a store."""

    def on_eviction(
        self, layer: str, reason: EvictionReason, size: int
    ) -> None:
        """Ignore an eviction."""

    def on_error(
        self, layer: str, operation: str, error: BaseException
    ) -> None:
        """Ignore an error."""

    def on_degraded(self, layer: str, degraded: bool) -> None:
        """Ignore a change of state."""


@dataclass(frozen=True, slots=True)
class LayerStats:
    """Counts of one cache layer since it was built.

    ``hits``, ``misses``, ``shared``, ``failed_lookups`` and
    ``bypasses`` count look-ups by outcome. ``errors`` counts every
    failed operation: look-ups, stores, flushes, encodings. ``entries``
    and ``bytes`` describe the backend in use when the statistics were
    taken (the fallback while degraded). ``degraded_events`` counts
    outages, not the failed calls within one.
    """

    hits: int
    misses: int
    shared: int
    errors: int
    sets: int
    evictions: int
    entries: int
    bytes: int
    degraded_events: int
    failed_lookups: int = 0
    bypasses: int = 0

    @property
    def lookups(self) -> int:
        """Number of look-ups of every outcome."""
        return (
            self.hits
            + self.misses
            + self.shared
            + self.failed_lookups
            + self.bypasses
        )

    @property
    def hit_ratio(self) -> float:
        """Share of look-ups that computed nothing: ``(hits + shared) /
        lookups``, or 0.0 before the first look-up.

        A shared look-up counts as a hit because it cost no computation
        of its own, only the wait for another thread's.
        """
        if self.lookups == 0:
            return 0.0
        return (self.hits + self.shared) / self.lookups
