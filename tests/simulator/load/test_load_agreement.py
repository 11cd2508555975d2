"""Live and simulated runs agree where they overlap: the requests
``barq load`` sends over HTTP are answered with the plans the engine
gives the simulation in process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest
from loadservice import SMOKE

from engine.clock import ManualClock
from engine.codec import request_from_dict
from engine.service import Service, ServiceConfig
from simulator.load.traffic import Traffic
from simulator.scenario import load_scenario


def _routes(plan: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """A plan's routes as vehicle and visited stops, and nothing the
    solve's timing could change."""
    return [
        (
            route["vehicle_id"],
            [(stop["order_id"], stop["kind"]) for stop in route["stops"]],
        )
        for route in plan["routes"]
    ]


@pytest.mark.timeout(300)
def test_optimize_over_http_plans_as_the_engine_in_process(
    service: str,
) -> None:
    """Merchants' batch plans and dispatch questions of the smoke city,
    drawn as ``barq load`` draws them, get the same routes, unassigned
    orders and cost from the live service as from ``Service.optimize``
    in process: both solve on a work budget, so a request has one
    answer wherever it runs."""
    scenario = load_scenario(SMOKE)
    traffic = Traffic(scenario, scenario.seed)
    rng = np.random.default_rng(5)
    in_process = Service.build(ServiceConfig(), ManualClock())
    calls = [
        call
        for t in np.linspace(600.0, scenario.duration_s - 60.0, 40)
        for call in (
            traffic.batch_plan(float(t), rng),
            traffic.dispatch(float(t), rng),
        )
        if call is not None
    ]
    assert {call.endpoint for call in calls} == {"batch_plan", "dispatch"}

    with httpx.Client(base_url=service, timeout=60.0) as client:
        for call in calls:
            assert call.body is not None
            answer = client.post(
                call.path,
                content=call.body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status_code == 200, answer.text
            live = answer.json()["plan"]
            local = in_process.optimize(
                request_from_dict(json.loads(call.body))
            ).plan.to_dict()

            assert _routes(live) == _routes(local), call.endpoint
            assert live["unassigned"] == local["unassigned"]
            assert live["cost"] == pytest.approx(local["cost"])
