"""The API mix of a scenario's city, as HTTP calls at any simulated second.

:class:`Traffic` builds the city, merchants, orders and drivers exactly
as a simulation of the scenario does for the same seed
(:func:`simulator.run.build_workload`), and answers what the city would
ask of the service at a simulated second ``t``:

``eta``
    ``GET /api/orders/{id}/eta`` for an order placed and not yet
    promised, ``t - sla_s < placed <= t``.
``location``
    ``POST /api/drivers/{id}/location`` for a driver on shift, at a
    node of the road network drawn at random.
``batch_plan``
    ``POST /api/optimize``: a merchant with orders placed and not yet
    ready for pickup asks how a few couriers would deliver them, the
    question the simulation's merchants ask.
``dispatch``
    ``POST /api/optimize``: the orders placed in the last dispatch epoch
    and every driver on shift, with the dispatcher's options.

Each kind is drawn in proportion to its rate in the simulation: the
``api`` section's rate per active entity times the active entities at
that minute, and one dispatch per epoch while there are new orders.

.. note::
   A load test tracks no driver's route: drivers stand at random nodes,
   carry nothing, and dispatch questions hold no bound orders, so they
   are smaller than a simulation's at the same hour. An order counts as
   active until its promised time, where the simulation counts it until
   it is delivered or cancelled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from engine.api.codec import request_to_dict
from engine.codec import MatrixTravelTimes
from engine.model import Location, Options, Order, Request, Vehicle
from simulator.dispatch import DUE_FACTOR
from simulator.load.settings import generated_demand
from simulator.run import build_workload
from simulator.travel import NodeTimes, TimedTravel
from simulator.world import random_streams

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy.typing as npt

    from simulator.scenario import Scenario

ENDPOINTS = ("dispatch", "batch_plan", "eta", "location")
"""The kinds of request, named as the simulation names its endpoints."""

SECONDS_PER_HOUR = 3600.0

MIX_STEP_S = 60.0
"""The mix is tabled once per this many simulated seconds."""

QUESTIONS_KEPT = 4096
"""Merchants' questions kept encoded, the oldest dropped first."""

MATRIX_DECIMALS = 1
"""Travel seconds in a body are rounded to this many decimals, which
halves a dispatch body and changes no plan that matters."""


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request of the mix: which endpoint, and what to send.

    ``body`` is JSON text; ``None`` for a GET.
    """

    endpoint: str
    method: str
    path: str
    body: str | None = None


class CallSource(Protocol):
    """Where a load run's requests come from: the call to send at a
    simulated second, or ``None`` when there is none."""

    def call(self, t: float, rng: np.random.Generator) -> Call | None:
        """The request of simulated second ``t``."""
        ...


@dataclass(frozen=True, slots=True)
class Repeat:
    """One request at every arrival: ``GET /healthz`` for the ceiling of
    the stack, or one optimize body again and again for a cached
    answer's latency (benchmarks/api.py)."""

    request: Call

    def call(self, t: float, rng: np.random.Generator) -> Call:
        """The same request, whatever the second."""
        return self.request


class Traffic:
    """The requests of a scenario's city, drawn at simulated seconds.

    Parameters
    ----------
    scenario
        A scenario that generates its workload (not a replay).
    seed
        The seed of the workload's random streams, as ``barq simulate
        --seed`` takes it.
    """

    def __init__(self, scenario: Scenario, seed: int) -> None:
        demand = generated_demand(scenario)
        workload = build_workload(scenario, random_streams(seed))
        self.scenario = scenario
        self.city = workload.city
        self._times = NodeTimes(workload.city.network)
        self._merchants = workload.merchants
        self._orders = workload.arrivals
        self._placed = np.array([a.time for a in self._orders], dtype=float)
        self._ready = self._placed + np.array(
            [a.prep_s for a in self._orders], dtype=float
        )
        index = {m.id: k for k, m in enumerate(self._merchants)}
        self._merchant_of = np.array(
            [index[a.merchant.id] for a in self._orders], dtype=np.intp
        )
        self._drivers = workload.drivers
        self._shift_start = np.array([d.shift_start for d in self._drivers])
        self._shift_end = np.array([d.shift_end for d in self._drivers])
        self._sla = demand.sla_s
        self._longest_prep = float(
            np.max(self._ready - self._placed, initial=0.0)
        )
        self._mix = np.cumsum(self._mix_table(), axis=1)
        self._questions: dict[tuple[Any, ...], str] = {}
        self._builders: tuple[
            Callable[[float, np.random.Generator], Call | None], ...
        ] = (self.dispatch, self.batch_plan, self.eta, self.location)

    @property
    def span_s(self) -> float:
        """Simulated seconds the scenario covers."""
        return self.scenario.duration_s

    def mix(self, t: float) -> dict[str, float]:
        """Requests per simulated hour of each kind, at second ``t``."""
        row = self._mix[self._step(t)]
        rates = np.diff(row, prepend=0.0)
        return {
            name: float(rate)
            for name, rate in zip(ENDPOINTS, rates, strict=True)
        }

    def natural_peak(self) -> float:
        """The busiest minute's requests per simulated second: the
        scenario's own request rate at its peak."""
        return float(self._mix[:, -1].max() / SECONDS_PER_HOUR)

    def call(self, t: float, rng: np.random.Generator) -> Call | None:
        """A request of the mix at simulated second ``t``, its kind drawn
        in proportion to the rates; ``None`` when the city has nobody to
        send one (before the first order, say)."""
        row = self._mix[self._step(t)]
        if not row[-1] > 0:
            return None
        kind = int(np.searchsorted(row, rng.random() * row[-1], "right"))
        return self._builders[min(kind, len(self._builders) - 1)](t, rng)

    def eta(self, t: float, rng: np.random.Generator) -> Call | None:
        """A customer asks when an active order arrives."""
        low, high = self._active(t)
        if high <= low:
            return None
        order = self._orders[low + int(rng.integers(high - low))]
        return Call("eta", "GET", f"/api/orders/{order.id}/eta")

    def location(self, t: float, rng: np.random.Generator) -> Call | None:
        """A driver on shift says where it is."""
        on_shift = self._on_shift(t)
        if on_shift.size == 0:
            return None
        driver = self._drivers[int(on_shift[rng.integers(on_shift.size)])]
        x, y = self.city.network.nodes[self.city.random_node(rng)]
        body = {"x": float(x), "y": float(y)}
        return Call(
            "location",
            "POST",
            f"/api/drivers/{driver.id}/location",
            _encode(body),
        )

    def batch_plan(self, t: float, rng: np.random.Generator) -> Call | None:
        """A merchant asks how a few couriers leaving now would deliver
        its orders not yet ready; the same question while those orders
        and the traffic stay the same."""
        pending = self._pending(t)
        merchants = np.unique(self._merchant_of[pending])
        if merchants.size == 0:
            return None
        merchant = int(merchants[rng.integers(merchants.size)])
        orders = tuple(
            int(k) for k in pending[self._merchant_of[pending] == merchant]
        )
        multiplier = self.city.multiplier(t)
        key = ("batch_plan", merchant, orders, multiplier)
        if key not in self._questions:
            if len(self._questions) >= QUESTIONS_KEPT:
                del self._questions[next(iter(self._questions))]
            request = self._batch_request(merchant, orders, multiplier)
            self._questions[key] = _encode(request_to_dict(request))
        return Call(
            "batch_plan", "POST", "/api/optimize", self._questions[key]
        )

    def dispatch(self, t: float, rng: np.random.Generator) -> Call | None:
        """The dispatcher asks for a plan of the orders placed in the
        last epoch, with every driver on shift."""
        config = self.scenario.dispatch
        low = int(np.searchsorted(self._placed, t - config.epoch_s, "right"))
        high = int(np.searchsorted(self._placed, t, "right"))
        fresh = range(low, min(high, low + config.max_orders_per_solve))
        on_shift = self._on_shift(t)
        if not fresh or on_shift.size == 0:
            return None

        locations: dict[str, Location] = {}
        vehicles = []
        for k in on_shift.tolist():
            driver = self._drivers[k]
            start = self.city.location(
                self.city.random_node(rng), f"v:{driver.id}"
            )
            locations[start.id] = start
            vehicles.append(
                Vehicle(
                    id=driver.id,
                    start=start.id,
                    capacity=driver.capacity,
                    shift_start=t,
                    shift_end=max(
                        min(driver.shift_end, t + config.horizon_s), t
                    ),
                )
            )
        orders = []
        for k in fresh:
            due = self._placed[k] + DUE_FACTOR * self._sla
            orders.append(
                self._order(
                    k,
                    locations,
                    ready_time=float(self._ready[k]),
                    due_time=float(max(due, self._ready[k])),
                    pickup_service=config.pickup_service_s,
                    delivery_service=config.delivery_service_s,
                )
            )
        options = Options(
            time_limit=config.time_limit,
            work_limit=config.work_limit,
            seed=self.scenario.seed + int(t // config.epoch_s),
            backend=config.backend,
        )
        request = self._request(locations, orders, vehicles, options, t)
        return Call(
            "dispatch",
            "POST",
            "/api/optimize",
            _encode(request_to_dict(request)),
        )

    # The city at a simulated second.

    def _step(self, t: float) -> int:
        last = int(self._mix.shape[0]) - 1
        return min(max(int(t // MIX_STEP_S), 0), last)

    def _active(self, t: float) -> tuple[int, int]:
        low = int(np.searchsorted(self._placed, t - self._sla, "right"))
        return low, int(np.searchsorted(self._placed, t, "right"))

    def _on_shift(self, t: float) -> npt.NDArray[np.intp]:
        return np.flatnonzero((self._shift_start <= t) & (t < self._shift_end))

    def _pending(self, t: float) -> npt.NDArray[np.intp]:
        low = int(
            np.searchsorted(self._placed, t - self._longest_prep, "right")
        )
        high = int(np.searchsorted(self._placed, t, "right"))
        window = np.arange(low, high, dtype=np.intp)
        pending: npt.NDArray[np.intp] = window[self._ready[window] > t]
        return pending

    def _mix_table(self) -> npt.NDArray[np.float64]:
        """Requests per simulated hour of each kind in each step, at the
        step's middle: one row per step, one column per endpoint."""
        api = self.scenario.api
        steps = max(math.ceil(self.span_s / MIX_STEP_S), 1)
        middle = np.minimum((np.arange(steps) + 0.5) * MIX_STEP_S, self.span_s)

        active = np.searchsorted(self._placed, middle, "right") - (
            np.searchsorted(self._placed, middle - self._sla, "right")
        )
        on_shift = (
            (self._shift_start[None, :] <= middle[:, None])
            & (middle[:, None] < self._shift_end[None, :])
        ).sum(axis=1)

        # A merchant waits from its order's placement until the order is
        # ready, in every step whose middle falls in between.
        waiting = np.zeros((steps, len(self._merchants)), dtype=bool)
        first = np.searchsorted(middle, self._placed, "left")
        last = np.searchsorted(middle, self._ready, "left")
        for begin, end, merchant in zip(
            first.tolist(),
            last.tolist(),
            self._merchant_of.tolist(),
            strict=True,
        ):
            waiting[begin:end, merchant] = True

        epoch = self.scenario.dispatch.epoch_s
        fresh = np.searchsorted(self._placed, middle, "right") - (
            np.searchsorted(self._placed, middle - epoch, "right")
        )
        return np.column_stack(
            (
                np.where(
                    (fresh > 0) & (on_shift > 0), SECONDS_PER_HOUR / epoch, 0.0
                ),
                api.batch_plan_per_merchant * waiting.sum(axis=1),
                api.eta_per_active_order * active,
                api.location_per_active_driver * on_shift,
            )
        ).astype(np.float64)

    # Requests.

    def _order(
        self, k: int, locations: dict[str, Location], **times: float
    ) -> Order:
        """Order ``k`` from its merchant to its customer, its two
        locations added to ``locations``; ``times`` are its time
        windows and service times."""
        arrival = self._orders[k]
        merchant = arrival.merchant
        pickup = Location(
            f"m:{merchant.id}", merchant.location.x, merchant.location.y
        )
        delivery = Location(
            f"c:{arrival.id}", arrival.customer.x, arrival.customer.y
        )
        locations[pickup.id] = pickup
        locations[delivery.id] = delivery
        return Order(
            arrival.id,
            pickup.id,
            delivery.id,
            quantity=arrival.quantity,
            **times,
        )

    def _batch_request(
        self, merchant: int, orders: tuple[int, ...], multiplier: float
    ) -> Request:
        api = self.scenario.api
        locations: dict[str, Location] = {}
        found = [self._order(k, locations) for k in orders]
        home = f"m:{self._merchants[merchant].id}"
        vehicles = [
            Vehicle(f"courier-{k}", home, api.batch_capacity)
            for k in range(api.batch_couriers)
        ]
        options = Options(
            work_limit=api.batch_work_limit,
            backend=self.scenario.dispatch.backend,
        )
        return self._request(
            locations, found, vehicles, options, multiplier=multiplier
        )

    def _request(
        self,
        locations: dict[str, Location],
        orders: list[Order],
        vehicles: list[Vehicle],
        options: Options,
        t: float | None = None,
        multiplier: float | None = None,
    ) -> Request:
        """A request whose travel is the road network's at ``t`` (or at
        ``multiplier``), given as a matrix."""
        if multiplier is None:
            assert t is not None
            multiplier = self.city.multiplier(t)
        places = tuple(locations.values())
        travel = TimedTravel(self._times, multiplier)
        seconds = np.round(travel.matrix(places, places), MATRIX_DECIMALS)
        return Request(
            locations=places,
            orders=tuple(orders),
            vehicles=tuple(vehicles),
            travel=MatrixTravelTimes(tuple(p.id for p in places), seconds),
            options=options,
        )


def _encode(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"), allow_nan=False)


def judge(endpoint: str, status: int, body: bytes | None) -> tuple[str, str]:
    """The outcome of an answer, named as the simulation names outcomes,
    and the route-plan cache's outcome of an optimize.

    ``ok``; ``unknown`` for the ETA of an order no plan names yet (404,
    a normal answer); ``fallback`` for a plan the heuristic made after
    the backend failed; ``accepted`` for an optimize the service runs as
    a job (202); ``error`` for anything else, no answer included.
    """
    if endpoint == "eta" and status == 404:
        return "unknown", ""
    if endpoint in ("dispatch", "batch_plan"):
        if status == 202:
            return "accepted", ""
        if status == 200:
            return _plan_outcome(body)
    if 200 <= status < 300:
        return "ok", ""
    return "error", ""


def _plan_outcome(body: bytes | None) -> tuple[str, str]:
    try:
        answer = json.loads(body or b"")
        fallback = bool(answer["plan"]["stats"]["fallback"])
        cache = str(answer.get("cache", ""))
    except (ValueError, KeyError, TypeError):
        return "error", ""
    return ("fallback" if fallback else "ok"), cache
