"""The replay loop: epochs of dispatch over one benchmark instance.

:func:`replay_process` is a SimPy process, so that a city simulation can
run a replay in its own environment, with engine calls that wait for a
worker. Simulated time is in seconds: ``env.now / 60`` is the benchmark's
minute. :func:`replay` runs the same process alone, with engine calls
that take no simulated time.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from engine.solvers import solve
from simulator.errors import InputError
from simulator.replay.dispatch import DispatchState, Policy, make_policy

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from engine.model import Plan, Request
    from simulator.replay.instance import Instance
    from simulator.replay.rules import Assignment, Execution, Move

    PlanCall = Callable[[Request], Generator[simpy.Event, Any, Plan]]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The times of one delivered order, in minutes."""

    order: str
    placement: int
    ready: int
    pickup: float
    dropoff: float
    courier: str

    @property
    def click_to_door(self) -> float:
        """Minutes from placement to drop-off."""
        return self.dropoff - self.placement


@dataclass(frozen=True)
class ReplayResult:
    """What a replay decided, and its measures.

    ``executions`` are the assignments in the order they were made, each
    with its timing; ``plan_calls`` counts the engine calls.
    """

    instance: Instance
    policy: str
    executions: tuple[Execution, ...]
    plan_calls: int = 0

    @property
    def assignments(self) -> tuple[Assignment, ...]:
        """Every assignment, in the order it was made."""
        return tuple(e.assignment for e in self.executions)

    @cached_property
    def deliveries(self) -> tuple[Delivery, ...]:
        """One per delivered order, in the instance's order."""
        found = {}
        for execution in self.executions:
            assignment = execution.assignment
            for order_id, dropoff in zip(
                assignment.orders, execution.dropoffs, strict=True
            ):
                order = self.instance.order[order_id]
                found[order_id] = Delivery(
                    order_id,
                    order.placement,
                    order.ready,
                    execution.pickup,
                    dropoff,
                    assignment.courier,
                )
        return tuple(
            found[o.id] for o in self.instance.orders if o.id in found
        )

    @property
    def moves(self) -> tuple[Move, ...]:
        """Every courier move: courier by courier in the instance's
        order, each courier's moves in the order it makes them."""
        by_courier: dict[str, list[Move]] = {
            courier.id: [] for courier in self.instance.couriers
        }
        for execution in self.executions:
            by_courier[execution.assignment.courier].extend(execution.moves)
        return tuple(move for moves in by_courier.values() for move in moves)

    def measures(self) -> dict[str, float | int | None]:
        """The benchmark's measures, in minutes and currency units.

        ``click_to_door_*``, ``over_target*``, ``over_max`` and
        ``ready_to_pickup_mean`` are over delivered orders (None where
        none was delivered). ``click_to_door_bound_mean`` is over every
        order: the mean of :meth:`Instance.click_to_door_bound`, which no
        dispatch policy can beat. ``courier_utilization`` is the share
        of the couriers' shift minutes spent on assignments, from
        departure to leaving the last drop-off (minutes outside the
        shift do not count). ``total_pay`` is, summed over couriers, the
        larger of the pay per order times the orders delivered and the
        guaranteed pay per hour times the shift's hours.
        """
        p = self.instance.parameters
        deliveries = self.deliveries
        ctd = np.array([d.click_to_door for d in deliveries], dtype=float)
        waits = np.array([d.pickup - d.ready for d in deliveries], dtype=float)
        orders = len(self.instance.orders)

        def stat(value: Callable[[], Any]) -> float | None:
            return float(value()) if deliveries else None

        over = int((ctd > p.target_ctd).sum())
        return {
            "orders": orders,
            "delivered": len(deliveries),
            "delivered_share": len(deliveries) / orders if orders else None,
            "click_to_door_mean": stat(ctd.mean),
            "click_to_door_p90": stat(lambda: np.percentile(ctd, 90)),
            "click_to_door_bound_mean": (
                float(
                    np.mean(
                        [
                            self.instance.click_to_door_bound(order)
                            for order in self.instance.orders
                        ]
                    )
                )
                if orders
                else None
            ),
            "over_target": over,
            "over_target_share": stat(lambda: over / len(deliveries)),
            "over_max": int((ctd > p.max_ctd).sum()),
            "ready_to_pickup_mean": stat(waits.mean),
            "courier_utilization": self._utilization(),
            "total_pay": self._pay(),
            "assignments": len(self.executions),
            "orders_per_assignment": (
                len(deliveries) / len(self.executions)
                if self.executions
                else None
            ),
            "plan_calls": self.plan_calls,
        }

    def _utilization(self) -> float | None:
        shifts = sum(c.off - c.on for c in self.instance.couriers)
        busy = 0.0
        for execution in self.executions:
            courier = self.instance.courier[execution.assignment.courier]
            start, end = execution.busy
            busy += max(0.0, min(end, courier.off) - max(start, courier.on))
        return busy / shifts if shifts else None

    def _pay(self) -> float:
        p = self.instance.parameters
        delivered = dict.fromkeys(self.instance.courier, 0)
        for delivery in self.deliveries:
            delivered[delivery.courier] += 1
        return float(
            sum(
                max(
                    p.pay_per_order * delivered[c.id],
                    p.pay_per_hour * (c.off - c.on) / 60,
                )
                for c in self.instance.couriers
            )
        )


def replay_process(
    env: simpy.Environment,
    instance: Instance,
    policy: str | Policy = "engine",
    epoch_min: float = 1,
    plan_call: PlanCall | None = None,
) -> Generator[simpy.Event, Any, ReplayResult]:
    """Replay ``instance`` in ``env``; the process's value is the result.

    Epochs fall every ``epoch_min`` minutes from the first placement (or
    from ``env.now``, if later). At each the orders placed by then open,
    the policy may ask for a plan with ``plan = yield from
    plan_call(request)``, and its assignments are made at the simulated
    time the plan comes back, with what was known at the epoch. An epoch
    that a plan overran is skipped. The loop ends when every order is
    assigned, or when no courier can pick up any more (after the last off
    time); orders still open then are not delivered.

    Raises
    ------
    InputError
        If ``epoch_min`` is not positive, or the policy needs the engine
        and ``plan_call`` is None.
    """
    if not (math.isfinite(epoch_min) and epoch_min > 0):
        raise InputError("replay", "epoch_min", epoch_min, "must be > 0")
    chosen = make_policy(policy) if isinstance(policy, str) else policy
    state = DispatchState(instance)
    if not instance.orders:
        return ReplayResult(instance, chosen.name, ())

    first = min(order.placement for order in instance.orders)
    last_pickup = max((c.off for c in instance.couriers), default=-math.inf)
    epoch = max(0, math.ceil((env.now / 60 - first) / epoch_min))
    calls = 0
    while True:
        yield env.timeout(max(0.0, (first + epoch * epoch_min) * 60 - env.now))
        now = env.now / 60
        state.release(now)
        if (state.all_placed and not state.open) or now > last_pickup:
            break

        request = chosen.request(now, state)
        plan = None
        if request is not None:
            if plan_call is None:
                raise InputError(
                    "replay", "plan_call", None, f"{chosen.name} needs one"
                )
            plan = yield from plan_call(request)
            calls += 1

        decided = env.now / 60
        epoch = max(epoch + 1, math.floor((decided - first) / epoch_min) + 1)
        next_epoch = first + epoch * epoch_min
        for assignment in chosen.assign(decided, state, plan, next_epoch):
            state.apply(assignment)

    assigned = sum(len(e.assignment.orders) for e in state.executions)
    log.info(
        "replayed %s with %s: %d of %d orders assigned, %d engine calls",
        instance.name,
        chosen.name,
        assigned,
        len(instance.orders),
        calls,
    )
    return ReplayResult(instance, chosen.name, tuple(state.executions), calls)


def immediate(
    plan: Callable[[Request], Plan],
) -> PlanCall:
    """A plan call that answers at once, taking no simulated time."""

    def call(request: Request) -> Generator[simpy.Event, Any, Plan]:
        # A generator function that yields nothing: the plan is ready now.
        yield from ()
        return plan(request)

    return call


def replay(
    instance: Instance,
    policy: str | Policy = "engine",
    epoch_min: float = 1,
    plan: Callable[[Request], Plan] | None = None,
) -> ReplayResult:
    """Replay ``instance`` alone: :func:`replay_process` in an environment
    of its own, with ``plan`` (by default :func:`engine.solvers.solve`)
    answering at once."""
    env = simpy.Environment()
    began = time.perf_counter()
    process = env.process(
        replay_process(
            env, instance, policy, epoch_min, immediate(plan or solve)
        )
    )
    result = env.run(until=process)
    if not isinstance(result, ReplayResult):
        raise TypeError(f"replay process ended with {result!r}")
    log.debug(
        "replay of %s took %.2f s", instance.name, time.perf_counter() - began
    )
    return result
