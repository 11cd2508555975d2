"""Tests of the engine service: the route cache by fingerprint, the
advisor's review, delivery estimates, driver locations and stage times."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
import pytest

import engine.service
from engine.advisor import (
    Advisor,
    LatencyModel,
    ModelConfig,
    ModelledBackend,
    Outcome,
)
from engine.cache import CacheConfig, Caches, Lookup
from engine.clock import ManualClock
from engine.errors import InvalidRequestError
from engine.model import Backend, Location, Options, StopKind
from engine.service import STAGES, Service, ServiceConfig
from simulator.example import example_request

if TYPE_CHECKING:
    from engine.model import Plan, Request


def _request(orders: int = 30, vehicles: int = 10) -> Request:
    request = example_request(orders=orders, vehicles=vehicles, seed=3)
    return dataclasses.replace(
        request, options=Options(backend=Backend.HEURISTIC)
    )


def _service(clock: ManualClock, advisor: Advisor | None = None) -> Service:
    return Service.build(ServiceConfig(), clock, advisor=advisor)


def _advisor(clock: ManualClock, median_s: float = 0.4) -> Advisor:
    model = ModelConfig(
        latency=LatencyModel(kind="constant", median_s=median_s)
    )
    backend = ModelledBackend(model, clock, np.random.default_rng(0))
    return Advisor(backend, clock)


def test_second_identical_request_is_a_cache_hit() -> None:
    """The first request is solved (a miss), the same request again is
    answered from the route cache with the same plan and no solve."""
    service = _service(ManualClock())
    request = _request()
    first = service.optimize(request)
    second = service.optimize(request)
    assert first.cache is Lookup.MISS
    assert second.cache is Lookup.HIT
    assert second.fingerprint == first.fingerprint
    assert second.plan == first.plan
    assert first.stages["solve"] > 0
    assert second.stages["solve"] == 0
    assert set(second.stages) == set(STAGES)


@pytest.mark.parametrize(("orders", "vehicles"), [(1, 1), (30, 2), (60, 12)])
def test_a_computed_plan_equals_the_same_plan_read_from_the_cache(
    orders: int, vehicles: int
) -> None:
    """A miss serves the plan it computed, a hit the plan decoded from
    the cache: the two are equal, unassigned orders and all."""
    service = _service(ManualClock())
    request = _request(orders, vehicles)
    computed = service.optimize(request)
    cached = service.optimize(request)
    assert (computed.cache, cached.cache) == (Lookup.MISS, Lookup.HIT)
    assert cached.plan == computed.plan
    assert cached.etas == computed.etas


def test_listing_order_does_not_change_the_answer() -> None:
    """A request that lists its orders and vehicles in another order has
    the same fingerprint and is answered from the cache."""
    service = _service(ManualClock())
    request = _request()
    shuffled = dataclasses.replace(
        request,
        orders=tuple(reversed(request.orders)),
        vehicles=tuple(reversed(request.vehicles)),
        locations=tuple(reversed(request.locations)),
    )
    first = service.optimize(request)
    second = service.optimize(shuffled)
    assert second.cache is Lookup.HIT
    assert second.plan == first.plan


def test_cached_plan_expires_with_the_route_ttl() -> None:
    """After the route layer's TTL on the injected clock, the request is
    solved again."""
    clock = ManualClock()
    service = _service(clock)
    request = _request()
    service.optimize(request)
    clock.advance(CacheConfig().routes.ttl + 1)
    assert service.optimize(request).cache is Lookup.MISS


def test_etas_are_published_per_delivered_order() -> None:
    """Every planned delivery gets an ETA equal to its stop's arrival,
    readable by order id; an unknown order has none."""
    service = _service(ManualClock(100.0))
    answer = service.optimize(_request())
    deliveries = {
        stop.order_id: (route.vehicle_id, stop.arrival)
        for route in answer.plan.routes
        for stop in route.stops
        if stop.kind is StopKind.DELIVERY
    }
    assert answer.etas == {k: v[1] for k, v in deliveries.items()}
    order_id, (vehicle_id, arrival) = next(iter(deliveries.items()))
    eta = service.eta(order_id)
    assert eta is not None
    assert (eta.vehicle_id, eta.delivery_s, eta.planned_at) == (
        vehicle_id,
        arrival,
        100.0,
    )
    assert service.eta("no-such-order") is None


def test_driver_location_is_kept() -> None:
    """A reported location is stored in the reference layer with the
    time it was reported."""
    clock = ManualClock(42.0)
    service = _service(clock)
    service.update_location("d1", Location("here", 3.0, 4.0))
    assert service.caches.reference.get("driver:d1") == {
        "x": 3.0,
        "y": 4.0,
        "at": 42.0,
    }


def test_advisor_reviews_multi_route_plans_and_its_latency_is_modelled() -> (
    None
):
    """A fresh plan of several routes is reviewed; the modelled latency
    of the advisor is reported apart from the measured compute."""
    clock = ManualClock()
    service = _service(clock, _advisor(clock, median_s=0.4))
    answer = service.optimize(_request())
    assert len(answer.plan.routes) >= 2
    assert answer.review is Outcome.OK
    assert answer.modelled_s == pytest.approx(0.4)
    assert answer.charged_s == pytest.approx(answer.compute_s + 0.4)
    assert answer.stages["advisor"] > 0


def test_cached_plan_skips_the_review() -> None:
    """A plan answered from the cache is not reviewed again."""
    clock = ManualClock()
    service = _service(clock, _advisor(clock))
    request = _request()
    service.optimize(request)
    again = service.optimize(request)
    assert again.review is None
    assert again.modelled_s == 0


def test_advise_needs_an_advisor() -> None:
    """Asking a service without an advisor for advice is an error that
    says so."""
    service = _service(ManualClock())
    with pytest.raises(InvalidRequestError, match="advisor"):
        service.advise(None, None)  # type: ignore[arg-type]


def test_identical_concurrent_requests_solve_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Threads asking the same question at once share one solve."""
    solves = []
    real_solve = engine.service.solve

    def slow_solve(request: Request, config: object) -> Plan:
        solves.append(request)
        time.sleep(0.2)
        return real_solve(request, config)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.service, "solve", slow_solve)
    service = _service(ManualClock())
    request = _request()
    lookups = []
    threads = [
        threading.Thread(
            target=lambda: lookups.append(service.optimize(request).cache)
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(solves) == 1
    assert sorted(lookups) == sorted(
        [Lookup.MISS, Lookup.SHARED, Lookup.SHARED, Lookup.SHARED]
    )


def test_caches_are_built_from_the_config() -> None:
    """Service.build makes the four layers of the cache config."""
    service = _service(ManualClock())
    assert isinstance(service.caches, Caches)
    assert [layer.name for layer in service.caches.layers()] == [
        "routes",
        "matrices",
        "advice",
        "reference",
    ]


def test_a_cached_plan_does_not_overwrite_a_newer_eta() -> None:
    """ETAs come from the plan last computed: serving an older plan again
    from the cache leaves a newer plan's estimate, and its planning time,
    as they are."""
    clock = ManualClock(100.0)
    service = _service(clock)
    first = _request()
    service.optimize(first)
    order_id = first.orders[0].id

    clock.advance(100.0)
    newer = dataclasses.replace(
        first, options=Options(backend=Backend.HEURISTIC, seed=7)
    )
    assert service.optimize(newer).cache is Lookup.MISS
    clock.advance(100.0)
    again = service.optimize(first)

    assert again.cache is Lookup.HIT
    eta = service.eta(order_id)
    assert eta is not None
    assert eta.planned_at == 200.0
    assert again.etas[order_id] == next(
        stop.arrival
        for route in again.plan.routes
        for stop in route.stops
        if stop.order_id == order_id and stop.kind is StopKind.DELIVERY
    )
