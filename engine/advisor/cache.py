"""Where advisor answers are kept: the cache protocol, and a small
in-process cache for use without the engine's cache layers.

The service passes its advisor layer of :mod:`engine.cache`, which has
its own TTL and bounds; :class:`MemoryAnswerCache` serves a standalone
advisor and tests. Values are plain JSON-ready data (lists, dicts,
strings, ``None``), so any encoding a cache layer uses can hold them.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from engine.clock import Clock


class AnswerCache(Protocol):
    """Keeps answers by key; satisfied by ``engine.cache.CacheLayer``."""

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None`` if there is none."""
        ...

    def put(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key``."""
        ...


class MemoryAnswerCache:
    """Answers kept in memory for ``ttl_s`` seconds of the injected clock,
    at most ``max_entries`` of them, evicting the least recently used."""

    def __init__(
        self, ttl_s: float, clock: Clock, max_entries: int = 4096
    ) -> None:
        if not (math.isfinite(ttl_s) and ttl_s > 0):
            raise InvalidRequestError("cache.ttl_s", ttl_s, "must be > 0")
        if max_entries < 1:
            raise InvalidRequestError(
                "cache.max_entries", max_entries, "must be >= 1"
            )
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        """The live value under ``key``, or ``None``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value = entry
            if self._clock.now() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        """Keep ``value`` under ``key`` for ``ttl_s`` seconds."""
        with self._lock:
            self._entries[key] = (self._clock.now() + self.ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
