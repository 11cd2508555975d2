"""PostgreSQL stopped and started again under a writer that keeps
accepting records: no accepted record is lost or written twice."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import psycopg
import pytest

from engine.model import Location
from engine.storage import (
    BatchWriter,
    StorageConfig,
    StorageFullError,
    open_storage,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import RecordingHooks, ScratchCluster

OUTAGE_S = 2.0
"""How long the server stays down: long enough for writes to fail and
records to pile up (not a measured duration)."""


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; the test's timeout bounds the
    wait."""
    while not condition():
        time.sleep(0.02)


class Producer:
    """Saves a location of a new driver id every millisecond, in a
    thread, keeping the ids accepted and counting the refused."""

    def __init__(self, writer: BatchWriter) -> None:
        self.writer = writer
        self.accepted: list[str] = []
        self.refused = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        k = 0
        while not self.stop.is_set():
            driver = f"r{k}"
            try:
                self.writer.save_location(driver, Location("l", k, k), k)
            except StorageFullError:
                self.refused += 1
            else:
                self.accepted.append(driver)
            k += 1
            self.stop.wait(0.001)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_no_accepted_write_is_lost_when_postgres_restarts(
    scratch_cluster: ScratchCluster, hooks: RecordingHooks, mode: str
) -> None:
    """A writer accepts records continuously while its server is stopped
    (``fast``: sessions ended cleanly; ``immediate``: killed, recovered
    from the WAL on start) for a couple of seconds and started again;
    after a flush, every accepted record is in the database exactly
    once, and the outage was seen as failed connections and retried
    writes."""
    config = StorageConfig(
        url=scratch_cluster.url,
        statement_timeout_s=1.0,
        batch_size=50,
        batch_age_s=0.05,
        retry_base_s=0.05,
        retry_max_s=0.5,
        buffer_limit=100_000,
    )
    storage = open_storage(config, hooks)
    writer = BatchWriter(storage, config, hooks)
    producer = Producer(writer)
    producer.thread.start()

    wait_until(lambda: writer.stats().written >= 200)
    scratch_cluster.stop(mode)
    wait_until(lambda: writer.stats().retries >= 1)
    down = writer.stats()
    time.sleep(OUTAGE_S)
    during = writer.stats()
    scratch_cluster.start()
    wait_until(lambda: writer.stats().batches > during.batches)
    wait_until(lambda: writer.stats().accepted >= during.accepted + 200)
    producer.stop.set()
    producer.thread.join()
    assert writer.flush(120)
    writer.close()
    storage.close()

    with psycopg.connect(scratch_cluster.url) as conn:
        stored = [
            row[0]
            for row in conn.execute("SELECT driver_id FROM driver_locations")
        ]
    assert producer.refused == 0
    assert during.accepted > down.accepted
    assert len(stored) == len(producer.accepted)
    assert sorted(stored) == sorted(producer.accepted)
    stats = writer.stats()
    assert stats.written == stats.accepted == len(producer.accepted)
    assert stats.retries >= 1
    assert ("connect", False) in {(q[0], q[3]) for q in hooks.queries}
