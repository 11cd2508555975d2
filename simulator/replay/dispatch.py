"""Dispatch policies: who picks up which bundle, decided at epochs.

At each epoch the replay loop shows a policy the orders placed so far and
not yet assigned, and every courier's state. A policy may ask the engine
for a plan (:meth:`Policy.request`), then turns what it knows into
assignments (:meth:`Policy.assign`), which the loop applies in order.

Two policies:

``greedy``
    The benchmark's simple baseline: order by order, in placement order,
    to the courier who can pick it up first; one order per assignment.
``engine``
    The engine plans every open order over the couriers free now or soon,
    weighing each order's time to drop-off beside travel;
    each idle courier's route is cut to its first restaurant's bundle,
    which is committed only once the courier has to leave to keep the
    plan's pickup time. Until then the orders stay open, so that later
    orders may join the bundle and couriers stay free for better uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from engine.codec import MatrixTravelTimes
from engine.model import (
    Backend,
    Location,
    Options,
    Order,
    Request,
    StopKind,
    Vehicle,
    Weights,
)
from simulator.errors import SimulatorError
from simulator.replay.rules import (
    Assignment,
    CourierState,
    execute,
    violations,
)

if TYPE_CHECKING:
    from engine.model import Plan, Route
    from simulator.replay.instance import Instance, ReplayOrder
    from simulator.replay.rules import Execution

log = logging.getLogger(__name__)


class IllegalAssignmentError(SimulatorError):
    """A policy made an assignment that breaks a rule of the benchmark."""


class DispatchState:
    """What the dispatcher knows: the open orders and the couriers.

    ``open`` holds the orders placed by the last :meth:`release` and not
    yet assigned, in placement order; ``couriers`` each courier's state
    after its assignments so far; ``executions`` every assignment applied,
    with its timing.
    """

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.couriers = {
            courier.id: CourierState.start(courier)
            for courier in instance.couriers
        }
        self.open: dict[str, ReplayOrder] = {}
        self.executions: list[Execution] = []
        self._unplaced = sorted(
            instance.orders, key=lambda order: (order.placement, order.id)
        )
        self._placed = 0

    @property
    def all_placed(self) -> bool:
        """Whether every order of the instance has been released."""
        return self._placed == len(self._unplaced)

    def release(self, now: float) -> None:
        """Open the orders placed at or before ``now``."""
        while (
            self._placed < len(self._unplaced)
            and self._unplaced[self._placed].placement <= now
        ):
            order = self._unplaced[self._placed]
            self.open[order.id] = order
            self._placed += 1

    def apply(self, assignment: Assignment) -> Execution:
        """Carry out ``assignment`` of open orders.

        Raises
        ------
        IllegalAssignmentError
            If an order is not open or a rule is broken.
        """
        closed = [o for o in assignment.orders if o not in self.open]
        state = self.couriers.get(assignment.courier)
        if closed or state is None:
            raise IllegalAssignmentError(
                f"{assignment}: orders {closed} are not open or the "
                "courier is unknown"
            )
        broken = violations(self.instance, assignment, state)
        if broken:
            raise IllegalAssignmentError("; ".join(broken))

        execution = execute(self.instance, assignment, state)
        self.couriers[assignment.courier] = execution.after
        for order_id in assignment.orders:
            del self.open[order_id]
        self.executions.append(execution)
        return execution


class Policy(Protocol):
    """How bundles and couriers are chosen at an epoch."""

    @property
    def name(self) -> str:
        """The policy's name, as results report it."""
        ...

    def request(self, now: float, state: DispatchState) -> Request | None:
        """The engine request to plan at ``now``, or None for no call."""
        ...

    def assign(
        self,
        now: float,
        state: DispatchState,
        plan: Plan | None,
        next_epoch: float,
    ) -> list[Assignment]:
        """The assignments to make at ``now``, legal when applied in
        order; ``plan`` answers :meth:`request`, ``next_epoch`` is when
        the policy is asked again."""
        ...


def _legal(
    instance: Instance, assignment: Assignment, state: CourierState
) -> Execution | None:
    """The execution of ``assignment``, or None if it breaks a rule."""
    if violations(instance, assignment, state):
        return None
    return execute(instance, assignment, state)


class GreedyPolicy:
    """Order by order, to the courier who can pick it up first.

    Orders go in placement order, each alone, to the courier with the
    earliest legal pickup, busy or not yet on shift (it departs when it is
    free); ties go to the courier free first, then the first listed. An
    order no courier can pick up stays open for the next epoch.
    """

    name = "greedy"

    def request(self, now: float, state: DispatchState) -> Request | None:
        """Greedy never calls the engine."""
        return None

    def assign(
        self,
        now: float,
        state: DispatchState,
        plan: Plan | None,
        next_epoch: float,
    ) -> list[Assignment]:
        """One assignment per open order that some courier can pick up."""
        instance = state.instance
        couriers = dict(state.couriers)
        made = []
        for order in state.open.values():
            best: tuple[float, float, int] | None = None
            chosen: Execution | None = None
            for rank, courier in enumerate(instance.couriers):
                if courier.off < now:
                    continue
                assignment = Assignment(
                    now, courier.id, order.restaurant, (order.id,)
                )
                execution = _legal(instance, assignment, couriers[courier.id])
                if execution is None:
                    continue
                key = (execution.pickup, execution.departure, rank)
                if best is None or key < best:
                    best, chosen = key, execution
            if chosen is not None:
                couriers[chosen.assignment.courier] = chosen.after
                made.append(chosen.assignment)
        return made


RESTAURANT = "restaurant/"
ORDER = "order/"
COURIER = "courier/"
"""Prefixes of engine location ids, so that ids of different kinds of
places never collide."""

FORBIDDEN_MINUTES = 100_000.0
"""Travel minutes that no plan can afford: longer than any day."""


@dataclass(frozen=True)
class EnginePolicy:
    """Bundles and couriers chosen by the engine, committed late.

    Parameters
    ----------
    work_limit, seed, backend
        The engine's search budget, seed and backend: bounded by work, so
        a replay is deterministic. The insertion heuristic is the one
        backend that prices delivery time quickly enough for a replay's
        thousand plans (OR-Tools takes over twenty minutes on the larger
        real instances); the budget and seed serve the others.
    bundle_size
        The most orders in one bundle (the vehicles' capacity).
    delivery_weight
        The engine's weight on each order's minutes from ready to
        drop-off, against one on travel minutes: what the benchmark
        measures, priced beside the travel the engine minimises. The
        orders have no due time: the heuristic prices an insertion's
        delay to the drop-offs after it as well as its own, and due
        times bounding that delay only held orders back. The
        default gave the lowest click-to-door of those tried on seven
        real instances (``docs/benchmarks.md``).
    horizon
        Couriers free (or starting their shift) within this many minutes
        are planned for, so that a nearby courier about to be free can be
        preferred to an idle one far away.
    overrun
        Minutes past its off time by which a courier's planned route must
        end. The engine limits the end of a route, whereas the benchmark
        limits only pickups; a bundle whose pickup would come after the
        off time is never committed, and its orders wait until the plan
        changes. Ending routes early enough that no plan picks up after
        the off time was tried and measured worse: it takes a courier's
        last legal pickups from the plan too.

    .. note:: The engine serves each pickup on its own, while the
       benchmark serves a bundle's pickups at once. The travel matrix
       therefore carries half a service time into and out of every
       restaurant and drop-off point, with no service at the stops: the
       engine's service start is then the benchmark's pickup or drop-off
       moment, and pickups in a row at one restaurant share one service.
    """

    work_limit: int = 200
    seed: int = 0
    backend: Backend = Backend.HEURISTIC
    bundle_size: int = 3
    delivery_weight: float = 30.0
    horizon: float = 30.0
    overrun: float = 30.0

    name: ClassVar[str] = "engine"

    def request(self, now: float, state: DispatchState) -> Request | None:
        """Every open order some courier can pick up, and the couriers
        free within the horizon and still able to pick up."""
        instance = state.instance
        half = instance.parameters.pickup_service / 2
        couriers = [
            state.couriers[c.id]
            for c in instance.couriers
            if max(now, state.couriers[c.id].free) <= now + self.horizon
            and max(now, state.couriers[c.id].free) + half <= c.off
        ]
        orders = [
            order
            for order in state.open.values()
            if self._pickable(now, instance, order, couriers)
        ]
        if not orders or not couriers:
            return None
        return self._request(now, instance, orders, couriers)

    def _pickable(
        self,
        now: float,
        instance: Instance,
        order: ReplayOrder,
        couriers: list[CourierState],
    ) -> bool:
        """Whether one of ``couriers`` can pick ``order`` up before going
        off shift."""
        return any(
            _legal(
                instance,
                Assignment(now, state.courier, order.restaurant, (order.id,)),
                state,
            )
            is not None
            for state in couriers
        )

    def _request(
        self,
        now: float,
        instance: Instance,
        orders: list[ReplayOrder],
        couriers: list[CourierState],
    ) -> Request:
        p = instance.parameters
        # Per place: x, y, and minutes added to every leg out of it and
        # into it. A busy courier's leg out carries the wait until it is
        # free, so that the plan's travel counts that wait.
        places: dict[str, tuple[float, float, float, float]] = {}
        for state in couriers:
            places[COURIER + state.courier] = (
                state.x,
                state.y,
                max(state.free - now, 0.0),
                0.0,
            )
        pickup, dropoff = p.pickup_service / 2, p.dropoff_service / 2
        for order in orders:
            restaurant = instance.restaurant[order.restaurant]
            places[RESTAURANT + restaurant.id] = (
                restaurant.x,
                restaurant.y,
                pickup,
                pickup,
            )
            places[ORDER + order.id] = (order.x, order.y, dropoff, dropoff)

        ids = tuple(places)
        table = np.array([places[i] for i in ids])
        xy, out, into = table[:, :2], table[:, 2], table[:, 3]
        metres = np.hypot(
            *(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)
        )
        minutes = np.ceil(metres / p.metres_per_minute - 1e-9)
        minutes += out[:, None] + into[None, :]
        np.fill_diagonal(minutes, 0.0)

        # A bundle is of one restaurant: forbid going on from one
        # restaurant to another with the food on board.
        kitchens = np.array([i.startswith(RESTAURANT) for i in ids])
        minutes[np.ix_(kitchens, kitchens)] += np.where(
            np.eye(len(ids), dtype=bool)[np.ix_(kitchens, kitchens)],
            0.0,
            FORBIDDEN_MINUTES,
        )

        return Request(
            locations=tuple(
                Location(i, places[i][0], places[i][1]) for i in ids
            ),
            orders=tuple(
                Order(
                    id=order.id,
                    pickup=RESTAURANT + order.restaurant,
                    delivery=ORDER + order.id,
                    ready_time=order.ready * 60.0,
                )
                for order in orders
            ),
            vehicles=tuple(
                Vehicle(
                    id=state.courier,
                    start=COURIER + state.courier,
                    capacity=self.bundle_size,
                    shift_start=now * 60.0,
                    shift_end=(
                        instance.courier[state.courier].off + self.overrun
                    )
                    * 60.0,
                )
                for state in couriers
            ),
            travel=MatrixTravelTimes(ids, minutes * 60.0),
            options=Options(
                weights=Weights(delivery_time=self.delivery_weight),
                work_limit=self.work_limit,
                seed=self.seed,
                backend=self.backend,
            ),
        )

    def assign(
        self,
        now: float,
        state: DispatchState,
        plan: Plan | None,
        next_epoch: float,
    ) -> list[Assignment]:
        """The first bundle of each idle courier's route that must start
        before the next epoch."""
        if plan is None:
            return []
        made = []
        for route in plan.routes:
            courier = state.couriers[route.vehicle_id]
            if courier.free > now or not route.stops:
                continue
            assignment = self._bundle(now, state.instance, route)
            execution = _legal(state.instance, assignment, courier)
            if execution is None:
                log.debug("not committed, breaks a rule: %s", assignment)
                continue

            # The courier may wait while it can still make the pickup by
            # leaving at the next epoch.
            travel = state.instance.travel_minutes(
                courier, state.instance.restaurant[assignment.restaurant]
            )
            latest = (
                execution.pickup
                - state.instance.parameters.pickup_service / 2
                - travel
            )
            if latest < next_epoch:
                made.append(assignment)
        return made

    @staticmethod
    def _bundle(now: float, instance: Instance, route: Route) -> Assignment:
        """The orders picked up at the route's first restaurant before it
        goes anywhere else, in the order the route delivers them."""
        first = route.stops[0]
        restaurant = instance.order[first.order_id].restaurant
        picked = set()
        for stop in route.stops:
            if stop.kind is not StopKind.PICKUP or (
                stop.location_id != first.location_id
            ):
                break
            picked.add(stop.order_id)
        sequence = tuple(
            stop.order_id
            for stop in route.stops
            if stop.kind is StopKind.DELIVERY and stop.order_id in picked
        )
        return Assignment(now, route.vehicle_id, restaurant, sequence)


def make_policy(name: str) -> Policy:
    """The policy called ``name``, with its default settings."""
    policies: dict[str, Policy] = {
        "engine": EnginePolicy(),
        "greedy": GreedyPolicy(),
    }
    if name not in policies:
        raise SimulatorError(
            f"policy {name!r} is unknown; allowed: "
            + ", ".join(sorted(policies))
        )
    return policies[name]
