"""A running world's metrics, refreshed every simulated minute.

:class:`Telemetry` is a SimPy process on the world's environment. Every
simulated minute it hands the adapters (:mod:`engine.metrics`) what the
recorder gathered since the last minute (requests, advisor calls,
breaker moves, solves, cache tallies) and sets the gauges from the
world's state (orders by state, drivers, workers, cache sizes). The same
registry is then what ``--serve-metrics`` exposes live, and a snapshot
of it, stamped with the simulated instant mapped onto a chosen start,
goes into the run's OpenMetrics file for backfilling.

It only reads: adding it changes no draw and no decision of the world,
only the ids of SimPy's events, whose order among the world's own events
is kept.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from engine.advisor import BreakerState, Outcome
from engine.cache import LAYERS, Lookup
from engine.metrics import Metrics, MetricsServer, Timeline, labelled, push
from simulator.errors import InputError
from simulator.state import OrderStatus

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator, Mapping
    from pathlib import Path

    import simpy

    from engine.cache import CacheBackend, CacheLayer
    from engine.metrics import CollectorRegistry
    from simulator.replay.simulate import ReplayWorld
    from simulator.scenario import Scenario
    from simulator.state import OrderState
    from simulator.world import World

log = logging.getLogger(__name__)

PERIOD_S = 60.0
"""Simulated seconds between two refreshes (and two backfilled points)."""

OPENMETRICS_FILE = "metrics.om"
"""The name of the OpenMetrics file in a run directory."""

PUSH_JOB = "barq_simulate"
"""The Pushgateway job that ``--push`` replaces a group of."""


@dataclass(frozen=True, slots=True)
class MetricsOptions:
    """What a run does with its metrics besides writing them to
    :data:`OPENMETRICS_FILE`.

    ``serve_port`` serves them live on 127.0.0.1 while the run goes;
    ``push_url`` pushes the final state to a Pushgateway; ``start`` is
    the instant simulated second 0 maps onto in the file (by default
    :func:`default_start`).
    """

    serve_port: int | None = None
    push_url: str | None = None
    start: datetime | None = None


def default_start(scenario: Scenario, started: datetime) -> datetime:
    """The day before ``started`` (UTC), at the scenario's start hour:
    a simulated day then shows in Prometheus as yesterday, in the past
    where every query range reaches it, at the hours it simulates."""
    midnight = started.astimezone(UTC).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return midnight - timedelta(days=1) + timedelta(hours=scenario.start_hour)


def run_labels(scenario: Scenario, out: Path) -> dict[str, str]:
    """The labels of every sample of a run: its scenario and its run id,
    the run directory's name (with its parent's for a replication)."""
    run = out.name
    if run.startswith("rep-") and out.parent.name:
        run = f"{out.parent.name}/{run}"
    return {"run": run, "scenario": scenario.name}


@contextmanager
def observing(
    world: World | ReplayWorld,
    out: Path,
    started: datetime,
    options: MetricsOptions,
) -> Iterator[Telemetry]:
    """A :class:`Telemetry` attached to ``world``, served on
    ``options.serve_port`` until the block ends."""
    start = options.start or default_start(world.scenario, started)
    telemetry = Telemetry(
        world, run_labels(world.scenario, out), start.timestamp()
    )
    telemetry.attach()
    server = None
    if options.serve_port is not None:
        try:
            server = MetricsServer(telemetry.exposed, options.serve_port)
        except OSError as error:
            raise InputError(
                "--serve-metrics",
                "",
                options.serve_port,
                f"must be a free port on 127.0.0.1 ({error.strerror})",
            ) from None
        log.info("metrics at %s", server.url)
    try:
        yield telemetry
    finally:
        if server is not None:
            server.close()


class Telemetry:
    """The metrics of ``world``, with ``labels`` (run, scenario) on every
    exposed sample.

    ``start`` is the Unix time that simulated second 0 maps onto in the
    timeline; each refresh adds a point to :attr:`timeline`.
    """

    def __init__(
        self,
        world: World | ReplayWorld,
        labels: dict[str, str],
        start: float,
    ) -> None:
        self.world = world
        self.labels: Mapping[str, str] = dict(labels)
        self.metrics = Metrics.build()
        self.exposed: CollectorRegistry = labelled(
            self.metrics.registry, labels
        )
        """The registry to serve, push or snapshot: every sample with the
        run's labels."""
        self.timeline = Timeline(self.labels)
        self.start = start
        self._samples = 0
        self._advice = 0
        self._breaker = 0
        self._solves = 0
        self._degraded = 0
        self._minute = 0
        self._tallies: dict[str, dict[Any, int]] = {
            "lookups": {},
            "evictions": {},
            "errors": {},
            "stored": {},
        }
        self._orders_seen = 0
        self._open: list[OrderState] = []
        self._delivered = 0
        self._cancelled = 0
        self._last_at = -1.0
        self._wall = time.perf_counter()
        self.metrics.advisor.on_breaker(BreakerState.CLOSED)

    def attach(self) -> None:
        """Start refreshing on the world's environment."""
        self.world.env.process(self._refreshing())

    def _refreshing(self) -> Generator[simpy.Event, Any, None]:
        while True:
            self.refresh()
            yield self.world.env.timeout(PERIOD_S)

    def refresh(self) -> None:
        """Bring the metrics up to the world's ``now`` and add a point to
        the timeline; nothing happens if none has passed."""
        now = float(self.world.env.now)
        if now <= self._last_at:
            return
        wall = time.perf_counter()
        simulated = now - max(self._last_at, 0.0)
        self._last_at = now

        self._requests()
        self._engine(now)
        self._city(now)
        self.metrics.simulation.advanced(simulated, wall - self._wall)
        self._wall = wall
        self.timeline.snapshot(self.metrics.registry, self.start + now)

    def write(self, out: Path) -> Path:
        """Write the timeline into the run directory ``out``."""
        path = out / OPENMETRICS_FILE
        self.timeline.write(path)
        log.info(
            "%s: %d points from %.0f",
            path,
            self.timeline.snapshots,
            self.start,
        )
        return path

    def push(self, url: str, git_revision: str | None) -> None:
        """Push the run's final metrics to the Pushgateway at ``url``,
        grouped by scenario, run and git revision."""
        grouping = {
            **self.labels,
            "git_revision": git_revision or "unknown",
        }
        try:
            push(url, self.exposed, PUSH_JOB, grouping)
        except OSError as error:
            raise InputError(
                "--push",
                "",
                url,
                f"must be a Pushgateway that accepts pushes ({error})",
            ) from None
        log.info("pushed %s to %s", grouping, url)

    def _requests(self) -> None:
        recorder = self.world.recorder
        requests = self.metrics.requests
        grouped: dict[tuple[str, str], list[float]] = defaultdict(list)
        for endpoint, outcome, latency in recorder.samples_since(
            self._samples
        ):
            grouped[endpoint, outcome].append(latency)
        for (endpoint, outcome), seconds in grouped.items():
            requests.observe_many(endpoint, outcome, seconds)
        self._samples = recorder.sample_count

        port = self.world.port
        requests.set_in_flight(port.in_flight())
        requests.set_workers(port.busy(), port.workers)

    def _engine(self, now: float) -> None:
        recorder = self.world.recorder
        advisor = self.metrics.advisor
        for _, kind, outcome, latency in recorder.advisor_events[
            self._advice :
        ]:
            advisor.on_advice(kind, Outcome(outcome), latency)
        self._advice = len(recorder.advisor_events)
        for _, state in recorder.breaker_events[self._breaker :]:
            advisor.on_breaker(BreakerState(state))
        self._breaker = len(recorder.breaker_events)
        for _, backend, fallback, seconds in recorder.solve_events[
            self._solves :
        ]:
            self.metrics.solver.on_solve(backend, fallback, seconds)
        self._solves = len(recorder.solve_events)

        cache = self.metrics.cache
        for _, layer, degraded in recorder.degraded_events[self._degraded :]:
            cache.on_degraded(layer, degraded)
        self._degraded = len(recorder.degraded_events)

        # Look-ups are tallied per minute; only the minutes since the
        # last refresh can have changed.
        minute = int(now // 60)
        window = {
            (index, layer, result.value): recorder.cache_lookups[
                index, layer, result.value
            ]
            for index in range(self._minute, minute + 1)
            for layer in LAYERS
            for result in Lookup
            if (index, layer, result.value) in recorder.cache_lookups
        }
        for (_, layer, result), count in self._since("lookups", window):
            cache.count_lookups(layer, result, count)
        for (layer, reason), count in self._since(
            "evictions", recorder.cache_evictions
        ):
            cache.count_evictions(layer, reason, count)
        for (layer, operation), count in self._since(
            "errors", recorder.cache_errors
        ):
            cache.count_errors(layer, operation, count)
        for layer, size in self._since("stored", recorder.cache_stored):
            cache.stored_bytes.labels(layer).inc(size)
        self._minute = minute

        for each in self.world.service.caches.layers():
            entries, size = _size(each)
            cache.set_size(each.name, entries, size)

    def _since(
        self, name: str, totals: dict[Any, int]
    ) -> list[tuple[Any, int]]:
        """What ``totals`` grew by, key by key, since the last call for
        ``name``; keys absent from ``totals`` are forgotten."""
        fed = self._tallies[name]
        grown = [
            (key, total - fed.get(key, 0))
            for key, total in totals.items()
            if total > fed.get(key, 0)
        ]
        self._tallies[name] = dict(totals)
        return grown

    def _city(self, now: float) -> None:
        world = self.world
        city = self.metrics.city
        fresh = list(islice(world.orders.values(), self._orders_seen, None))
        self._orders_seen += len(fresh)
        city.placed(len(fresh))
        self._open.extend(fresh)

        still: list[OrderState] = []
        for order in self._open:
            if order.status is OrderStatus.DELIVERED:
                self._delivered += 1
                city.delivered(
                    order.delivered_s - order.created_s,
                    order.delivered_s <= order.promised_s,
                )
            elif order.status is OrderStatus.CANCELLED:
                self._cancelled += 1
            else:
                still.append(order)
        self._open = still
        for status in (
            OrderStatus.OPEN,
            OrderStatus.ASSIGNED,
            OrderStatus.PICKED,
        ):
            city.set_orders(
                status.value, sum(1 for o in still if o.status is status)
            )
        city.set_orders(OrderStatus.DELIVERED.value, self._delivered)
        city.set_orders(OrderStatus.CANCELLED.value, self._cancelled)

        busy = idle = offline = capacity = 0
        busy_s = shift_s = 0.0
        for driver in world.drivers.values():
            if not driver.online:
                offline += 1
            elif driver.leg is not None or driver.tasks:
                busy += 1
            else:
                idle += 1
            if driver.online:
                capacity += driver.plan.capacity
            busy_s += driver.busy_s
            shift_s += max(
                min(driver.plan.shift_end, now) - driver.plan.shift_start,
                0.0,
            )
        city.set_drivers(busy, idle, offline, capacity)
        city.set_utilization(busy_s / shift_s if shift_s > 0 else 0.0)


def _size(layer: CacheLayer[Any]) -> tuple[int, int]:
    """Entries and bytes of the backend a layer uses now.

    Read from the backend itself: the layer's own statistics would probe
    a degraded backend and so move the layer's retry schedule.
    """
    backend: CacheBackend = layer.backend
    if layer.degraded and layer.fallback is not None:
        backend = layer.fallback
    try:
        return backend.entries, backend.bytes
    except Exception:
        # A size that cannot be read is not worth failing a run for.
        log.debug("cache layer %s: size unavailable", layer.name)
        return 0, 0
