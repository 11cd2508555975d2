"""Optimization jobs: a request answered later, by id.

A job is ``queued`` when it is accepted, ``running`` once a solve worker
has taken it, and ends ``done`` with the optimize answer as its result,
or ``failed`` with the error. Each state is a
:class:`~engine.storage.JobRecord`. :class:`JobRegistry` keeps jobs in
memory and hands every new state to a :class:`JobSink` (the storage
writer) when one is attached; a job that memory no longer holds (it
expired, or the server restarted) is read back from a
:class:`JobSource` (the storage).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from engine.api.errors import OverloadedError
from engine.storage import JobRecord

if TYPE_CHECKING:
    from engine.clock import Clock

log = logging.getLogger(__name__)

FINISHED: frozenset[str] = frozenset({"done", "failed"})
"""The states a job ends in."""


def job_to_dict(job: JobRecord) -> dict[str, Any]:
    """The body of ``GET /api/jobs/{id}``."""
    return {
        "job_id": job.job_id,
        "state": job.state,
        "result": job.result,
        "error": job.error,
    }


class JobSink(Protocol):
    """Where every new state of a job is recorded."""

    def save_job(self, job: JobRecord) -> None:
        """Record ``job``; may raise when it cannot take the record."""
        ...


class JobSource(Protocol):
    """Where jobs no longer in memory are read from."""

    def job(self, job_id: str) -> JobRecord | None:
        """The last recorded state of ``job_id``, or None."""
        ...


class JobRegistry:
    """Jobs by id, in memory, bounded, with an optional sink and source.

    Parameters
    ----------
    clock
        Stamps every state and expires finished jobs.
    max_active
        Jobs queued or running at once; one more is refused with
        :class:`~engine.api.errors.OverloadedError`.
    ttl_s
        Seconds a finished job stays in memory.
    max_finished
        Finished jobs kept in memory at most; the oldest go first.
    sink, source
        The storage behind memory, if any.

    Safe to call from several threads.
    """

    def __init__(
        self,
        clock: Clock,
        max_active: int,
        ttl_s: float,
        max_finished: int,
        sink: JobSink | None = None,
        source: JobSource | None = None,
        retry_after_s: int = 1,
    ) -> None:
        self._clock = clock
        self.max_active = max_active
        self.ttl_s = ttl_s
        self.max_finished = max_finished
        self._sink = sink
        self._source = source
        self._retry_after_s = retry_after_s
        self._active: dict[str, JobRecord] = {}
        self._finished: OrderedDict[str, JobRecord] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def active(self) -> int:
        """Jobs queued or running."""
        return len(self._active)

    def create(self) -> JobRecord:
        """A new queued job; refused when too many are active."""
        now = self._clock.now()
        with self._lock:
            self._expire(now)
            if len(self._active) >= self.max_active:
                raise OverloadedError(
                    f"{len(self._active)} jobs are queued or running",
                    self._retry_after_s,
                )
            job = JobRecord(uuid.uuid4().hex, "queued", now, now)
            self._record(job)
            self._active[job.job_id] = job
        return job

    def start(self, job_id: str) -> None:
        """A worker took the job."""
        self._move(job_id, state="running")

    def finish(self, job_id: str, fingerprint: str, result: Any) -> None:
        """The job ended with an answer."""
        self._move(
            job_id, state="done", fingerprint=fingerprint, result=result
        )

    def fail(self, job_id: str, error: str) -> None:
        """The job ended without an answer, for the reason ``error``."""
        self._move(job_id, state="failed", error=error)

    def get(self, job_id: str) -> JobRecord | None:
        """The job's latest state, from memory or else the source."""
        with self._lock:
            job = self._active.get(job_id) or self._finished.get(job_id)
        if job is None and self._source is not None:
            job = self._source.job(job_id)
        return job

    def fail_active(self, error: str) -> int:
        """Fail every job still queued or running (the server stops);
        returns how many."""
        with self._lock:
            ids = list(self._active)
        for job_id in ids:
            self.fail(job_id, error)
        return len(ids)

    def _move(self, job_id: str, **changes: Any) -> None:
        now = self._clock.now()
        with self._lock:
            job = self._active.get(job_id)
            if job is None:
                return
            job = replace(job, updated_at=now, **changes)
            if job.state in FINISHED:
                del self._active[job_id]
                self._finished[job_id] = job
                while len(self._finished) > self.max_finished:
                    self._finished.popitem(last=False)
            else:
                self._active[job_id] = job
            self._record(job)

    def _record(self, job: JobRecord) -> None:
        if self._sink is None:
            return
        try:
            self._sink.save_job(job)
        except Exception:
            if job.state == "queued":
                raise
            # A later state that storage cannot take is still served
            # from memory; the writer counts and logs its own failures.
            log.exception("job %s: state %s not stored", job.job_id, job.state)

    def _expire(self, now: float) -> None:
        horizon = now - self.ttl_s
        while self._finished:
            job = next(iter(self._finished.values()))
            if job.updated_at > horizon:
                break
            self._finished.popitem(last=False)
