"""An in-process cache backend: time to live, least recently used, and a
bound in bytes as well as in entries."""

from __future__ import annotations

import heapq
import logging
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.cache.base import EvictionReason
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from engine.clock import Clock

    Evictions = list[tuple[EvictionReason, int]]

logger = logging.getLogger(__name__)


def check_ttl(ttl: float, name: str = "ttl") -> None:
    """Raise unless ``ttl`` is a finite number of seconds above zero."""
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, int | float)
        or not (math.isfinite(ttl) and ttl > 0)
    ):
        raise InvalidRequestError(
            name, ttl, "must be a finite number of seconds > 0"
        )


def check_bound(value: int, name: str) -> None:
    """Raise unless ``value`` is an integer above zero."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRequestError(name, value, "must be an integer > 0")


@dataclass(slots=True)
class _Entry:
    value: bytes
    expires: float
    serial: int


class MemoryBackend:
    """Values in a dictionary, dropped by age, by recency and by size.

    An entry lives for its ``ttl`` seconds on the injected clock. When
    a store would make the backend hold more than ``max_entries``
    entries or more than ``max_bytes`` bytes, the least recently used
    entries are dropped until both bounds hold again. Sizes are the
    lengths of the stored values; keys and bookkeeping are not counted.
    A value larger than ``max_bytes`` on its own is not stored, and the
    entry it would have replaced is removed.

    Every entry dropped is reported to ``on_evict`` with the reason and
    the value's size; replacing or deleting an entry is not an eviction.
    The callback runs after the backend's lock is released, so it may
    call the backend again. All methods are safe to call from several
    threads.

    Parameters
    ----------
    clock
        Where time to live is measured.
    max_entries
        Most entries held at once, at least one.
    max_bytes
        Most bytes of values held at once, at least one.
    on_evict
        Called with the reason and size of each entry dropped.
    """

    def __init__(
        self,
        clock: Clock,
        max_entries: int,
        max_bytes: int,
        on_evict: Callable[[EvictionReason, int], None] | None = None,
    ) -> None:
        check_bound(max_entries, "max_entries")
        check_bound(max_bytes, "max_bytes")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._on_evict = on_evict
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._serial = 0

        # Expiry times in a heap, so that expired entries leave in
        # logarithmic time. A replaced entry leaves its old item behind;
        # an item counts only while its serial matches the entry's.
        self._expiry: list[tuple[float, int, str]] = []

    def __repr__(self) -> str:
        return (
            f"MemoryBackend(max_entries={self.max_entries}, "
            f"max_bytes={self.max_bytes})"
        )

    def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or None; a found entry
        becomes the most recently used."""
        evicted: Evictions = []
        with self._lock:
            self._expire(evicted)
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        self._report(evicted)
        return None if entry is None else entry.value

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, dropping the
        least recently used entries if a bound would be exceeded."""
        self.set_many(((key, value),), ttl)

    def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float) -> None:
        """:meth:`set` of each item in order, under one hold of the lock."""
        check_ttl(ttl)
        evicted: Evictions = []
        with self._lock:
            now = self._clock.now()
            for key, value in items:
                self._expire(evicted)
                self._remove(key)
                size = len(value)
                if size > self.max_bytes:
                    evicted.append((EvictionReason.OVERSIZE, size))
                else:
                    self._serial += 1
                    entry = _Entry(value, now + ttl, self._serial)
                    self._entries[key] = entry
                    self._bytes += size
                    heapq.heappush(
                        self._expiry, (entry.expires, entry.serial, key)
                    )
                    self._enforce_bounds(evicted)
            self._compact()
        self._report(evicted)

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""
        with self._lock:
            self._remove(key)

    def flush(self) -> None:
        """Remove every entry, each reported as a
        :attr:`~EvictionReason.FLUSH` eviction."""
        with self._lock:
            evicted = [
                (EvictionReason.FLUSH, len(entry.value))
                for entry in self._entries.values()
            ]
            self._entries.clear()
            self._expiry.clear()
            self._bytes = 0
        self._report(evicted)

    @property
    def entries(self) -> int:
        """Number of live entries."""
        evicted: Evictions = []
        with self._lock:
            self._expire(evicted)
            count = len(self._entries)
        self._report(evicted)
        return count

    @property
    def bytes(self) -> int:
        """Total length of the live values."""
        evicted: Evictions = []
        with self._lock:
            self._expire(evicted)
            total = self._bytes
        self._report(evicted)
        return total

    def _expire(self, evicted: Evictions) -> None:
        now = self._clock.now()
        while self._expiry and self._expiry[0][0] <= now:
            _, serial, key = heapq.heappop(self._expiry)
            entry = self._entries.get(key)
            if entry is not None and entry.serial == serial:
                self._remove(key)
                evicted.append((EvictionReason.EXPIRED, len(entry.value)))

    def _enforce_bounds(self, evicted: Evictions) -> None:
        while len(self._entries) > self.max_entries:
            evicted.append((EvictionReason.ENTRIES, self._pop_oldest()))
        while self._bytes > self.max_bytes:
            evicted.append((EvictionReason.BYTES, self._pop_oldest()))

    def _pop_oldest(self) -> int:
        _, entry = self._entries.popitem(last=False)
        self._bytes -= len(entry.value)
        return len(entry.value)

    def _remove(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.value)

    def _compact(self) -> None:
        # Items of replaced or evicted entries stay in the heap until
        # their time comes; rebuild it when they outnumber the live ones.
        if len(self._expiry) <= 2 * len(self._entries) + 64:
            return
        self._expiry = [
            (entry.expires, entry.serial, key)
            for key, entry in self._entries.items()
        ]
        heapq.heapify(self._expiry)

    def _report(self, evicted: Evictions) -> None:
        if not evicted:
            return
        logger.debug("evicted %d entries", len(evicted))
        if self._on_evict is not None:
            for reason, size in evicted:
                self._on_evict(reason, size)
