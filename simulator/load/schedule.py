"""The open arrival model of a load run, and what each send recorded.

Requests arrive on a schedule, whether or not earlier answers came back:
a Poisson process at the :class:`~simulator.load.shape.CompressedDay`'s
rate, drawn once per process. The process's users are its concurrency:
each takes the next arrival when it is free, waits for its instant and
sends it. When every user is busy past an arrival's instant, that send
starts late; the time it waited is part of its latency, as a customer
would see it, so that a slow service cannot hide behind a slow client
(coordinated omission).

.. note::
   With several Locust workers each process draws its own arrivals at
   its users' share of the run's users. While users are still being
   spawned (a second at the start) a worker's share is below its final
   one; a single process always sends at the full rate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulator.recorder import sample_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

    from simulator.load.shape import CompressedDay

LATE_AFTER_S = 0.02
"""A send that starts more than this many seconds after its scheduled
instant counts as late."""

SAMPLE_COLUMNS = (
    "endpoint",
    "arrival_s",
    "wait_s",
    "service_s",
    "latency_s",
    "outcome",
    "cache",
    "status",
    "late",
    "simulated_s",
)
"""Columns of a load run's ``samples.parquet``: the simulation's first
seven, then the HTTP status (0 where no answer came), whether the send
was late, and the simulated second the request stands for."""


class Schedule:
    """Poisson arrivals over a run, taken in order by free users.

    Parameters
    ----------
    day
        The run's rate at each wall second.
    rng
        The stream the gaps are drawn from.
    users
        The run's users over all processes, or ``None`` when this
        process runs them all.
    clock
        Wall seconds; the run's time is measured from :meth:`start`.
    """

    def __init__(
        self,
        day: CompressedDay,
        rng: np.random.Generator,
        users: int | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.day = day
        self.users = 0
        """Users of this process taking arrivals now."""
        self._total = users
        self._rng = rng
        self._clock = clock
        self._origin = clock()
        self._next: float | None = None
        self.taken = 0
        """Arrivals taken so far."""
        self._missed: int | None = None
        self._share = self.share

    @property
    def share(self) -> float:
        """This process's share of the run's rate."""
        if self._total is None:
            return 1.0
        return min(self.users / self._total, 1.0)

    def start(self) -> None:
        """Start the run's clock now; the first arrival is drawn when
        first taken, at the share of that moment."""
        self._origin = self._clock()
        self._next = None

    def now(self) -> float:
        """Wall seconds since :meth:`start`."""
        return self._clock() - self._origin

    def take(self) -> float | None:
        """The instant of the next arrival, which the caller now owns;
        ``None`` once the run has no more."""
        self._share = self.share
        return self._advance()

    def _advance(self) -> float | None:
        # The first arrival is drawn when first asked for: a worker's
        # users are spawned after the run starts.
        if self._next is None:
            self._next = self.day.next_arrival(
                0.0, self._rng.exponential(), self._share
            )
        due = self._next
        if not due < self.day.duration_s:
            return None
        self._next = self.day.next_arrival(
            due, self._rng.exponential(), self._share
        )
        self.taken += 1
        return due

    @property
    def missed_so_far(self) -> int:
        """What :meth:`missed` counted, or 0 while the run goes on."""
        return self._missed or 0

    def missed(self) -> int:
        """Arrivals of the run that nobody took: the rest of the
        schedule, drawn on to the end at the share of the last arrival
        taken (users have stopped by then). Ends the schedule, and gives
        the same count when asked again."""
        if self._missed is None:
            if self._next is None:
                self._share = self.share
            taken = self.taken
            while self._advance() is not None:
                pass
            self._missed = self.taken - taken
            self.taken = taken
        return self._missed


@dataclass
class Record:
    """Every send of one process, and the arrivals it had nothing to
    send for."""

    samples: list[tuple[str, float, float, float, str, str, int, float]] = (
        field(default_factory=list)
    )
    skipped: int = 0
    """Arrivals at a moment when the city had nobody to send a request
    (before the first order, say)."""

    def add(
        self,
        endpoint: str,
        arrival_s: float,
        wait_s: float,
        service_s: float,
        outcome: str,
        cache: str,
        status: int,
        simulated_s: float,
    ) -> None:
        """Record one answered (or failed) send."""
        self.samples.append(
            (
                endpoint,
                arrival_s,
                wait_s,
                service_s,
                outcome,
                cache,
                status,
                simulated_s,
            )
        )

    @property
    def sent(self) -> int:
        """Sends recorded."""
        return len(self.samples)

    @property
    def late(self) -> int:
        """Sends that started more than :data:`LATE_AFTER_S` late."""
        return sum(1 for s in self.samples if s[2] > LATE_AFTER_S)

    def frame(self) -> pd.DataFrame:
        """One row per send, in the columns of :data:`SAMPLE_COLUMNS`,
        ordered by scheduled instant."""
        rows = sorted(self.samples, key=lambda s: s[1])
        columns = list(zip(*rows, strict=True)) if rows else [()] * 8
        endpoint, arrival, wait, service, outcome, cache, status, sim = columns
        wait_s = np.asarray(wait, dtype=np.float64)
        return sample_frame(
            endpoint,
            arrival,
            wait_s,
            service,
            outcome,
            cache,
            {
                "status": np.asarray(status, dtype=np.int64),
                "late": wait_s > LATE_AFTER_S,
                "simulated_s": np.asarray(sim, dtype=np.float64),
            },
        )[list(SAMPLE_COLUMNS)]
