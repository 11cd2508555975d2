"""The batching writer in simulated time.

The engine's :class:`~engine.storage.BatchWriter` drains its buffer from
a thread on the wall clock, which a simulation running hundreds of times
faster than the day it simulates cannot use: the database would see the
day's writes at hundreds of times their rate. :class:`SimulatedWriter`
keeps the writer's policy (a bounded buffer, batches of ``batch_size``
once that many wait or the oldest is ``batch_age_s`` old, a failed batch
kept and tried again after ``retry_base_s`` doubling to ``retry_max_s``)
and runs it as a SimPy process on the simulation's clock. Each batch is
written for real, to the same SQLite or PostgreSQL backend the service
uses, and its measured wall time is charged to simulated time, as the
engine's compute is (the design's two clocks).

A ``storage_slow`` fault stretches every batch written inside its
window by its factor: the writer falls behind, its buffer grows, and
once it holds ``buffer_limit`` records, saves are refused with
:class:`~engine.storage.StorageFullError` and the requests that made
them fail, as the HTTP API answers 503 then.

.. note::
   Whether a slow window fills the buffer depends on the measured
   write times, so on this machine's speed. A run whose buffer never
   fills keeps the plans and KPIs its seed fixes; one whose buffer
   fills refuses requests, and those depend on the machine.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from engine.storage import (
    RecordSaver,
    StorageError,
    StorageFullError,
    WriterStats,
)
from engine.storage.tables import check_record, table_of

if TYPE_CHECKING:
    from collections.abc import Generator, Sequence

    import simpy

    from engine.storage import Record, Storage, StorageConfig

log = logging.getLogger(__name__)

SlowWindow = tuple[float, float, float]
"""A ``storage_slow`` fault: start and end in simulated seconds, and the
factor by which writes inside it are stretched."""


class SimulatedWriter(RecordSaver):
    """A :class:`~engine.service.PlanStore` whose batches are written on
    the simulation's clock. Start :meth:`run` as a SimPy process.

    Parameters
    ----------
    env
        The simulation's environment.
    storage
        Where batches are written, for real.
    config
        ``batch_size``, ``batch_age_s``, ``buffer_limit``,
        ``retry_base_s`` and ``retry_max_s``.
    slow
        Windows in which writes take longer, and by what factor.
    """

    def __init__(
        self,
        env: simpy.Environment,
        storage: Storage,
        config: StorageConfig,
        slow: Sequence[SlowWindow] = (),
    ) -> None:
        self.env = env
        self.storage = storage
        self.config = config
        self.slow = tuple(slow)
        self._queue: deque[tuple[float, Record]] = deque()
        self._wake: simpy.Event | None = None
        self._accepted = 0
        self._written = 0
        self._batches = 0
        self._retries = 0
        self._rejected = 0
        self._durations: list[float] = []
        self._in_database: tuple[int, float] | None = None
        """The batch at the head of the buffer that is in the database
        while its charged time runs: its size and that time."""
        self._closed = False

    def run(self) -> Generator[simpy.Event, Any, None]:
        """The writer's process: each batch once it is due, written and
        charged, until the simulation ends."""
        env = self.env
        config = self.config
        while True:
            if not self._queue:
                self._wake = env.event()
                yield self._wake
                continue
            oldest = self._queue[0][0]
            if len(self._queue) < config.batch_size:
                due = oldest + config.batch_age_s
                if due > env.now:
                    self._wake = env.event()
                    yield env.any_of([self._wake, env.timeout(due - env.now)])
                    continue
            count = min(config.batch_size, len(self._queue))
            batch = [self._queue[k][1] for k in range(count)]
            yield from self._write(batch)
            self._landed()

    def close(self) -> None:
        """Write what the buffer still holds, at the end of the run, and
        refuse saves from now on.

        Raises
        ------
        StorageError
            When a batch cannot be written (the database is
            unreachable); the records from it on are not written.
        """
        self._closed = True
        # A batch in the database whose charged time had not run out
        # when the simulation ended is written already.
        self._landed()
        while self._queue:
            count = min(self.config.batch_size, len(self._queue))
            batch = [self._queue.popleft()[1] for _ in range(count)]
            began = time.perf_counter()
            self.storage.write(batch, uuid.uuid4().hex)
            self._done(batch, time.perf_counter() - began)

    def stats(self) -> WriterStats:
        """The writer's counts; ``durations`` are the simulated seconds
        each batch write was charged."""
        return WriterStats(
            accepted=self._accepted,
            written=self._written,
            batches=self._batches,
            retries=self._retries,
            rejected=self._rejected,
            pending=len(self._queue),
            durations=tuple(self._durations),
        )

    def _accept(self, record: Record) -> None:
        check_record(record)
        if self._closed:
            raise StorageError("the storage writer is closed")
        limit = self.config.buffer_limit
        if len(self._queue) >= limit:
            self._rejected += 1
            raise StorageFullError(table_of(record).operation, limit)
        self._queue.append((self.env.now, record))
        self._accepted += 1
        # The process sleeps until a first record arrives, then until the
        # batch is full or old enough: a wake-up for those two alone.
        wake = self._wake
        held = len(self._queue)
        if (
            wake is not None
            and not wake.triggered
            and (held == 1 or held >= self.config.batch_size)
        ):
            wake.succeed()

    def _write(self, batch: list[Record]) -> Generator[simpy.Event, Any, None]:
        """Write ``batch`` for real, charging its time, until it is in."""
        config = self.config
        batch_id = uuid.uuid4().hex
        failures = 0
        while True:
            began = time.perf_counter()
            try:
                self.storage.write(batch, batch_id)
            except StorageError as error:
                spent = time.perf_counter() - began
                failures += 1
                self._retries += 1
                delay = min(
                    config.retry_base_s * 2.0 ** min(failures - 1, 64),
                    config.retry_max_s,
                )
                log.warning(
                    "storage write of %d records failed (attempt %d): %s",
                    len(batch),
                    failures,
                    error,
                )
                yield self.env.timeout(self._charged(spent) + delay)
                continue
            charged = self._charged(time.perf_counter() - began)
            self._in_database = (len(batch), charged)
            yield self.env.timeout(charged)
            return

    def _landed(self) -> None:
        """Take the batch written to the database off the buffer."""
        if self._in_database is None:
            return
        count, charged = self._in_database
        self._in_database = None
        batch = [self._queue.popleft()[1] for _ in range(count)]
        self._done(batch, charged)

    def _charged(self, seconds: float) -> float:
        now = self.env.now
        for start, end, factor in self.slow:
            if start <= now < end:
                return seconds * factor
        return seconds

    def _done(self, batch: list[Record], seconds: float) -> None:
        self._written += len(batch)
        self._batches += 1
        self._durations.append(seconds)
