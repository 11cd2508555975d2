"""Tests of the job registry: each job goes queued, running, done or
failed, every state reaches the sink, the number of active jobs is
bounded, finished jobs expire from memory and are then read from the
source."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from engine.api import JobRegistry, OverloadedError
from engine.clock import ManualClock

if TYPE_CHECKING:
    from engine.storage import JobRecord


class Sink:
    """A sink and source that keeps every state, the latest by id."""

    def __init__(self) -> None:
        self.saved: list[JobRecord] = []
        self.reads: list[str] = []
        self.full = False

    def save_job(self, job: JobRecord) -> None:
        if self.full:
            raise OverloadedError("sink is full")
        self.saved.append(job)

    def job(self, job_id: str) -> JobRecord | None:
        self.reads.append(job_id)
        states = [job for job in self.saved if job.job_id == job_id]
        return states[-1] if states else None


def _registry(
    clock: ManualClock, sink: Sink | None = None, max_active: int = 2
) -> JobRegistry:
    return JobRegistry(
        clock, max_active, ttl_s=60.0, max_finished=10, sink=sink, source=sink
    )


def test_lifecycle_reaches_the_sink_in_order() -> None:
    """A job is queued, running, then done with its result; each state
    is stamped by the clock and handed to the sink."""
    clock = ManualClock(100.0)
    sink = Sink()
    jobs = _registry(clock, sink)
    job = jobs.create()
    clock.advance(1.0)
    jobs.start(job.job_id)
    clock.advance(2.0)
    jobs.finish(job.job_id, "fp", {"plan": 1})

    states = [(saved.state, saved.updated_at) for saved in sink.saved]
    assert states == [("queued", 100.0), ("running", 101.0), ("done", 103.0)]
    done = jobs.get(job.job_id)
    assert done is not None
    assert (done.fingerprint, done.result, done.created_at) == (
        "fp",
        {"plan": 1},
        100.0,
    )
    assert jobs.active == 0


def test_active_jobs_are_bounded() -> None:
    """With max_active jobs queued or running, one more is refused with
    OverloadedError; once one ends, a new one is taken."""
    jobs = _registry(ManualClock(), max_active=2)
    first = jobs.create()
    jobs.create()
    with pytest.raises(OverloadedError):
        jobs.create()
    jobs.fail(first.job_id, "boom")
    failed = jobs.get(first.job_id)
    assert failed is not None
    assert (failed.state, failed.error) == ("failed", "boom")
    jobs.create()


def test_finished_jobs_expire_to_the_source() -> None:
    """A finished job older than ttl_s leaves memory at the next create;
    it is then read from the source; without a source it is gone."""
    clock = ManualClock()
    sink = Sink()
    jobs = _registry(clock, sink)
    bare = _registry(clock)
    done = jobs.create()
    jobs.finish(done.job_id, "fp", {})
    lost = bare.create()
    bare.finish(lost.job_id, "fp", {})
    assert jobs.get(done.job_id) is not None
    assert sink.reads == []

    clock.advance(61.0)
    jobs.create()
    bare.create()
    expired = jobs.get(done.job_id)
    assert sink.reads == [done.job_id]
    assert expired is not None
    assert expired.state == "done"
    assert bare.get(lost.job_id) is None


def test_a_job_the_sink_refuses_is_not_created() -> None:
    """When the sink refuses the queued state, create raises and no job
    is active; a refused later state still updates memory."""
    sink = Sink()
    jobs = _registry(ManualClock(), sink)
    job = jobs.create()
    sink.full = True
    with pytest.raises(OverloadedError):
        jobs.create()
    assert jobs.active == 1
    jobs.finish(job.job_id, "fp", {})
    finished = jobs.get(job.job_id)
    assert finished is not None
    assert finished.state == "done"


def test_fail_active_ends_every_open_job() -> None:
    """At shutdown every queued or running job fails with the reason."""
    jobs = _registry(ManualClock(), max_active=3)
    queued = jobs.create()
    running = jobs.create()
    jobs.start(running.job_id)
    assert jobs.fail_active("stopped") == 2
    for job in (queued, running):
        ended = jobs.get(job.job_id)
        assert ended is not None
        assert (ended.state, ended.error) == ("failed", "stopped")
