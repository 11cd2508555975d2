"""The memory backend: time to live, LRU order, bounds in entries and
bytes, eviction reports, thread safety."""

from __future__ import annotations

import math
import threading
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cache import EvictionReason, MemoryBackend
from engine.clock import ManualClock
from engine.errors import InvalidRequestError

Evicted = list[tuple[EvictionReason, int]]


def backend(
    clock: ManualClock, max_entries: int = 100, max_bytes: int = 1000
) -> tuple[MemoryBackend, Evicted]:
    evicted: Evicted = []
    memory = MemoryBackend(
        clock,
        max_entries,
        max_bytes,
        on_evict=lambda reason, size: evicted.append((reason, size)),
    )
    return memory, evicted


def test_entry_lives_for_its_ttl_on_the_clock() -> None:
    """An entry is readable until its TTL has passed on the injected
    clock, and then reported as expired with its size."""
    clock = ManualClock()
    memory, evicted = backend(clock)
    memory.set("a", b"12345", ttl=10.0)

    clock.advance(9.999)
    assert memory.get("a") == b"12345"
    assert evicted == []

    clock.advance(0.001)
    assert memory.get("a") is None
    assert evicted == [(EvictionReason.EXPIRED, 5)]


def test_sizes_leave_out_expired_entries() -> None:
    """Entry and byte counts drop expired entries without a look-up."""
    clock = ManualClock()
    memory, evicted = backend(clock)
    memory.set("short", b"xx", ttl=1.0)
    memory.set("long", b"yyy", ttl=100.0)
    assert (memory.entries, memory.bytes) == (2, 5)

    clock.advance(1.0)
    assert (memory.entries, memory.bytes) == (1, 3)
    assert evicted == [(EvictionReason.EXPIRED, 2)]


def test_replacing_an_entry_renews_its_ttl() -> None:
    """A key stored again lives from the new store, and the old expiry
    time does not remove it."""
    clock = ManualClock()
    memory, evicted = backend(clock)
    memory.set("a", b"old", ttl=10.0)
    clock.advance(5.0)
    memory.set("a", b"new!", ttl=10.0)

    clock.advance(6.0)
    assert memory.get("a") == b"new!"
    assert (memory.entries, memory.bytes) == (1, 4)
    assert evicted == []


def test_least_recently_used_entry_goes_first() -> None:
    """At the entry bound, the entry least recently read or written is
    evicted, for reason ENTRIES."""
    clock = ManualClock()
    memory, evicted = backend(clock, max_entries=3)
    for key in "abc":
        memory.set(key, key.encode(), ttl=60.0)
    assert memory.get("a") == b"a"

    memory.set("d", b"d", ttl=60.0)
    assert memory.get("b") is None
    assert [memory.get(key) for key in "acd"] == [b"a", b"c", b"d"]
    assert evicted == [(EvictionReason.ENTRIES, 1)]


def test_byte_bound_counts_stored_values() -> None:
    """Bytes are the lengths of the stored values; over the bound, the
    least recently used go, for reason BYTES, until it holds."""
    clock = ManualClock()
    memory, evicted = backend(clock, max_bytes=10)
    memory.set("a", b"aaaa", ttl=60.0)
    memory.set("b", b"bbbb", ttl=60.0)
    memory.get("a")

    memory.set("c", b"ccc", ttl=60.0)
    assert memory.get("b") is None
    assert memory.bytes == 7
    assert evicted == [(EvictionReason.BYTES, 4)]

    memory.set("d", b"ddddddd", ttl=60.0)
    assert [memory.get(key) for key in "acd"] == [None, b"ccc", b"ddddddd"]
    assert memory.bytes == 10
    assert evicted == [(EvictionReason.BYTES, 4), (EvictionReason.BYTES, 4)]


def test_value_larger_than_the_bound_is_not_stored() -> None:
    """A value longer than max_bytes is refused (OVERSIZE), evicts
    nothing else, and removes the entry it would have replaced."""
    clock = ManualClock()
    memory, evicted = backend(clock, max_bytes=10)
    memory.set("keep", b"12345", ttl=60.0)
    memory.set("big", b"small", ttl=60.0)

    memory.set("big", b"x" * 11, ttl=60.0)
    assert memory.get("big") is None
    assert memory.get("keep") == b"12345"
    assert (memory.entries, memory.bytes) == (1, 5)
    assert evicted == [(EvictionReason.OVERSIZE, 11)]


def test_value_as_large_as_the_bound_is_stored() -> None:
    """A value of exactly max_bytes fits, evicting everything else."""
    clock = ManualClock()
    memory, evicted = backend(clock, max_bytes=10)
    memory.set("a", b"a", ttl=60.0)
    memory.set("full", b"0123456789", ttl=60.0)
    assert memory.get("full") == b"0123456789"
    assert evicted == [(EvictionReason.BYTES, 1)]


def test_flush_evicts_every_entry_and_delete_evicts_none() -> None:
    """Delete removes without an eviction report; flush reports each
    entry it removes, for reason FLUSH."""
    clock = ManualClock()
    memory, evicted = backend(clock)
    memory.set("a", b"1", ttl=60.0)
    memory.set("b", b"22", ttl=60.0)
    memory.set("c", b"333", ttl=60.0)

    memory.delete("a")
    memory.delete("missing")
    assert evicted == []

    memory.flush()
    assert (memory.entries, memory.bytes) == (0, 0)
    assert sorted(evicted) == [
        (EvictionReason.FLUSH, 2),
        (EvictionReason.FLUSH, 3),
    ]


def test_callback_may_call_the_backend() -> None:
    """Eviction callbacks run outside the backend's lock: a callback
    that reads the backend does not deadlock."""
    clock = ManualClock()
    seen: list[int] = []
    memory: MemoryBackend

    def on_evict(reason: EvictionReason, size: int) -> None:
        seen.append(memory.entries)

    memory = MemoryBackend(clock, 1, 100, on_evict=on_evict)
    memory.set("a", b"a", ttl=60.0)
    memory.set("b", b"b", ttl=60.0)
    assert seen == [1]


@pytest.mark.parametrize(
    ("max_entries", "max_bytes", "field"),
    [
        (0, 10, "max_entries"),
        (True, 10, "max_entries"),
        (10, 0, "max_bytes"),
        (10, 1.5, "max_bytes"),
    ],
)
def test_bounds_must_be_positive_integers(
    max_entries: int, max_bytes: int, field: str
) -> None:
    """A bound that is not an integer above zero is refused, naming the
    bound and its value."""
    with pytest.raises(InvalidRequestError) as caught:
        MemoryBackend(ManualClock(), max_entries, max_bytes)
    assert caught.value.field == field


@pytest.mark.parametrize("ttl", [0.0, -1.0, math.inf, math.nan, "10"])
def test_ttl_must_be_finite_and_positive(ttl: float) -> None:
    """A TTL that is not a finite number above zero is refused."""
    memory = MemoryBackend(ManualClock(), 10, 100)
    with pytest.raises(InvalidRequestError) as caught:
        memory.set("a", b"a", ttl)
    assert caught.value.field == "ttl"


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("set"),
            st.sampled_from("abcdef"),
            st.integers(0, 12),
            st.sampled_from([1.0, 5.0, 30.0]),
        ),
        st.tuples(st.just("get"), st.sampled_from("abcdef")),
        st.tuples(st.just("advance"), st.sampled_from([0.5, 2.0, 10.0])),
        st.tuples(st.just("delete"), st.sampled_from("abcdef")),
    ),
    max_size=60,
)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(operations)
def test_random_operations_keep_the_invariants(
    steps: list[tuple[Any, ...]],
) -> None:
    """Whatever the operations: both bounds hold, bytes is the sum of
    the live values, a look-up returns the last value stored under its
    key or nothing, never a value past its TTL, and a value that fits
    is readable right after it is stored."""
    clock = ManualClock()
    memory, evicted = backend(clock, max_entries=4, max_bytes=20)
    last: dict[str, tuple[bytes, float]] = {}

    for step in steps:
        if step[0] == "set":
            _, key, size, ttl = step
            value = key.encode() * size
            memory.set(key, value, ttl)
            last[key] = (value, clock.now() + ttl)
            if len(value) <= 20:
                assert memory.get(key) == value
        elif step[0] == "get":
            key = step[1]
            found = memory.get(key)
            if found is not None:
                assert found == last[key][0]
                assert clock.now() < last[key][1]
        elif step[0] == "delete":
            memory.delete(step[1])
            last.pop(step[1], None)
        else:
            clock.advance(step[1])

        assert memory.entries <= 4
        assert 0 <= memory.bytes <= 20
    live = [memory.get(key) for key in "abcdef"]
    assert memory.bytes == sum(len(value) for value in live if value)
    assert all(size >= 0 for _, size in evicted)


def test_threads_share_one_backend_safely() -> None:
    """Many threads storing and reading at once leave a backend whose
    counts match its contents and whose bounds hold."""
    clock = ManualClock()
    memory, _ = backend(clock, max_entries=50, max_bytes=400)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for k in range(500):
                key = f"k{(worker * 7 + k) % 80}"
                memory.set(key, key.encode() * (k % 5), ttl=60.0)
                memory.get(f"k{k % 80}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert memory.entries <= 50
    live = [memory.get(f"k{k}") for k in range(80)]
    assert memory.bytes == sum(len(value) for value in live if value)
    assert memory.bytes <= 400


@settings(max_examples=50, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.sampled_from("abcdef"), st.binary(min_size=0, max_size=40)
        ),
        max_size=12,
    )
)
def test_set_many_is_set_of_each_item_in_order(
    items: list[tuple[str, bytes]],
) -> None:
    """Storing items together leaves the same entries, in the same LRU
    order, with the same evictions, as storing them one by one."""
    clock = ManualClock()
    together, evicted_together = backend(clock, max_entries=4, max_bytes=60)
    alone, evicted_alone = backend(clock, max_entries=4, max_bytes=60)

    together.set_many(items, ttl=5.0)
    for key, value in items:
        alone.set(key, value, ttl=5.0)

    assert evicted_together == evicted_alone
    assert list(together._entries) == list(alone._entries)
    assert [together.get(key) for key in "abcdef"] == [
        alone.get(key) for key in "abcdef"
    ]
