"""Cache layers: counted look-ups and hooks, codec and backend errors,
degradation to the fallback and recovery, single-flight under threads."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from engine.cache import (
    CacheLayer,
    CacheUnavailableError,
    EvictionReason,
    Lookup,
    MemoryBackend,
    json_codec,
)
from engine.clock import ManualClock
from engine.errors import InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from tests.engine.cache.conftest import RecordingHooks

ENCODE, DECODE = json_codec()


class Switchable:
    """A memory backend that can be taken down: every call then raises
    CacheUnavailableError, as the Redis backend does in an outage."""

    def __init__(self, clock: ManualClock) -> None:
        self.inner = MemoryBackend(clock, 100, 10_000)
        self.down = False
        self.calls = 0

    def _call(self) -> None:
        self.calls += 1
        if self.down:
            raise CacheUnavailableError("switched off")

    def get(self, key: str) -> bytes | None:
        self._call()
        return self.inner.get(key)

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self._call()
        self.inner.set(key, value, ttl)

    def set_many(self, items: Sequence[tuple[str, bytes]], ttl: float) -> None:
        self._call()
        self.inner.set_many(items, ttl)

    def delete(self, key: str) -> None:
        self._call()
        self.inner.delete(key)

    def flush(self) -> None:
        self._call()
        self.inner.flush()

    @property
    def entries(self) -> int:
        self._call()
        return self.inner.entries

    @property
    def bytes(self) -> int:
        self._call()
        return self.inner.bytes


class Broken(Switchable):
    """A backend with a bug: every call raises a plain error."""

    def _call(self) -> None:
        raise RuntimeError("bug in the backend")


def memory_layer(
    clock: ManualClock,
    hooks: RecordingHooks | None = None,
    max_entries: int = 100,
    ttl: float = 60.0,
) -> CacheLayer[Any]:
    layer: CacheLayer[Any] | None = None

    def evicted(reason: EvictionReason, size: int) -> None:
        assert layer is not None
        layer.record_eviction(reason, size)

    backend = MemoryBackend(clock, max_entries, 10_000, on_evict=evicted)
    layer = CacheLayer("plans", backend, ttl, clock, ENCODE, DECODE, hooks)
    return layer


def test_lookups_and_stores_are_counted_and_reported(
    hooks: RecordingHooks,
) -> None:
    """A miss, a store and a hit each reach the hooks in order, with the
    encoded size, and are counted in the statistics."""
    clock = ManualClock()
    layer = memory_layer(clock, hooks)

    assert layer.get("k") is None
    layer.put("k", {"cost": 12})
    assert layer.get("k") == {"cost": 12}

    assert hooks.events == [
        ("lookup", "plans", Lookup.MISS, 0),
        ("set", "plans", 11),
        ("lookup", "plans", Lookup.HIT, 11),
    ]
    stats = layer.stats()
    assert (stats.hits, stats.misses, stats.sets) == (1, 1, 1)
    assert (stats.entries, stats.bytes) == (1, 11)
    assert stats.hit_ratio == 0.5


def test_get_or_compute_computes_on_a_miss_only(
    hooks: RecordingHooks,
) -> None:
    """The first call computes and stores; the next is a hit without
    computing; each call reports exactly one look-up."""
    clock = ManualClock()
    layer = memory_layer(clock, hooks)
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [1, 2, 3]

    assert layer.get_or_compute("k", compute) == ([1, 2, 3], Lookup.MISS)
    assert layer.get_or_compute("k", compute) == ([1, 2, 3], Lookup.HIT)
    assert len(calls) == 1
    assert hooks.of("lookup") == [
        ("lookup", "plans", Lookup.MISS, 0),
        ("lookup", "plans", Lookup.HIT, 7),
    ]


def test_stored_none_is_a_hit_for_get_or_compute() -> None:
    """A computed None is cached like any value: get_or_compute tells it
    from a miss."""
    layer = memory_layer(ManualClock())
    assert layer.get_or_compute("k", lambda: None) == (None, Lookup.MISS)
    assert layer.get_or_compute("k", lambda: 1) == (None, Lookup.HIT)


def test_values_expire_after_the_layer_ttl(hooks: RecordingHooks) -> None:
    """A value lives for the layer's TTL on its clock; its expiry is
    reported and counted as an eviction."""
    clock = ManualClock()
    layer = memory_layer(clock, hooks, ttl=30.0)
    layer.put("k", "v")

    clock.advance(29.0)
    assert layer.get("k") == "v"
    clock.advance(1.0)
    assert layer.get("k") is None
    assert hooks.of("eviction") == [
        ("eviction", "plans", EvictionReason.EXPIRED, 3)
    ]
    assert layer.stats().evictions == 1


def test_unencodable_value_is_returned_but_not_cached(
    hooks: RecordingHooks,
) -> None:
    """A value JSON cannot hold (NaN) is still returned to the caller,
    reported as an encode error, and not stored."""
    layer = memory_layer(ManualClock(), hooks)
    value, result = layer.get_or_compute("k", lambda: {"x": math.nan})
    assert result is Lookup.MISS
    assert math.isnan(value["x"])
    assert hooks.of("error") == [("error", "plans", "encode", "ValueError")]
    assert hooks.of("set") == []
    assert layer.stats().entries == 0


def test_unreadable_entry_is_an_error_and_is_dropped(
    hooks: RecordingHooks, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes that do not decode make an ERROR look-up, are logged and
    removed, and the value is computed and stored afresh."""
    clock = ManualClock()
    layer = memory_layer(clock, hooks)
    layer.backend.set("k", b"\xff not json", ttl=60.0)

    with caplog.at_level(logging.ERROR, logger="engine.cache.layer"):
        value, result = layer.get_or_compute("k", lambda: "fresh")
    assert (value, result) == ("fresh", Lookup.ERROR)
    assert "decode failed" in caplog.text
    assert layer.get("k") == "fresh"
    stats = layer.stats()
    assert (stats.errors, stats.failed_lookups, stats.hits) == (1, 1, 1)


def test_backend_bug_never_fails_a_request(
    hooks: RecordingHooks, caplog: pytest.LogCaptureFixture
) -> None:
    """A backend that raises a plain exception makes every operation an
    error that is logged and reported, and the caller still gets its
    value."""
    clock = ManualClock()
    layer = CacheLayer(
        "plans", Broken(clock), 60.0, clock, ENCODE, DECODE, hooks
    )

    with caplog.at_level(logging.ERROR, logger="engine.cache.layer"):
        assert layer.get_or_compute("k", lambda: 5) == (5, Lookup.ERROR)
        layer.flush()
        stats = layer.stats()
    assert [event[2] for event in hooks.of("error")] == [
        "get",
        "set",
        "flush",
        "stats",
    ]
    assert (stats.errors, stats.entries, stats.degraded_events) == (4, 0, 0)


def degradable(
    clock: ManualClock, hooks: RecordingHooks, fallback: bool = True
) -> tuple[CacheLayer[Any], Switchable, MemoryBackend | None]:
    primary = Switchable(clock)
    memory = MemoryBackend(clock, 100, 10_000) if fallback else None
    layer = CacheLayer(
        "plans",
        primary,
        60.0,
        clock,
        ENCODE,
        DECODE,
        hooks,
        fallback=memory,
        retry_after=5.0,
    )
    return layer, primary, memory


def test_outage_degrades_to_the_fallback_and_recovers(
    hooks: RecordingHooks, caplog: pytest.LogCaptureFixture
) -> None:
    """When the backend goes down the layer warns once, counts one
    degraded event and serves from memory, leaving the backend alone
    for retry_after seconds; the next call after that finds it back,
    logs the recovery and empties the fallback."""
    clock = ManualClock()
    layer, primary, memory = degradable(clock, hooks)
    assert memory is not None
    layer.put("before", 1)

    primary.down = True
    with caplog.at_level(logging.INFO, logger="engine.cache.layer"):
        assert layer.get_or_compute("k", lambda: "a") == ("a", Lookup.MISS)
        assert layer.get_or_compute("k", lambda: "b") == ("a", Lookup.HIT)
        clock.advance(4.9)
        assert layer.get("k") == "a"
    assert layer.degraded
    assert primary.calls == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "degraded" in warnings[0].getMessage()
    assert hooks.of("degraded") == [("degraded", "plans", True)]
    assert hooks.of("error") == [
        ("error", "plans", "get", "CacheUnavailableError")
    ]
    assert layer.stats().degraded_events == 1

    primary.down = False
    clock.advance(0.1)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="engine.cache.layer"):
        assert layer.get("before") == 1
    assert not layer.degraded
    assert "recovered" in caplog.text
    assert hooks.of("degraded")[-1] == ("degraded", "plans", False)
    assert memory.entries == 0
    assert layer.get("k") is None
    assert layer.stats().degraded_events == 1


def test_failed_retry_stays_degraded_without_a_new_warning(
    hooks: RecordingHooks, caplog: pytest.LogCaptureFixture
) -> None:
    """A retry that fails again keeps the layer degraded for another
    retry_after seconds: one error more, but no new warning, degraded
    report or degraded event."""
    clock = ManualClock()
    layer, primary, _ = degradable(clock, hooks)
    primary.down = True

    with caplog.at_level(logging.WARNING, logger="engine.cache.layer"):
        layer.get("k")
        clock.advance(5.0)
        layer.get("k")
        calls = primary.calls
        clock.advance(4.0)
        layer.get("k")
        assert primary.calls == calls
        clock.advance(1.0)
        layer.get("k")
    assert primary.calls == calls + 1
    assert len(caplog.records) == 1
    assert hooks.of("degraded") == [("degraded", "plans", True)]
    assert len(hooks.of("error")) == 3
    stats = layer.stats()
    assert (stats.degraded_events, stats.errors) == (1, 3)
    assert stats.misses == 4


def test_outage_without_fallback_bypasses_the_cache(
    hooks: RecordingHooks,
) -> None:
    """Without a fallback, a degraded layer answers BYPASS, computes
    every time and stores nothing, but never fails the caller."""
    clock = ManualClock()
    layer, primary, _ = degradable(clock, hooks, fallback=False)
    primary.down = True

    assert layer.get_or_compute("k", lambda: 1) == (1, Lookup.BYPASS)
    assert layer.get_or_compute("k", lambda: 2) == (2, Lookup.BYPASS)
    layer.put("k", 3)
    assert layer.get("k") is None
    stats = layer.stats()
    assert (stats.bypasses, stats.sets, stats.entries) == (3, 0, 0)
    assert stats.hit_ratio == 0.0


def test_flush_empties_backend_and_fallback(hooks: RecordingHooks) -> None:
    """Flush reaches both the backend and the fallback."""
    clock = ManualClock()
    layer, primary, memory = degradable(clock, hooks)
    assert memory is not None
    layer.put("a", 1)
    memory.set("b", b"2", ttl=60.0)

    layer.flush()
    assert (primary.inner.entries, memory.entries) == (0, 0)


def test_layer_arguments_are_checked() -> None:
    """A layer needs a name, a finite TTL above zero and a retry delay
    of at least zero."""
    clock = ManualClock()
    memory = MemoryBackend(clock, 1, 1)
    with pytest.raises(InvalidRequestError):
        CacheLayer("", memory, 1.0, clock, ENCODE, DECODE)
    with pytest.raises(InvalidRequestError) as caught:
        CacheLayer("plans", memory, 0.0, clock, ENCODE, DECODE)
    assert caught.value.field == "plans.ttl"
    with pytest.raises(InvalidRequestError) as caught:
        CacheLayer("plans", memory, 1.0, clock, ENCODE, DECODE, retry_after=-1)
    assert caught.value.field == "plans.retry_after"


class Gate:
    """A computation that blocks until the test lets it finish."""

    def __init__(self, value: Any) -> None:
        self.value = value
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> Any:
        self.calls += 1
        self.started.set()
        assert self.release.wait(10)
        if isinstance(self.value, BaseException):
            raise self.value
        return self.value


def run_threads(
    layer: CacheLayer[Any], key: str, compute: Gate, count: int
) -> list[Any]:
    """Start ``count`` threads on get_or_compute(key); let the
    computation finish once all have asked; return what each got."""
    results: list[Any] = [None] * count
    asked = threading.Barrier(count + 1)

    def ask(slot: int) -> None:
        asked.wait()
        try:
            results[slot] = layer.get_or_compute(key, compute)
        except BaseException as error:
            results[slot] = error

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    asked.wait()
    assert compute.started.wait(10)

    # Give the other threads time to reach the in-flight computation;
    # one that comes later finds the stored value, which also counts.
    time.sleep(0.2)
    compute.release.set()
    for thread in threads:
        thread.join(10)
    return results


@pytest.mark.timeout(30)
def test_identical_misses_in_flight_compute_once(
    hooks: RecordingHooks,
) -> None:
    """Eight threads missing the same key at once compute it once: one
    MISS, and every other thread shares that result (or, arriving after
    it was stored, hits it)."""
    layer = memory_layer(ManualClock(), hooks)
    compute = Gate({"plan": 7})
    results = run_threads(layer, "k", compute, 8)

    assert compute.calls == 1
    assert all(value == {"plan": 7} for value, _ in results)
    outcomes = [lookup for _, lookup in results]
    assert outcomes.count(Lookup.MISS) == 1
    assert outcomes.count(Lookup.SHARED) >= 1
    assert set(outcomes) <= {Lookup.MISS, Lookup.SHARED, Lookup.HIT}
    stats = layer.stats()
    assert (stats.misses, stats.shared + stats.hits, stats.sets) == (1, 7, 1)
    assert stats.hit_ratio == 7 / 8


@pytest.mark.timeout(30)
def test_failed_computation_reaches_every_waiter(
    hooks: RecordingHooks,
) -> None:
    """If the computing thread raises, every thread waiting on it raises
    the same exception, nothing is cached, and the next call computes
    afresh."""
    layer = memory_layer(ManualClock(), hooks)
    failure = ValueError("infeasible")
    results = run_threads(layer, "k", Gate(failure), 4)

    assert all(result is failure for result in results)
    assert hooks.of("set") == []
    assert layer.get_or_compute("k", lambda: "ok") == ("ok", Lookup.MISS)


@pytest.mark.timeout(30)
def test_different_keys_compute_in_parallel() -> None:
    """Single-flight is per key: a computation in flight for one key
    does not hold up another key."""
    layer = memory_layer(ManualClock())
    slow = Gate("slow")
    thread = threading.Thread(target=layer.get_or_compute, args=("a", slow))
    thread.start()
    assert slow.started.wait(10)

    assert layer.get_or_compute("b", lambda: "fast") == ("fast", Lookup.MISS)
    slow.release.set()
    thread.join(10)
    assert layer.get("a") == "slow"


def test_put_many_stores_every_value_in_one_backend_call(
    hooks: RecordingHooks,
) -> None:
    """Values put together reach the backend in one call, are each
    readable, counted and reported; an unencodable one is left out and
    counted as an error."""
    clock = ManualClock()
    layer, primary, _ = degradable(clock, hooks)

    layer.put_many({"a": 1, "b": [2, 3], "nan": math.nan, "c": {"d": 4}})

    assert primary.calls == 1
    assert [layer.get(key) for key in ("a", "b", "c", "nan")] == [
        1,
        [2, 3],
        {"d": 4},
        None,
    ]
    assert hooks.of("set") == [
        ("set", "plans", 1),
        ("set", "plans", 5),
        ("set", "plans", 7),
    ]
    stats = layer.stats()
    assert (stats.sets, stats.errors) == (3, 1)


def test_put_many_in_an_outage_goes_to_the_fallback(
    hooks: RecordingHooks,
) -> None:
    """Values put together while the backend is down are kept in the
    fallback, with one degraded event."""
    clock = ManualClock()
    layer, primary, memory = degradable(clock, hooks)
    assert memory is not None
    primary.down = True

    layer.put_many({"a": 1, "b": 2})

    assert layer.degraded
    assert memory.entries == 2
    assert (layer.get("a"), layer.get("b")) == (1, 2)
    assert layer.stats().degraded_events == 1
