"""Tests of the batching writer over a real SQLite file: batches by size
and by age, flush, retries that keep the batch, the buffer's bound, and
the writer as the service's plan store."""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client import CollectorRegistry

from engine.clock import ManualClock
from engine.codec import request_to_dict
from engine.errors import InvalidRequestError
from engine.metrics import StorageMetrics
from engine.model import Backend, Location, Options
from engine.service import Service, ServiceConfig
from engine.storage import (
    BatchWriter,
    JobRecord,
    SQLiteStorage,
    StorageConfig,
    StorageError,
    StorageFullError,
    StorageUnavailableError,
    open_storage,
)
from simulator.example import example_request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from conftest import RecordingHooks

    from engine.storage import Record, Storage

WAIT_S = 20.0
"""Longest wait for the writer thread; a bound, never an expectation."""


class Flaky:
    """A real storage that can be made to fail, recording each write as
    ``(batch id, records, ok)``.

    While ``down``, and for the next ``fail_next`` writes, a write
    raises :class:`StorageUnavailableError` and writes nothing.
    """

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.down = False
        self.fail_next = 0
        self.calls: list[tuple[str | None, int, bool]] = []
        self.changed = threading.Condition()

    def write(
        self, records: Sequence[Record], batch: str | None = None
    ) -> None:
        with self.changed:
            failing = self.down or self.fail_next > 0
            self.fail_next = max(self.fail_next - 1, 0)
        if not failing:
            self.inner.write(records, batch)
        with self.changed:
            self.calls.append((batch, len(records), not failing))
            self.changed.notify_all()
        if failing:
            raise StorageUnavailableError("write: the test took it down")

    def job(self, job_id: str) -> JobRecord | None:
        return self.inner.job(job_id)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.inner.close()

    def written(self) -> list[int]:
        """Sizes of the writes that succeeded."""
        with self.changed:
            return [size for _, size, ok in self.calls if ok]

    def wait_for(self, predicate: Callable[[Flaky], bool]) -> None:
        """Wait until ``predicate(self)`` holds after a write."""
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self), WAIT_S)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """The path of the test's SQLite file."""
    return tmp_path / "barq.sqlite"


@pytest.fixture
def flaky(database: Path) -> Iterator[Flaky]:
    """A migrated SQLite storage that the test can take down."""
    storage = Flaky(open_storage(StorageConfig(url=str(database))))
    yield storage
    storage.close()


def writer_of(
    storage: Storage,
    hooks: RecordingHooks | StorageMetrics | None = None,
    **settings: Any,
) -> BatchWriter:
    """A writer with the given settings and short retry waits."""
    settings = {"retry_base_s": 0.01, "retry_max_s": 0.04} | settings
    return BatchWriter(storage, StorageConfig(**settings), hooks)


def drivers(database: Path) -> list[str]:
    """The driver ids of every stored location, in the order written."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            "SELECT driver_id FROM driver_locations ORDER BY id"
        ).fetchall()
    return [row[0] for row in rows]


def save(writer: BatchWriter, first: int, count: int) -> None:
    """Save locations of drivers ``d<first>`` onwards."""
    for k in range(first, first + count):
        writer.save_location(f"d{k}", Location(f"l{k}", k, k), float(k))


@pytest.mark.timeout(60)
def test_full_batches_are_written_without_a_flush(flaky: Flaky) -> None:
    """With an age limit that cannot be reached, batch_size records make
    a batch: ten records are two batches of five."""
    writer = writer_of(flaky, batch_size=5, batch_age_s=3600.0)

    save(writer, 0, 10)
    flaky.wait_for(lambda storage: len(storage.written()) == 2)

    assert flaky.written() == [5, 5]
    stats = writer.stats()
    assert (stats.accepted, stats.written, stats.batches) == (10, 10, 2)
    writer.close()


@pytest.mark.timeout(60)
def test_old_records_are_written_without_a_flush(flaky: Flaky) -> None:
    """With a batch size that is not reached, records are written once
    the oldest is batch_age_s old."""
    writer = writer_of(flaky, batch_size=1000, batch_age_s=0.05)

    save(writer, 0, 3)
    flaky.wait_for(lambda storage: len(storage.written()) == 1)

    assert flaky.written() == [3]
    writer.close()


@pytest.mark.timeout(60)
def test_flush_writes_what_waits_for_its_batch(
    flaky: Flaky, database: Path
) -> None:
    """flush() writes records that wait for size or age at once, and
    returns when they are in the database."""
    writer = writer_of(flaky, batch_size=1000, batch_age_s=3600.0)

    save(writer, 0, 3)
    flushed = writer.flush(WAIT_S)

    assert flushed
    assert drivers(database) == ["d0", "d1", "d2"]
    assert writer.stats().pending == 0
    writer.close()


@pytest.mark.timeout(60)
def test_a_failed_write_is_retried_with_the_same_batch(
    flaky: Flaky, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Four failed writes are retried with the same batch (same id, same
    records), after waits doubling from retry_base_s up to retry_max_s,
    each failure logged; then every record is written once."""
    flaky.fail_next = 4
    writer = writer_of(flaky, batch_size=1000, batch_age_s=3600.0)

    with caplog.at_level(logging.WARNING, logger="engine.storage.writer"):
        save(writer, 0, 4)
        assert writer.flush(WAIT_S)
    writer.close()

    ids = {batch for batch, _, _ in flaky.calls}
    assert len(ids) == 1
    assert [(size, ok) for _, size, ok in flaky.calls] == [
        (4, False),
        (4, False),
        (4, False),
        (4, False),
        (4, True),
    ]
    waits = [
        float(match[1])
        for r in caplog.records
        if (match := re.search(r"retrying in ([\d.]+) s", r.getMessage()))
    ]
    assert waits == [0.01, 0.02, 0.04, 0.04]
    assert writer.stats().retries == 4
    assert drivers(database) == ["d0", "d1", "d2", "d3"]


@pytest.mark.timeout(60)
def test_records_keep_arriving_during_an_outage(
    flaky: Flaky, database: Path
) -> None:
    """While storage is down, saves are still accepted and held; once it
    is back, every accepted record is written exactly once, in order."""
    writer = writer_of(flaky, batch_size=10, batch_age_s=0.01)
    flaky.down = True

    save(writer, 0, 30)
    flaky.wait_for(lambda storage: len(storage.calls) >= 2)
    save(writer, 30, 20)
    assert writer.stats().pending == 50
    flaky.down = False
    assert writer.flush(WAIT_S)
    writer.close()

    assert drivers(database) == [f"d{k}" for k in range(50)]
    stats = writer.stats()
    assert (stats.accepted, stats.written, stats.pending) == (50, 50, 0)
    assert stats.retries >= 2


@pytest.mark.timeout(60)
def test_a_full_buffer_refuses_saves_and_says_so(
    flaky: Flaky, database: Path, hooks: RecordingHooks
) -> None:
    """With buffer_limit records unwritten, a save raises
    StorageFullError naming the operation and what to do, and calls
    on_rejected; the records accepted before are all written later."""
    writer = writer_of(
        flaky, hooks, batch_size=5, batch_age_s=0.01, buffer_limit=10
    )
    flaky.down = True

    save(writer, 0, 10)
    with pytest.raises(StorageFullError) as refused:
        save(writer, 10, 1)

    assert hooks.rejected == ["save_locations"]
    assert "buffer_limit" in str(refused.value)
    assert "retry later" in str(refused.value)
    assert writer.stats().rejected == 1
    flaky.down = False
    assert writer.flush(WAIT_S)
    writer.close()
    assert drivers(database) == [f"d{k}" for k in range(10)]


@pytest.mark.timeout(60)
def test_the_metrics_adapter_counts_refusals(flaky: Flaky) -> None:
    """StorageMetrics serves as the writer's hooks: a refused save moves
    barq_storage_rejected_total for its operation."""
    registry = CollectorRegistry()
    writer = writer_of(
        flaky,
        StorageMetrics(registry),
        batch_size=1,
        batch_age_s=0.01,
        buffer_limit=1,
    )
    flaky.down = True

    save(writer, 0, 1)
    with pytest.raises(StorageFullError):
        writer.save_job(JobRecord("j", "queued", 0.0, 0.0))

    assert (
        registry.get_sample_value(
            "barq_storage_rejected_total", {"operation": "save_jobs"}
        )
        == 1
    )
    flaky.down = False
    writer.close()


@pytest.mark.timeout(60)
def test_a_record_that_is_not_json_is_refused_on_the_spot(
    flaky: Flaky,
) -> None:
    """A record whose JSON field cannot be encoded is refused at save,
    naming the field, and never reaches the buffer."""
    writer = writer_of(flaky)

    with pytest.raises(InvalidRequestError, match=r"advice\.detail"):
        writer.save_advice("assign", "ok", 0.1, 0.0, {"x": float("nan")})

    assert writer.stats().accepted == 0
    writer.close()


@pytest.mark.timeout(60)
def test_close_writes_everything_and_refuses_later_saves(
    flaky: Flaky, database: Path
) -> None:
    """close() writes what is pending and stops; a save after it raises
    StorageError."""
    writer = writer_of(flaky, batch_size=1000, batch_age_s=3600.0)

    save(writer, 0, 3)
    writer.close()

    assert drivers(database) == ["d0", "d1", "d2"]
    with pytest.raises(StorageError, match="closed"):
        save(writer, 3, 1)


@pytest.mark.timeout(60)
def test_close_gives_up_at_its_timeout_loudly(flaky: Flaky) -> None:
    """With storage down, close(timeout) stops the writer and raises,
    saying how many accepted records were not written."""
    writer = writer_of(flaky, batch_size=1000, batch_age_s=3600.0)
    flaky.down = True

    save(writer, 0, 3)
    with pytest.raises(StorageError, match="3 accepted records"):
        writer.close(timeout_s=0.2)


@pytest.mark.timeout(120)
def test_the_service_stores_plans_and_locations_through_the_writer(
    database: Path,
) -> None:
    """As a Service's store, the writer records each served plan with
    its request and plan as the codec's plain data, and each location."""
    request = dataclasses.replace(
        example_request(orders=6, vehicles=2, seed=3),
        options=Options(backend=Backend.HEURISTIC),
    )
    storage = SQLiteStorage(StorageConfig(url=str(database)))
    storage.migrate()
    writer = writer_of(storage)
    service = Service.build(ServiceConfig(), ManualClock(5.0), store=writer)

    answer = service.optimize(request)
    service.update_location("d1", Location("here", 1.5, 2.5))
    writer.close()
    storage.close()

    with sqlite3.connect(database) as conn:
        plans = conn.execute(
            "SELECT fingerprint, request, plan, at FROM plans"
        ).fetchall()
        locations = conn.execute(
            "SELECT driver_id, x, y, at FROM driver_locations"
        ).fetchall()
    assert len(plans) == 1
    fingerprint, stored_request, stored_plan, at = plans[0]
    assert fingerprint == answer.fingerprint
    assert stored_request == _json(request_to_dict(request))
    assert stored_plan == _json(answer.plan.to_dict())
    assert at == 5.0
    assert locations == [("d1", 1.5, 2.5, 5.0)]


def _json(value: Any) -> str:
    from engine.storage.tables import encode_json

    return encode_json(value, "test")
