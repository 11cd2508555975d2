"""The simulated city: SimPy processes that drive the real engine.

A :class:`World` is one replication of a scenario. Its processes:

* the order source places orders at their generated instants, and a
  customer whose order is still unassigned when patience runs out
  cancels it;
* one process per driver follows its shift and its tasks, leg by leg,
  with noisy travel times on the road network;
* the dispatcher asks the engine for a plan every epoch and applies it;
* the API mix sends ETA questions, driver locations and merchants'
  batch-plan requests at rates proportional to the active orders and
  drivers;
* fault windows flush caches and take drivers offline (the advisor's
  outages and slowness are in its model, Redis loss in its backend);
* a monitor snapshots active orders and drivers every simulated minute.

Every engine request goes through :class:`~simulator.port.EnginePort`.
Random streams are independent children of one seed, one per concern,
so adding requests of one kind does not move the draws of another.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from engine.model import Location, Options, Order, Request, Vehicle, Weights
from engine.storage import StorageFullError
from simulator.dispatch import apply_plan, dispatch_request, release_driver
from simulator.port import EnginePort
from simulator.recorder import Recorder
from simulator.state import ACTIVE, DriverState, OrderState, OrderStatus
from simulator.travel import NodeTimes, TimedTravel

if TYPE_CHECKING:
    from collections.abc import Callable, Generator

    from engine.service import Service
    from simulator.city import City
    from simulator.demand import Merchant, OrderArrival
    from simulator.fleet import DriverPlan
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

STREAMS = ("city", "demand", "fleet", "noise", "api", "advisor", "faults")
"""The world's independent random streams, spawned from the seed in this
order; new streams go at the end so that existing ones keep their draws."""


class SimClock:
    """The engine's clock inside a simulation: SimPy's ``now``."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        """The simulation whose time this clock reads."""

    def now(self) -> float:
        """Simulated seconds since the start of the run."""
        return float(self.env.now)


@dataclass(frozen=True, slots=True)
class Workload:
    """What a world is made of before it runs."""

    city: City
    merchants: tuple[Merchant, ...]
    arrivals: list[OrderArrival]
    drivers: tuple[DriverPlan, ...]


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One generator per name of :data:`STREAMS`, from ``seed``."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {
        name: np.random.default_rng(child)
        for name, child in zip(STREAMS, children, strict=True)
    }


class World:
    """One replication of a scenario, ready to :meth:`run`.

    ``service_factory`` builds the engine service on the world's clock,
    with the recorder as its hooks and the advisor's random stream.
    """

    def __init__(
        self,
        scenario: Scenario,
        workload: Workload,
        streams: dict[str, np.random.Generator],
        service_factory: Callable[
            [SimClock, Recorder, np.random.Generator], Service
        ],
    ) -> None:
        self.scenario = scenario
        self.env = simpy.Environment()
        self.clock = SimClock(self.env)
        self.recorder = Recorder(self.clock)
        self.city = workload.city
        self.times = NodeTimes(workload.city.network)
        self.service = service_factory(
            self.clock, self.recorder, streams["advisor"]
        )
        self.port = EnginePort(
            self.env,
            scenario.engine.workers,
            self.recorder,
            scenario.engine.extra_service_s,
            scenario.engine.slowdown,
        )
        self._noise = streams["noise"]
        self._api = streams["api"]
        self._arrivals = workload.arrivals
        self.orders: dict[str, OrderState] = {}
        self.drivers = {
            plan.id: DriverState(
                plan, plan.start, int(self.times.nodes([plan.start])[0])
            )
            for plan in workload.drivers
        }
        self._merchants = {m.id: m for m in workload.merchants}
        self._unpicked: dict[str, set[str]] = {
            merchant.id: set() for merchant in workload.merchants
        }
        self._waiting: set[str] = set()
        """Merchants with orders not yet picked up."""
        self._active: list[str] = []
        self._online_list: list[DriverState] | None = None
        self._batch_questions: dict[
            str, tuple[tuple[tuple[str, ...], float], Request]
        ] = {}
        self._epoch = 0
        self._started = False

    def run(self, until: float | None = None) -> None:
        """Start the processes if need be, and run to ``until`` (the end
        of the scenario by default)."""
        if not self._started:
            self._start()
        self.env.run(
            until=self.scenario.duration_s if until is None else until
        )

    def _start(self) -> None:
        self._started = True
        env = self.env
        env.process(self._order_source())
        for driver in self.drivers.values():
            env.process(self._drive(driver))
        env.process(self._dispatcher())
        api = self.scenario.api
        env.process(
            self._traffic(
                api.eta_per_active_order, self._active_orders, self._ask_eta
            )
        )
        env.process(
            self._traffic(
                api.location_per_active_driver,
                self._online_drivers,
                self._send_location,
            )
        )
        env.process(
            self._traffic(
                api.batch_plan_per_merchant,
                self._waiting_merchants,
                self._ask_batch_plan,
            )
        )
        for fault in self.scenario.faults:
            env.process(self._fault(fault))
        env.process(self._monitor())

    @property
    def placed(self) -> int:
        """Orders placed so far."""
        return len(self.orders)

    def orders_frame(self) -> pd.DataFrame:
        """Every order placed so far, its life in simulated seconds."""
        orders = list(self.orders.values())
        return pd.DataFrame(
            {
                "order_id": [o.id for o in orders],
                "created_s": [o.created_s for o in orders],
                "assigned_s": [o.assigned_s for o in orders],
                "picked_s": [o.picked_s for o in orders],
                "delivered_s": [o.delivered_s for o in orders],
                "cancelled_s": [o.cancelled_s for o in orders],
                "due_s": [o.promised_s for o in orders],
            }
        )

    def driver_time(self, simulated_s: float) -> tuple[float, float]:
        """Seconds drivers spent driving and serving stops, and seconds
        of their shifts up to ``simulated_s``."""
        drivers = self.drivers.values()
        busy = sum(d.busy_s for d in drivers)
        shift = sum(
            max(min(d.plan.shift_end, simulated_s) - d.plan.shift_start, 0.0)
            for d in drivers
        )
        return busy, shift

    # Orders.

    def _order_source(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        for arrival in self._arrivals:
            if arrival.time > env.now:
                yield env.timeout(arrival.time - env.now)
            order = OrderState(arrival)
            self.orders[arrival.id] = order
            self._active.append(arrival.id)
            self._unpicked[arrival.merchant.id].add(arrival.id)
            self._waiting.add(arrival.merchant.id)
            patience = env.timeout(arrival.patience_s)
            patience.callbacks.append(partial(self._lose_patience, order))

    def _lose_patience(self, order: OrderState, _: simpy.Event) -> None:
        if order.status is OrderStatus.OPEN:
            order.status = OrderStatus.CANCELLED
            order.cancelled_s = self.env.now
            self._unpick(order)

    def _active_orders(self) -> int:
        return len(self._active)

    def _waiting_merchants(self) -> int:
        return len(self._waiting)

    def _unpick(self, order: OrderState) -> None:
        merchant = order.arrival.merchant.id
        pending = self._unpicked[merchant]
        pending.discard(order.id)
        if not pending:
            self._waiting.discard(merchant)

    def _online_drivers(self) -> int:
        return len(self._online())

    def _online(self) -> list[DriverState]:
        # Drivers go on and off far less often than requests come, so
        # the list is kept until one does.
        if self._online_list is None:
            self._online_list = [d for d in self.drivers.values() if d.online]
        return self._online_list

    def _set_online(self, driver: DriverState, online: bool) -> None:
        driver.online = online
        self._online_list = None

    # Drivers.

    def _drive(self, driver: DriverState) -> Generator[simpy.Event, Any, None]:
        env = self.env
        plan = driver.plan
        if plan.shift_start > env.now:
            yield env.timeout(plan.shift_start - env.now)
        self._set_online(driver, not driver.offline_fault)
        driver.free_at = env.now

        while True:
            if env.now >= plan.shift_end and driver.online:
                self._set_online(driver, False)
                release_driver(driver, self.orders)
            if not driver.tasks:
                if not driver.online and env.now >= plan.shift_end:
                    return
                driver.wake = env.event()
                yield driver.wake | env.timeout(
                    max(plan.shift_end - env.now, 0.0) or math.inf
                )
                driver.wake = None
                continue
            yield from self._serve_task(driver, driver.tasks.pop(0))

    def _serve_task(
        self, driver: DriverState, task: Any
    ) -> Generator[simpy.Event, Any, None]:
        env = self.env
        order = self.orders[task.order_id]
        if task.is_pickup and (
            order.status is not OrderStatus.ASSIGNED
            or order.driver != driver.id
        ):
            return
        target = order.pickup if task.is_pickup else order.delivery
        node = int(self.times.nodes([target])[0])
        planned = (
            self.times.leg(driver.node, node)
            * self.city.multiplier(env.now)
            / driver.plan.speed_factor
        )
        seconds = self.city.actual_seconds(planned, self._noise)
        service = self._service_s(task.is_pickup)

        driver.leg = task
        driver.location = target
        driver.node = node
        driver.free_at = env.now + seconds + service
        yield env.timeout(seconds)
        driver.busy_s += seconds
        if task.is_pickup and order.ready_s > env.now:
            yield env.timeout(order.ready_s - env.now)
        yield env.timeout(service)
        driver.busy_s += service
        driver.leg = None

        if task.is_pickup:
            order.status = OrderStatus.PICKED
            order.picked_s = env.now
            driver.onboard.add(order.id)
            self._unpick(order)
        else:
            order.status = OrderStatus.DELIVERED
            order.delivered_s = env.now
            driver.onboard.discard(order.id)

    def _service_s(self, pickup: bool) -> float:
        dispatch = self.scenario.dispatch
        return (
            dispatch.pickup_service_s
            if pickup
            else (dispatch.delivery_service_s)
        )

    # The dispatcher.

    def _dispatcher(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        config = self.scenario.dispatch
        while True:
            yield env.timeout(config.epoch_s)
            self._active = [
                order_id
                for order_id in self._active
                if self.orders[order_id].status in ACTIVE
            ]
            request = dispatch_request(
                env.now,
                # Delivered and cancelled orders are most of a day's and
                # none of a question's.
                {order_id: self.orders[order_id] for order_id in self._active},
                self.drivers,
                TimedTravel(self.times, self.city.multiplier(env.now)),
                Options(
                    weights=Weights(delivery_time=config.delivery_weight),
                    time_limit=config.time_limit,
                    work_limit=config.work_limit,
                    seed=self.scenario.seed + self._epoch,
                    backend=config.backend,
                ),
                config.reoptimize,
                (config.pickup_service_s, config.delivery_service_s),
                config.max_orders_per_solve,
                config.horizon_s,
                self.service.config.cache.precision,
            )
            self._epoch += 1
            if request is None:
                continue
            try:
                served = self.port.optimize("dispatch", self.service, request)
            except StorageFullError:
                # Refused, as the HTTP API answers 503: the orders wait
                # for the next epoch.
                continue
            # The plan takes effect once the advisor has answered: the
            # modelled part of the latency, which is deterministic.
            if served.modelled_s > 0:
                yield env.timeout(served.modelled_s)
            woken = apply_plan(
                env.now,
                served.value.plan,
                self.orders,
                self.drivers,
                [vehicle.id for vehicle in request.vehicles],
            )
            for driver in woken:
                if driver.wake is not None and not driver.wake.triggered:
                    driver.wake.succeed()

    # The API mix.

    def _traffic(
        self,
        rate: float,
        population: Callable[[], int],
        send: Callable[[], None],
    ) -> Generator[simpy.Event, Any, None]:
        # Poisson arrivals whose rate (per entity per hour) follows the
        # population: each gap is drawn at the rate of its moment.
        env = self.env
        if rate <= 0:
            return
        rate /= 3600.0
        while True:
            size = population()
            if size == 0:
                yield env.timeout(1.0)
                continue
            yield env.timeout(self._api.exponential(1.0 / (rate * size)))
            send()

    def _ask_eta(self) -> None:
        if not self._active:
            return
        order_id = self._active[int(self._api.integers(len(self._active)))]
        self.port.serve(
            "eta",
            lambda: self.service.eta(order_id),
            outcome=lambda eta: "ok" if eta is not None else "unknown",
        )

    def _send_location(self) -> None:
        online = self._online()
        if not online:
            return
        driver = online[int(self._api.integers(len(online)))]
        with contextlib.suppress(StorageFullError):
            self.port.serve(
                "location",
                lambda: self.service.update_location(
                    driver.id, driver.location
                ),
            )

    def _ask_batch_plan(self) -> None:
        if not self._waiting:
            return
        waiting = sorted(self._waiting)
        merchant = waiting[int(self._api.integers(len(waiting)))]
        request = self._batch_request(self._merchants[merchant])
        if request is None:
            return
        with contextlib.suppress(StorageFullError):
            self.port.optimize("batch_plan", self.service, request)

    def _batch_request(self, merchant: Merchant) -> Request | None:
        # A merchant's question: how would a few couriers leaving now
        # deliver my orders not yet picked up? It names no clock time, so
        # it repeats (and hits the cache) until the orders change; the
        # question itself is kept until then too.
        pending = tuple(sorted(self._unpicked[merchant.id]))
        if not pending:
            return None
        multiplier = self.city.multiplier(self.env.now)
        asked = self._batch_questions.get(merchant.id)
        if asked is not None and asked[0] == (pending, multiplier):
            return asked[1]
        config = self.scenario.api
        home = Location(f"m:{merchant.id}", *_xy(merchant.location))
        customers = [
            Location(f"c:{order_id}", *_xy(self.orders[order_id].delivery))
            for order_id in pending
        ]
        request = Request(
            locations=(home, *customers),
            orders=tuple(
                Order(
                    order_id,
                    home.id,
                    customer.id,
                    quantity=self.orders[order_id].arrival.quantity,
                )
                for order_id, customer in zip(pending, customers, strict=True)
            ),
            vehicles=tuple(
                Vehicle(f"courier-{k}", home.id, config.batch_capacity)
                for k in range(config.batch_couriers)
            ),
            travel=TimedTravel(self.times, multiplier),
            options=Options(
                work_limit=config.batch_work_limit,
                backend=self.scenario.dispatch.backend,
            ),
        )
        self._batch_questions[merchant.id] = ((pending, multiplier), request)
        return request

    # Faults and the monitor.

    def _fault(self, fault: Any) -> Generator[simpy.Event, Any, None]:
        env = self.env
        if fault.start_s > env.now:
            yield env.timeout(fault.start_s - env.now)
        if fault.kind == "cache_flush":
            self.service.caches.flush()
        elif fault.kind == "drivers_offline":
            yield from self._drivers_offline(fault)

    def _drivers_offline(
        self, fault: Any
    ) -> Generator[simpy.Event, Any, None]:
        online = sorted(d.id for d in self.drivers.values() if d.online)
        count = round(fault.share * len(online))
        chosen = [self.drivers[i] for i in online[:count]]
        for driver in chosen:
            self._set_online(driver, False)
            driver.offline_fault = True
            release_driver(driver, self.orders)
        yield self.env.timeout(fault.end_s - self.env.now)
        for driver in chosen:
            driver.offline_fault = False
            self._set_online(driver, self.env.now < driver.plan.shift_end)

    def _monitor(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self.recorder.snapshot(len(self._active), self._online_drivers())
            yield self.env.timeout(60.0)


def _xy(location: Location) -> tuple[float, float]:
    return location.x, location.y
