"""A replay as a run: the benchmark's day against the real engine.

:func:`simulate_replay` replays a scenario's benchmark instance in a SimPy
environment of its own. Each engine call is served like any other
simulated request (:class:`~simulator.port.EnginePort`): the engine runs
for real, its compute and the advisor's modelled latency are charged,
and the assignments take effect once the modelled part has passed. The
run directory holds what a city run writes, the benchmark's own three
solution files, and the benchmark's measures under ``replay`` in
``results.json``.

Order lifecycles map onto the run's order table in simulated seconds:
placement is creation, the assignment's decision its assignment, the
bundle's pickup and each drop-off as they happened. An order is on time
when its click-to-door is within the instance's target; orders never
assigned are still open at the end (the benchmark cancels nothing).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from simulator.port import EnginePort
from simulator.recorder import Recorder
from simulator.replay.instance import read_instance
from simulator.replay.run import ReplayResult, replay_process
from simulator.replay.solution import write_solution
from simulator.world import SimClock, random_streams

if TYPE_CHECKING:
    from collections.abc import Generator
    from pathlib import Path

    from engine.model import Plan, Request
    from engine.service import Service
    from simulator.scenario import Scenario
    from simulator.state import DriverState, OrderState


class ReplayWorld:
    """A replay in its own environment, served by the scenario's engine.

    It offers what :func:`simulator.run.write_run` reads of a world: the
    scenario, the environment, the recorder, the service, the order
    table and the drivers' time. ``run_dir`` holds the engine's SQLite
    file where the scenario has storage without a URL.

    .. note::
       A replay still running at the scenario's end has no result: its
       run directory then holds no solution files, and ``replay`` in
       ``results.json`` is null. Give the scenario a duration that
       covers the instance's last courier shift.
    """

    def __init__(
        self, scenario: Scenario, seed: int, run_dir: Path | None = None
    ) -> None:
        from simulator.assembly import build_service

        assert scenario.replay is not None
        self.scenario = scenario
        self.config = scenario.replay
        self.instance = read_instance(self.config.instance)
        self.env = simpy.Environment()
        self.clock = SimClock(self.env)
        self.recorder = Recorder(self.clock)
        streams = random_streams(seed)
        self.service: Service = build_service(
            scenario, self.clock, self.recorder, streams["advisor"], run_dir
        )
        self.port = EnginePort(
            self.env,
            scenario.engine.workers,
            self.recorder,
            scenario.engine.extra_service_s,
            scenario.engine.slowdown,
        )
        self.orders: dict[str, OrderState] = {}
        """No city orders: a replay's orders live in its instance, so
        the live city metrics stay empty and its run directory holds
        its figures."""
        self.drivers: dict[str, DriverState] = {}
        """No city drivers, for the same reason."""
        self._process = self.env.process(
            replay_process(
                self.env,
                self.instance,
                self.config.policy,
                self.config.epoch_min,
                self._plan,
            )
        )

    @property
    def result(self) -> ReplayResult | None:
        """The replay's decisions and measures, once it has ended."""
        if not self._process.triggered:
            return None
        value = self._process.value
        assert isinstance(value, ReplayResult)
        return value

    @property
    def placed(self) -> int:
        """Orders placed so far."""
        now = self.env.now / 60
        return sum(1 for o in self.instance.orders if o.placement <= now)

    def run(self, until: float | None = None) -> None:
        """Replay on to ``until`` simulated seconds (the scenario's
        duration by default); a replay ends by itself when every order
        is assigned or no courier can pick up any more."""
        self.env.run(
            until=self.scenario.duration_s if until is None else until
        )

    def _plan(self, request: Request) -> Generator[simpy.Event, Any, Plan]:
        served = self.port.optimize("dispatch", self.service, request)
        if served.modelled_s > 0:
            yield self.env.timeout(served.modelled_s)
        return served.value.plan

    def orders_frame(self) -> pd.DataFrame:
        """Every order of the instance, its life in simulated seconds."""
        timing: dict[str, tuple[float, float, float]] = {}
        executions = self.result.executions if self.result else ()
        for execution in executions:
            assignment = execution.assignment
            for order_id, dropoff in zip(
                assignment.orders, execution.dropoffs, strict=True
            ):
                timing[order_id] = (
                    60.0 * assignment.time,
                    60.0 * execution.pickup,
                    60.0 * dropoff,
                )
        target = self.instance.parameters.target_ctd
        orders = self.instance.orders
        never = (math.nan, math.nan, math.nan)
        lives = [timing.get(order.id, never) for order in orders]
        return pd.DataFrame(
            {
                "order_id": [order.id for order in orders],
                "created_s": [60.0 * order.placement for order in orders],
                "assigned_s": [life[0] for life in lives],
                "picked_s": [life[1] for life in lives],
                "delivered_s": [life[2] for life in lives],
                "cancelled_s": np.full(len(orders), math.nan),
                "due_s": [
                    60.0 * (order.placement + target) for order in orders
                ],
            }
        )

    def driver_time(self, simulated_s: float) -> tuple[float, float]:
        """Courier seconds on assignments within shifts, and shift
        seconds: the benchmark's utilization."""
        shifts = sum(c.off - c.on for c in self.instance.couriers)
        utilization = (
            self.result.measures()["courier_utilization"]
            if self.result
            else None
        )
        busy = float(utilization or 0.0) * shifts
        return 60.0 * busy, 60.0 * shifts

    def write_solution(self, out: Path) -> dict[str, Any] | None:
        """Write the benchmark's solution files; returns its measures,
        or None when the replay did not finish."""
        if self.result is None:
            return None
        write_solution(self.result, out)
        measures: dict[str, Any] = dict(self.result.measures())
        measures["instance"] = self.instance.name
        measures["policy"] = self.result.policy
        return measures
