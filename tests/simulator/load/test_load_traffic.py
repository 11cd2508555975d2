"""Tests of the API mix: the city's requests at a simulated second, and
what an answer means."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from engine.codec import request_from_dict
from simulator.load.traffic import ENDPOINTS, Call, Traffic, judge
from simulator.run import build_workload
from simulator.scenario import load_scenario
from simulator.world import random_streams

SCENARIOS = Path(__file__).resolve().parents[3] / "scenarios"


@pytest.fixture(scope="module")
def smoke() -> Traffic:
    """The smoke town's traffic, for its own seed."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml")
    return Traffic(scenario, scenario.seed)


def _calls(traffic: Traffic, seed: int, count: int) -> list[Call | None]:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, traffic.span_s, count))
    return [traffic.call(float(t), rng) for t in times]


def test_calls_are_deterministic_for_a_seed(smoke: Traffic) -> None:
    """Two Traffic of one scenario and seed, drawn with equal streams at
    equal instants, send exactly the same requests."""
    again = Traffic(smoke.scenario, smoke.scenario.seed)

    assert _calls(smoke, 5, 400) == _calls(again, 5, 400)


def test_another_seed_builds_another_city() -> None:
    """The seed is the workload's: another seed, other merchants, and so
    other batch questions."""
    scenario = load_scenario(SCENARIOS / "smoke.yaml")
    one = Traffic(scenario, 1)
    two = Traffic(scenario, 2)

    assert _calls(one, 5, 200) != _calls(two, 5, 200)


def test_optimize_bodies_are_valid_engine_requests(smoke: Traffic) -> None:
    """Every dispatch and batch-plan body is a request the engine's own
    reader accepts; every location body is a point; every ETA names an
    order of the workload. Each kind appears."""
    workload = build_workload(
        smoke.scenario, random_streams(smoke.scenario.seed)
    )
    orders = {arrival.id for arrival in workload.arrivals}
    seen = set()
    for call in _calls(smoke, 11, 3000):
        if call is None:
            continue
        seen.add(call.endpoint)
        if call.endpoint in ("dispatch", "batch_plan"):
            assert (call.method, call.path) == ("POST", "/api/optimize")
            assert call.body is not None
            request = request_from_dict(json.loads(call.body))
            assert request.orders
            assert request.vehicles
        elif call.endpoint == "location":
            assert call.body is not None
            point = json.loads(call.body)
            assert set(point) == {"x", "y"}
            assert all(math.isfinite(v) for v in point.values())
        else:
            assert call.method == "GET"
            assert call.path.split("/")[3] in orders
    assert seen == set(ENDPOINTS)


def test_dispatch_asks_about_the_last_epoch(smoke: Traffic) -> None:
    """A dispatch question holds the orders placed in the last epoch,
    every driver on shift, the dispatcher's options, and windows in the
    simulated clock's seconds."""
    workload = build_workload(
        smoke.scenario, random_streams(smoke.scenario.seed)
    )
    epoch = smoke.scenario.dispatch.epoch_s
    t = next(a.time + 1.0 for a in workload.arrivals if a.time > 600.0)
    fresh = {a.id for a in workload.arrivals if t - epoch < a.time <= t}
    on_shift = {
        d.id for d in workload.drivers if d.shift_start <= t < d.shift_end
    }

    call = smoke.dispatch(t, np.random.default_rng(0))

    assert call is not None
    assert call.body is not None
    request = request_from_dict(json.loads(call.body))
    assert {o.id for o in request.orders} == fresh
    assert {v.id for v in request.vehicles} == on_shift
    assert all(v.shift_start == t for v in request.vehicles)
    assert all(o.ready_time >= t - epoch for o in request.orders)
    assert request.options.work_limit == smoke.scenario.dispatch.work_limit


def test_batch_question_repeats_until_its_orders_change(
    smoke: Traffic,
) -> None:
    """A merchant's question names no clock time: asked twice at one
    moment it is the same body, so the service's cache can answer it."""
    t = smoke.span_s / 2
    first = smoke.batch_plan(t, np.random.default_rng(4))
    second = smoke.batch_plan(t, np.random.default_rng(4))

    assert first is not None
    assert first == second
    assert first.body is not None
    request = request_from_dict(json.loads(first.body))
    assert len(request.vehicles) == smoke.scenario.api.batch_couriers


def test_mix_is_the_scenario_rates_times_the_active_entities() -> None:
    """Each kind's rate in a minute is the api section's rate per entity
    times the entities active in the middle of that minute: orders
    before their promise, drivers on shift."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml")
    traffic = Traffic(scenario, scenario.seed)
    workload = build_workload(scenario, random_streams(scenario.seed))
    assert scenario.demand is not None
    sla = scenario.demand.sla_s

    for t in (12.5 * 3600, 19.2 * 3600, 3.0 * 3600):
        middle = (t // 60) * 60 + 30
        active = sum(
            middle - sla < a.time <= middle for a in workload.arrivals
        )
        drivers = sum(
            d.shift_start <= middle < d.shift_end for d in workload.drivers
        )

        mix = traffic.mix(t)

        api = scenario.api
        assert mix["eta"] == pytest.approx(api.eta_per_active_order * active)
        assert mix["location"] == pytest.approx(
            api.location_per_active_driver * drivers
        )
    peak = max(sum(traffic.mix(m * 60.0 + 1).values()) for m in range(24 * 60))
    assert traffic.natural_peak() == pytest.approx(peak / 3600)


@pytest.mark.parametrize(
    ("endpoint", "status", "body", "expected"),
    [
        ("eta", 200, b"{}", ("ok", "")),
        ("eta", 404, b"{}", ("unknown", "")),
        ("eta", 500, b"{}", ("error", "")),
        ("location", 204, b"", ("ok", "")),
        ("location", 0, None, ("error", "")),
        ("dispatch", 202, b"{}", ("accepted", "")),
        ("dispatch", 503, b"{}", ("error", "")),
        ("batch_plan", 200, b"not json", ("error", "")),
        (
            "batch_plan",
            200,
            b'{"cache": "hit", "plan": {"stats": {"fallback": false}}}',
            ("ok", "hit"),
        ),
        (
            "dispatch",
            200,
            b'{"cache": "miss", "plan": {"stats": {"fallback": true}}}',
            ("fallback", "miss"),
        ),
    ],
)
def test_judge_names_outcomes_as_the_simulation(
    endpoint: str,
    status: int,
    body: bytes | None,
    expected: tuple[str, str],
) -> None:
    """An answer's outcome: ok, unknown for an ETA the service does not
    know yet, fallback and the cache's outcome from an optimize body,
    accepted for a job, error for anything else."""
    assert judge(endpoint, status, body) == expected
