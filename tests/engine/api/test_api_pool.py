"""Tests of the solve pool's admission: with its one worker busy, a
caller is refused at once when the waiting room is full, after its wait
budget otherwise, and a caller waiting without a budget is woken and
refused when the pool closes; the busy worker's plan is still
returned."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING

import pytest

from engine.api import Admission, OverloadedError, SolverPool, admitted
from engine.model import Options
from engine.solvers import SolverConfig
from simulator.example import example_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.model import Plan, Request


def _request(seed: int, time_limit: float) -> Request:
    return dataclasses.replace(
        example_request(orders=4, vehicles=2, seed=seed),
        options=Options(time_limit=time_limit),
    )


def _wait_until(condition: Callable[[], bool]) -> None:
    while not condition():
        time.sleep(0.01)


class Caller(threading.Thread):
    """Solves one request in a thread under an admission; keeps the plan
    or the error."""

    def __init__(
        self, pool: SolverPool, request: Request, wait_s: float | None
    ):
        super().__init__(daemon=True)
        self.pool = pool
        self.request = request
        self.admission = Admission(wait_s, self._on_start)
        self.started = threading.Event()
        self.plan: Plan | None = None
        self.error: Exception | None = None

    def _on_start(self) -> None:
        self.started.set()

    def run(self) -> None:
        try:
            with admitted(self.admission):
                self.plan = self.pool(self.request, SolverConfig())
        except Exception as error:
            self.error = error


@pytest.mark.timeout(120)
def test_admission_refuses_instead_of_piling_up() -> None:
    """One worker solving a 1.5 s search, room for one waiting caller: a
    caller with a 0.05 s budget is refused after it; a caller with no
    budget waits, filling the room, so the next is refused at once; the
    waiting one is refused when the pool closes, never having had a
    worker; the first caller gets its plan, and the busy-workers hook
    saw the worker taken and given back."""
    events: list[tuple[int, int]] = []
    pool = SolverPool(
        1, max_waiting=1, on_workers=lambda b, n: events.append((b, n))
    )
    pool.warm_up()
    busy = Caller(pool, _request(1, 1.5), None)
    busy.start()
    assert busy.started.wait(30), busy.error

    timed = Caller(pool, _request(2, 0.1), 0.05)
    timed.start()
    timed.join()
    assert isinstance(timed.error, OverloadedError)
    assert "within 0.05 s" in timed.error.reason

    patient = Caller(pool, _request(3, 0.1), None)
    patient.start()
    _wait_until(lambda: pool.waiting == 1)
    full = Caller(pool, _request(4, 0.1), 10.0)
    full.start()
    full.join()
    assert isinstance(full.error, OverloadedError)
    assert "already wait" in full.error.reason

    pool.close()
    patient.join()
    busy.join()
    assert isinstance(patient.error, OverloadedError)
    assert "stopping" in patient.error.reason
    assert not patient.started.is_set()
    assert busy.error is None
    assert busy.plan is not None
    assert events[0] == (1, 1)
    assert events[-1] == (0, 1)
