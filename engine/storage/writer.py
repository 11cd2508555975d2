"""The batching writer: records saved on the request path, written by a
thread of its own in multi-row batches.

::

    save_plan / save_location / save_job / save_advice
        │ accepted into a bounded buffer (or refused: StorageFullError)
        ▼
    writer thread: a batch of up to batch_size records, once batch_size
        wait or the oldest is batch_age_s old
        │ Storage.write(batch): one transaction
        ├── ok: written, the next batch
        └── failed: the same batch again after retry_base_s,
            doubling up to retry_max_s, until it is written

A request pays for building its record, not for a round trip to the
database; the database pays for one transaction per batch instead of one
per record.
"""

from __future__ import annotations

import abc
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.codec import request_to_dict
from engine.storage.base import (
    AdviceRecord,
    LocationRecord,
    NullHooks,
    PlanRecord,
    StorageError,
    StorageFullError,
    StorageUnavailableError,
)
from engine.storage.tables import check_record, table_of

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType
    from typing import Any

    from engine.model import Location, Plan, Request
    from engine.storage.base import (
        JobRecord,
        Record,
        Storage,
        StorageHooks,
    )
    from engine.storage.config import StorageConfig

log = logging.getLogger(__name__)

DURATIONS_KEPT = 100_000
"""Batch write durations kept in :attr:`WriterStats.durations`: the
latest this many."""


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counts of a :class:`BatchWriter` since it started.

    ``accepted`` records were taken into the buffer, ``written`` of them
    are in the database, ``pending`` are not yet (``accepted -
    written``). ``rejected`` saves were refused with a full buffer.
    ``batches`` writes succeeded; ``retries`` failed and were tried
    again. ``durations`` are the wall seconds of the successful batch
    writes, the latest :data:`DURATIONS_KEPT`.
    """

    accepted: int
    written: int
    batches: int
    retries: int
    rejected: int
    pending: int
    durations: tuple[float, ...]


class RecordSaver(abc.ABC):
    """The saves of the engine's :class:`~engine.service.PlanStore`, and
    of jobs and advice, each building its record and handing it to
    :meth:`_accept`, which a writer defines."""

    def save_plan(
        self, fingerprint: str, request: Request, plan: Plan, at: float
    ) -> None:
        """Accept a served plan and its request."""
        self._accept(
            PlanRecord(
                fingerprint, request_to_dict(request), plan.to_dict(), at
            )
        )

    def save_location(
        self, driver_id: str, location: Location, at: float
    ) -> None:
        """Accept a driver's reported location."""
        self._accept(LocationRecord(driver_id, location.x, location.y, at))

    def save_job(self, job: JobRecord) -> None:
        """Accept a job's state."""
        self._accept(job)

    def save_advice(
        self,
        kind: str,
        outcome: str,
        latency_s: float,
        at: float,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Accept one advisor call and how it ended."""
        self._accept(
            AdviceRecord(kind, outcome, latency_s, at, dict(detail or {}))
        )

    @abc.abstractmethod
    def _accept(self, record: Record) -> None:
        """Take ``record`` into the buffer, or refuse it."""


class BatchWriter(RecordSaver):
    """Saves records into a bounded buffer; a thread writes them in
    batches to ``storage``.

    It implements the engine's :class:`~engine.service.PlanStore`, so a
    :class:`~engine.service.Service` stores its plans and locations
    through it. It is safe to call from several threads.

    Guarantees:

    - Every accepted record is written exactly once, in the order of
      acceptance, unless :meth:`close` gives up at its timeout (and
      then it raises, saying how many were not written). Each batch
      carries an id, so that one retried after a commit whose outcome
      was lost is not written twice.
    - A failed write keeps its batch and tries it again, after
      ``retry_base_s`` doubling up to ``retry_max_s``; each failure is
      logged. Records keep being accepted meanwhile.
    - A save that would make the buffer hold more than
      ``buffer_limit`` unwritten records is refused: it raises
      :class:`~engine.storage.StorageFullError` and calls
      ``hooks.on_rejected``.
    - A record whose JSON fields cannot be encoded is refused on the
      spot with :class:`~engine.errors.InvalidRequestError`.

    .. warning::
       A batch that the database refuses for its content (a text with
       a NUL character, which PostgreSQL does not store) is retried
       like an outage, and holds back the records after it; such
       failures are logged at ERROR.

    Parameters
    ----------
    storage
        Where batches are written. The writer does not close it.
    config
        ``batch_size``, ``batch_age_s``, ``buffer_limit``,
        ``retry_base_s`` and ``retry_max_s``.
    hooks
        Told of refused saves.
    """

    def __init__(
        self,
        storage: Storage,
        config: StorageConfig,
        hooks: StorageHooks | None = None,
    ) -> None:
        self.storage = storage
        self.config = config
        self._hooks = hooks or NullHooks()
        self._lock = threading.Condition()
        self._queue: deque[tuple[float, Record]] = deque()
        self._batch: list[Record] = []
        self._batch_id = ""
        self._accepted = 0
        self._written = 0
        self._batches = 0
        self._retries = 0
        self._rejected = 0
        self._durations: deque[float] = deque(maxlen=DURATIONS_KEPT)
        self._flushing = 0
        self._closing = False
        self._abandoned = False
        self._thread = threading.Thread(
            target=self._run, name="barq-storage-writer", daemon=True
        )
        self._thread.start()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every record accepted so far is written.

        Records waiting for their batch to fill are written at once.
        Returns False when ``timeout_s`` seconds passed first, or the
        writer was closed with records unwritten.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._lock:
            target = self._accepted
            self._flushing += 1
            self._lock.notify_all()
            try:
                while self._written < target:
                    if self._abandoned:
                        return False
                    wait = None
                    if deadline is not None:
                        wait = deadline - time.monotonic()
                        if wait <= 0:
                            return False
                    self._lock.wait(wait)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout_s: float | None = None) -> None:
        """Write everything accepted, and stop the thread.

        Saves are refused from now on. Closing twice does nothing.

        Raises
        ------
        StorageError
            When records were still unwritten after ``timeout_s``
            seconds (storage unreachable); they are lost, and the
            message says how many.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._lock.notify_all()
        flushed = self.flush(timeout_s)
        with self._lock:
            self._abandoned = not flushed
            lost = self._accepted - self._written
            self._lock.notify_all()
        self._thread.join()
        if lost:
            log.error("storage writer closed with %d records unwritten", lost)
            raise StorageError(
                f"{lost} accepted records were not written: storage "
                f"was unreachable for the {timeout_s} s close allowed"
            )

    def stats(self) -> WriterStats:
        """The writer's counts now."""
        with self._lock:
            return WriterStats(
                accepted=self._accepted,
                written=self._written,
                batches=self._batches,
                retries=self._retries,
                rejected=self._rejected,
                pending=self._accepted - self._written,
                durations=tuple(self._durations),
            )

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self, record: Record) -> None:
        check_record(record)
        limit = self.config.buffer_limit
        with self._lock:
            if self._closing:
                raise StorageError("the storage writer is closed")
            held = len(self._queue) + len(self._batch)
            if held < limit:
                self._queue.append((time.monotonic(), record))
                self._accepted += 1
                # The thread waits without a deadline while the queue
                # is empty, and for the age of the oldest record after.
                if held == 0 or len(self._queue) == self.config.batch_size:
                    self._lock.notify_all()
                return
            self._rejected += 1
        operation = table_of(record).operation
        self._hooks.on_rejected(operation)
        raise StorageFullError(operation, limit)

    def _run(self) -> None:
        failures = 0
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            began = time.perf_counter()
            try:
                self.storage.write(batch, self._batch_id)
            except Exception as error:
                failures += 1
                self._failed(batch, error, failures)
                continue
            seconds = time.perf_counter() - began
            failures = 0
            with self._lock:
                self._batch = []
                self._written += len(batch)
                self._batches += 1
                self._durations.append(seconds)
                self._lock.notify_all()

    def _next_batch(self) -> list[Record] | None:
        """The batch to write: the one that failed last, or the next
        one once it is due; None when the writer stops."""
        config = self.config
        with self._lock:
            while True:
                if self._abandoned:
                    return None
                if self._batch:
                    return self._batch
                wait = None
                if self._queue:
                    age = time.monotonic() - self._queue[0][0]
                    if (
                        len(self._queue) >= config.batch_size
                        or age >= config.batch_age_s
                        or self._flushing
                        or self._closing
                    ):
                        count = min(config.batch_size, len(self._queue))
                        self._batch = [
                            self._queue.popleft()[1] for _ in range(count)
                        ]
                        self._batch_id = uuid.uuid4().hex
                        return self._batch
                    wait = config.batch_age_s - age
                elif self._closing:
                    return None
                self._lock.wait(wait)

    def _failed(
        self, batch: list[Record], error: Exception, failures: int
    ) -> None:
        """Count and log a failed write, then wait before the next try."""
        config = self.config
        doubled = config.retry_base_s * 2.0 ** min(failures - 1, 64)
        delay = min(doubled, config.retry_max_s)
        level = (
            logging.WARNING
            if isinstance(error, StorageUnavailableError)
            else logging.ERROR
        )
        log.log(
            level,
            "storage write of %d records failed (attempt %d): %s; "
            "retrying in %.2f s",
            len(batch),
            failures,
            error,
            delay,
        )
        with self._lock:
            self._retries += 1
            deadline = time.monotonic() + delay
            while not self._abandoned:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    break
                self._lock.wait(wait)
