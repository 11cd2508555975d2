"""Tests of the open arrival model and of what each send records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulator.load.schedule import (
    LATE_AFTER_S,
    SAMPLE_COLUMNS,
    Record,
    Schedule,
)
from simulator.load.shape import CompressedDay
from simulator.scenario import load_scenario

SMOKE = Path(__file__).resolve().parents[3] / "scenarios" / "smoke.yaml"


class Clock:
    """Wall seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def day() -> CompressedDay:
    """The smoke hour in 10 s at 50 requests per second (flat)."""
    return CompressedDay.of(load_scenario(SMOKE), 10.0, 50.0)


def test_arrivals_come_in_order_until_the_end(day: CompressedDay) -> None:
    """Taken one after another, arrivals rise, stay in the run, and stop
    with None; their number is a Poisson count around 500."""
    schedule = Schedule(day, np.random.default_rng(1), clock=Clock())
    schedule.start()

    taken = []
    while (due := schedule.take()) is not None:
        taken.append(due)

    assert taken == sorted(taken)
    assert taken[0] > 0
    assert taken[-1] < 10.0
    assert abs(len(taken) - 500) < 4 * np.sqrt(500)
    assert schedule.taken == len(taken)
    assert schedule.take() is None


def test_schedule_does_not_wait_for_answers(day: CompressedDay) -> None:
    """The schedule is open: the clock standing still (no answer back)
    does not hold arrivals back, and the time since the start is read
    from the clock."""
    clock = Clock()
    schedule = Schedule(day, np.random.default_rng(2), clock=clock)
    schedule.start()

    first, second = schedule.take(), schedule.take()
    clock.now += 2.5

    assert first is not None
    assert second is not None
    assert second > first
    assert schedule.now() == pytest.approx(2.5)


def test_distributed_share_follows_the_users(day: CompressedDay) -> None:
    """On a worker of a distributed run, the arrivals are its users'
    share of the run's users; alone a process takes them all."""
    alone = Schedule(day, np.random.default_rng(3))
    worker = Schedule(day, np.random.default_rng(3), users=8)
    worker.users = 2

    assert alone.share == 1.0
    assert worker.share == 0.25
    alone.start()
    worker.start()
    counts = [alone.missed(), worker.missed()]
    assert counts[1] == pytest.approx(counts[0] / 4, rel=0.25)


def test_missed_counts_the_rest_of_the_schedule(day: CompressedDay) -> None:
    """What nobody took is drawn on to the end and counted; the schedule
    is then done."""
    schedule = Schedule(day, np.random.default_rng(4))
    schedule.start()
    for _ in range(100):
        schedule.take()

    missed = schedule.missed()

    assert abs(100 + missed - 500) < 4 * np.sqrt(500)
    assert schedule.take() is None
    assert schedule.missed() == missed
    assert schedule.taken == 100


def test_record_frame_has_the_simulation_columns() -> None:
    """Samples come out in the documented columns, ordered by scheduled
    instant, latency being the wait plus the service time, late where
    the wait is past the tolerance."""
    record = Record()
    record.add("eta", 2.0, 0.5, 0.01, "unknown", "", 404, 720.0)
    record.add("location", 1.0, 0.001, 0.002, "ok", "", 204, 360.0)
    record.add("dispatch", 3.0, 0.0, 0.2, "ok", "miss", 200, 1080.0)
    record.skipped += 2

    frame = record.frame()

    assert tuple(frame.columns) == SAMPLE_COLUMNS
    assert frame["endpoint"].tolist() == ["location", "eta", "dispatch"]
    assert frame["latency_s"].tolist() == pytest.approx([0.003, 0.51, 0.2])
    assert frame["late"].tolist() == [False, True, False]
    assert record.late == 1
    assert LATE_AFTER_S < 0.5
    assert record.sent == 3
    assert record.skipped == 2


def test_empty_record_has_the_columns() -> None:
    """A run that sent nothing still writes a readable samples table."""
    frame = Record().frame()

    assert tuple(frame.columns) == SAMPLE_COLUMNS
    assert frame.empty
