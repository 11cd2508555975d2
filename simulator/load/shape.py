"""A scenario's span compressed into a load test's duration.

A load run plays the scenario's span (``duration_s`` simulated seconds
from ``start_hour``: a whole day for the baseline) in ``duration_s``
wall seconds, so wall second ``t`` stands for simulated second
``t * compression``. The request rate follows the scenario's order rate:
the stretches of :func:`simulator.demand.rate_segments` (the hourly
profile, and demand spikes), each scaled so that the busiest stretch
sends ``peak_rate`` requests per wall second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from simulator.demand import rate_segments
from simulator.errors import InputError
from simulator.load.settings import generated_demand

if TYPE_CHECKING:
    import numpy.typing as npt

    from simulator.scenario import Scenario


@dataclass(frozen=True, eq=False)
class CompressedDay:
    """The request rate of a load run, stretch by stretch.

    ``starts`` and ``ends`` are wall seconds of each stretch of constant
    rate, ``rates`` its requests per wall second; together they cover
    ``[0, duration_s)``.
    """

    starts: npt.NDArray[np.float64]
    ends: npt.NDArray[np.float64]
    rates: npt.NDArray[np.float64]
    duration_s: float
    compression: float
    """Simulated seconds per wall second."""

    @classmethod
    def of(
        cls, scenario: Scenario, duration_s: float, peak_rate: float
    ) -> CompressedDay:
        """The span of ``scenario`` in ``duration_s`` wall seconds, at
        ``peak_rate`` requests per second in its busiest stretch."""
        demand = generated_demand(scenario)
        spikes = [f for f in scenario.faults if f.kind == "demand_spike"]
        segments = rate_segments(
            demand,
            scenario.duration_s,
            scenario.start_hour,
            spikes,
        )
        per_second = np.array([s.per_second for s in segments])
        if not per_second.max() > 0:
            raise InputError(
                str(scenario.source or scenario.name),
                "demand.orders_per_day",
                demand.orders_per_day,
                "a load test follows the order rate, which must be > 0 "
                "somewhere in the span",
            )
        compression = scenario.duration_s / duration_s
        return cls(
            starts=np.array([s.start for s in segments]) / compression,
            ends=np.array([s.end for s in segments]) / compression,
            rates=peak_rate * per_second / per_second.max(),
            duration_s=duration_s,
            compression=compression,
        )

    @property
    def peak_rate(self) -> float:
        """Requests per wall second in the busiest stretch."""
        return float(self.rates.max())

    @property
    def expected(self) -> float:
        """Expected requests over the whole run."""
        return float(np.sum(self.rates * (self.ends - self.starts)))

    def simulated(self, t: float) -> float:
        """The simulated second that wall second ``t`` stands for."""
        return t * self.compression

    def rate(self, t: float) -> float:
        """Requests per wall second at wall second ``t`` (0 outside the
        run)."""
        if not 0 <= t < self.duration_s:
            return 0.0
        index = int(np.searchsorted(self.ends, t, side="right"))
        return float(self.rates[min(index, self.rates.size - 1)])

    def next_arrival(self, t: float, draw: float, share: float = 1.0) -> float:
        """The next arrival after wall second ``t`` of a Poisson process
        at ``share`` of the rate, given an exponential ``draw`` with mean
        1; ``inf`` when it would fall after the run.

        The process is drawn exactly: the arrival is where the
        integrated rate from ``t`` reaches ``draw``.
        """
        if share <= 0:
            return math.inf
        remaining = draw / share
        index = int(np.searchsorted(self.ends, t, side="right"))
        for k in range(index, self.rates.size):
            start = max(t, float(self.starts[k]))
            rate = float(self.rates[k])
            mass = rate * (float(self.ends[k]) - start)
            if rate > 0 and remaining <= mass:
                return start + remaining / rate
            remaining -= mass
        return math.inf
