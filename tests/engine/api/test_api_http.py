"""The HTTP API in a real uvicorn process, on the local PostgreSQL and
Redis: every endpoint, the route cache, a job's lifecycle, a 422 for
each kind of bad input, 503 under overload, request ids and the log,
readiness, metrics."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from engine.advisor import AssignmentQuestion, Candidate, Outcome
from engine.api import optimize_to_dict, question_to_dict
from engine.model import Location, Options, Order
from engine.travel import Euclidean
from simulator.example import example_request
from tests.engine.api.conftest import (
    ASYNC_ABOVE,
    FRAGILE_QUEUE_TIMEOUT_S,
    POSTGRES_URL,
)

if TYPE_CHECKING:
    import redis

    from tests.engine.api.conftest import Server


def _body(orders: int = 12, seed: int = 0, **options: Any) -> dict[str, Any]:
    request = example_request(orders=orders, vehicles=4, seed=seed)
    options.setdefault("time_limit", 0.1)
    return optimize_to_dict(
        dataclasses.replace(request, options=Options(**options))
    )


def _rows(schema: str, query: str) -> list[tuple[Any, ...]]:
    url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(query).fetchall()


def _eventually(check: Any, timeout_s: float = 20.0) -> Any:
    """``check()`` once it returns something true, polling."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.mark.timeout(120)
def test_health_and_readiness(client: httpx.Client) -> None:
    """/healthz answers 200; /readyz answers 200 when PostgreSQL, Redis
    and the workers all answer."""
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "reasons": []}


@pytest.mark.timeout(120)
def test_optimize_then_cache_hit(
    client: httpx.Client, redis_db: redis.Redis, postgres_schema: str
) -> None:
    """A first optimize is a miss with a plan, delivery estimates and
    every stage's time; the same body again is a hit from Redis with the
    same plan and fingerprint; the plan is stored in PostgreSQL."""
    body = _body(seed=1)
    first = client.post("/api/optimize", json=body)
    assert first.status_code == 200
    answer = first.json()
    assert set(answer) == {"fingerprint", "cache", "plan", "etas", "stages"}
    assert answer["cache"] == "miss"
    assert set(answer["stages"]) == {
        "cache",
        "solve",
        "advisor",
        "eta",
        "store",
    }
    planned = {
        stop["order_id"]
        for route in answer["plan"]["routes"]
        for stop in route["stops"]
        if stop["kind"] == "delivery"
    }
    assert set(answer["etas"]) == planned

    second = client.post("/api/optimize", json=body).json()
    assert second["cache"] == "hit"
    assert second["plan"] == answer["plan"]
    assert second["fingerprint"] == answer["fingerprint"]
    assert redis_db.keys("barq:1:routes:*")

    stored = _eventually(
        lambda: (
            _rows(
                postgres_schema,
                "SELECT count(*) FROM plans WHERE fingerprint = "
                f"'{answer['fingerprint']}'",
            )[0][0]
            >= 2
        )
    )
    assert stored


@pytest.mark.timeout(120)
def test_eta_after_a_plan(client: httpx.Client) -> None:
    """After a plan, each planned order's estimate names its vehicle and
    the planned delivery time; an order no plan names is 404."""
    answer = client.post("/api/optimize", json=_body(seed=2)).json()
    route = answer["plan"]["routes"][0]
    delivery = next(s for s in route["stops"] if s["kind"] == "delivery")
    eta = client.get(f"/api/orders/{delivery['order_id']}/eta")
    assert eta.status_code == 200
    data = eta.json()
    assert data["order_id"] == delivery["order_id"]
    assert data["vehicle_id"] == route["vehicle_id"]
    assert data["delivery_s"] == delivery["arrival"]
    assert data["planned_at"] > 1.6e9

    missing = client.get("/api/orders/no-such-order/eta")
    assert missing.status_code == 404
    assert "no-such-order" in missing.json()["error"]


@pytest.mark.timeout(120)
def test_location_is_kept_and_stored(
    client: httpx.Client, postgres_schema: str
) -> None:
    """A driver's position answers 204 and reaches PostgreSQL."""
    reply = client.post("/api/drivers/d-17/location", json={"x": 4, "y": 2})
    assert reply.status_code == 204
    assert reply.content == b""
    rows = _eventually(
        lambda: _rows(
            postgres_schema,
            "SELECT x, y FROM driver_locations WHERE driver_id = 'd-17'",
        )
    )
    assert rows == [(4.0, 2.0)]


@pytest.mark.timeout(120)
def test_assignment_advice(client: httpx.Client) -> None:
    """An assignment question answers, for every order, a driver of the
    question or null, with the call's outcome and whose answer it is."""
    places = (Location("m", 0, 0), Location("c1", 3, 4), Location("c2", 6, 0))
    question = AssignmentQuestion(
        orders=(Order("o1", "m", "c1"), Order("o2", "m", "c2", quantity=5)),
        locations=places,
        candidates=(
            Candidate("near", places[0], 0.0, 2),
            Candidate("far", Location("x", 50, 50), 0.0, 2, 3600.0),
        ),
        now=0.0,
    )
    reply = client.post(
        "/api/advice/assignment", json=question_to_dict(question, Euclidean())
    )
    assert reply.status_code == 200
    advice = reply.json()
    assert advice["assignments"] == {"o1": "near", "o2": None}
    assert advice["outcome"] in {outcome.value for outcome in Outcome}
    assert advice["source"] in {"advisor", "heuristic"}
    assert advice["latency_s"] >= 0


def _wait_for_job(
    client: httpx.Client, location: str
) -> tuple[dict[str, Any], set[str]]:
    seen = set()
    while True:
        job = client.get(location).json()
        seen.add(job["state"])
        if job["state"] in ("done", "failed"):
            return job, seen
        time.sleep(0.02)


@pytest.mark.timeout(120)
def test_job_lifecycle(client: httpx.Client, postgres_schema: str) -> None:
    """An async optimize answers 202 queued with a Location; polling it
    sees only queued, running and done; the result is an optimize answer
    whose plan a synchronous request of the same body then gets from
    the cache; the job is stored in PostgreSQL."""
    body = _body(seed=3)
    accepted = client.post("/api/optimize", json={**body, "async": True})
    assert accepted.status_code == 202
    job_id = accepted.json()["job_id"]
    assert accepted.json() == {"job_id": job_id, "state": "queued"}
    assert accepted.headers["location"] == f"/api/jobs/{job_id}"

    job, seen = _wait_for_job(client, accepted.headers["location"])
    assert seen <= {"queued", "running", "done"}
    assert job["state"] == "done"
    assert job["error"] is None
    now = client.post("/api/optimize", json=body).json()
    assert now["cache"] == "hit"
    assert job["result"]["plan"] == now["plan"]
    assert job["result"]["fingerprint"] == now["fingerprint"]

    stored = _eventually(
        lambda: (
            _rows(
                postgres_schema,
                f"SELECT state FROM jobs WHERE job_id = '{job_id}'",
            )
            == [("done",)]
        )
    )
    assert stored


@pytest.mark.timeout(120)
def test_large_request_becomes_a_job(client: httpx.Client) -> None:
    """A request with more orders than the service's async threshold is
    answered 202 without asking, and its job ends done."""
    accepted = client.post(
        "/api/optimize", json=_body(orders=ASYNC_ABOVE + 5, seed=4)
    )
    assert accepted.status_code == 202
    job, _ = _wait_for_job(client, accepted.headers["location"])
    assert job["state"] == "done"
    assert len(job["result"]["etas"]) + len(
        job["result"]["plan"]["unassigned"]
    ) == (ASYNC_ABOVE + 5)


@pytest.mark.timeout(60)
def test_orders_without_vehicles_are_unassigned(client: httpx.Client) -> None:
    """A request with orders and no vehicle (which once aborted a solve
    worker inside OR-Tools) answers 200 with every order unassigned."""
    body = _request(vehicles=[], options={"backend": "ortools"})
    reply = client.post("/api/optimize", json=body)
    assert reply.status_code == 200
    plan = reply.json()["plan"]
    assert plan["routes"] == []
    assert [item["order_id"] for item in plan["unassigned"]] == ["o1"]


def test_unknown_job_is_404(client: httpx.Client) -> None:
    """A job id nobody was given answers 404 naming it."""
    reply = client.get("/api/jobs/0123456789abcdef")
    assert reply.status_code == 404
    assert "0123456789abcdef" in reply.json()["error"]


ORDER = {"id": "o1", "pickup": "a", "delivery": "b"}
PLACES = [{"id": "a", "x": 0, "y": 0}, {"id": "b", "x": 1, "y": 1}]
VEHICLE = {"id": "v1", "start": "a", "capacity": 2}


def _request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "locations": PLACES,
        "orders": [ORDER],
        "vehicles": [VEHICLE],
        "travel": {"model": "euclidean"},
    }
    body.update(changes)
    return body


BAD_INPUT = [
    pytest.param(
        "/api/optimize",
        _request(colour="red"),
        ("colour", "red", "allowed"),
        id="unknown-field",
    ),
    pytest.param(
        "/api/optimize",
        _request(orders=[{**ORDER, "quantity": "two"}]),
        ("orders[o1].quantity", "two", "must be an integer"),
        id="wrong-type",
    ),
    pytest.param(
        "/api/optimize",
        _request(orders=[{**ORDER, "ready_time": 50, "due_time": 10}]),
        ("orders[o1].due_time", 10, "must be >= ready_time"),
        id="broken-rule",
    ),
    pytest.param(
        "/api/optimize",
        _request(orders=[{**ORDER, "pickup": "nowhere"}]),
        ("orders[o1].pickup", "nowhere", "must name a location"),
        id="dangling-reference",
    ),
    pytest.param(
        "/api/optimize",
        _request(orders=[{"id": "o1"}]),
        ("orders[0]", {"id": "o1"}, "missing"),
        id="missing-field",
    ),
    pytest.param(
        "/api/optimize",
        _request(options={"time_limit": 60}),
        ("options.time_limit", 60, "on this service"),
        id="service-bound",
    ),
    pytest.param(
        "/api/optimize",
        _request(**{"async": "yes"}),
        ("async", "yes", "must be a boolean"),
        id="async-not-boolean",
    ),
    pytest.param(
        "/api/optimize",
        [1, 2],
        ("request", [1, 2], "must be a mapping"),
        id="not-an-object",
    ),
    pytest.param(
        "/api/drivers/d1/location",
        {"x": "east", "y": 0},
        ("x", "east", "must be a number"),
        id="location-coordinate",
    ),
    pytest.param(
        "/api/advice/assignment",
        {
            "orders": [ORDER],
            "locations": PLACES,
            "candidates": [
                {
                    "driver_id": "d1",
                    "location": "nowhere",
                    "available_at": 0,
                    "free_capacity": 1,
                }
            ],
            "now": 0,
        },
        ("candidates[0].location", "nowhere", "must name a location"),
        id="advice-candidate",
    ),
]


@pytest.mark.parametrize(("path", "body", "expected"), BAD_INPUT)
def test_bad_input_is_422_with_field_value_and_rule(
    client: httpx.Client,
    path: str,
    body: Any,
    expected: tuple[str, Any, str],
) -> None:
    """Each kind of bad input answers 422 with the field path, the value
    given and the rule it breaks."""
    reply = client.post(path, json=body)
    assert reply.status_code == 422, reply.text
    error = reply.json()
    field, value, rule = expected
    assert error["field"] == field
    assert error["value"] == value
    assert rule in error["rule"]
    assert field in error["error"]


@pytest.mark.parametrize(
    "content",
    [b'{"orders": [', b"NaN", b"\xff\xfe", b""],
    ids=["truncated", "nan", "not-utf8", "empty"],
)
def test_malformed_json_is_422_naming_the_body(
    client: httpx.Client, content: bytes
) -> None:
    """A body that is not JSON answers 422 with field body and the
    parser's complaint as the value."""
    reply = client.post("/api/optimize", content=content)
    assert reply.status_code == 422
    error = reply.json()
    assert (error["field"], error["rule"]) == (
        "body",
        "must be a JSON document",
    )
    assert isinstance(error["value"], str)
    assert error["value"]


def test_too_large_body_is_413(client: httpx.Client) -> None:
    """A body over the service's bound answers 413, naming its size."""
    content = b" " * (8 * 1024 * 1024 + 1)
    reply = client.post("/api/drivers/d1/location", content=content)
    assert reply.status_code == 413
    assert reply.json()["value"] == len(content)


def test_unknown_route_and_wrong_method(client: httpx.Client) -> None:
    """An unknown path answers 404 and a known path with the wrong
    method 405 with Allow, both as JSON."""
    missing = client.get("/api/nothing")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    wrong = client.get("/api/optimize")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "POST"
    assert "error" in wrong.json()


@pytest.mark.timeout(60)
def test_request_id_echoed_generated_and_logged(
    client: httpx.Client, server: Server
) -> None:
    """A request's own X-Request-ID comes back; without one each answer,
    errors included, gets a new id; the log has one line per request
    with the id, method, path, status and duration."""
    given = client.get("/healthz", headers={"X-Request-ID": "trace-42"})
    assert given.headers["x-request-id"] == "trace-42"
    ids = {
        client.get("/healthz").headers["x-request-id"],
        client.get("/api/nothing").headers["x-request-id"],
        client.post("/api/optimize", content=b"{").headers["x-request-id"],
    }
    assert len(ids) == 3

    def logged() -> list[str]:
        return [
            line for line in server.log().splitlines() if "trace-42" in line
        ]

    lines = _eventually(logged)
    assert len(lines) == 1
    assert "engine.api" in lines[0]
    assert " GET /healthz 200 " in lines[0]
    assert lines[0].endswith(" ms")


@pytest.mark.timeout(60)
def test_metrics_name_the_request_metrics(client: httpx.Client) -> None:
    """/metrics is the Prometheus text format with request durations by
    endpoint and outcome, requests in flight, workers and the cache,
    solver and storage metrics."""
    client.post("/api/optimize", json=_body(seed=5))
    client.get("/api/orders/no-such-order/eta")
    reply = client.get("/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    text = reply.text
    for name in (
        'barq_request_duration_seconds_bucket{endpoint="optimize"',
        'barq_request_duration_seconds_count{endpoint="eta",'
        'outcome="unknown"}',
        "barq_requests_in_flight 1.0",
        "barq_workers 2.0",
        "barq_workers_busy",
        "barq_cache_lookups_total",
        "barq_solver_duration_seconds",
        "barq_storage_query_duration_seconds",
    ):
        assert name in text, name


@pytest.mark.timeout(120)
def test_overload_answers_503_with_retry_after(fragile: Server) -> None:
    """With one worker busy on a long search, concurrent requests that
    cannot get it within the queue timeout answer 503 with Retry-After
    and the reason, instead of waiting; the busy one is answered 200."""
    bodies = [_body(orders=4, seed=100 + k, time_limit=1.5) for k in range(6)]

    def post(body: dict[str, Any]) -> httpx.Response:
        return httpx.post(
            f"{fragile.base_url}/api/optimize", json=body, timeout=30
        )

    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as threads:
        replies = list(threads.map(post, bodies))

    statuses = sorted(reply.status_code for reply in replies)
    assert 200 in statuses
    assert 503 in statuses
    assert set(statuses) <= {200, 503}
    for reply in replies:
        if reply.status_code == 503:
            assert int(reply.headers["retry-after"]) >= 1
            assert str(FRAGILE_QUEUE_TIMEOUT_S) in reply.json()["reason"]


@pytest.mark.timeout(60)
def test_readyz_degraded_without_redis(fragile: Server) -> None:
    """With nothing listening at the cache URL, /readyz answers 503
    degraded naming the cache, while /healthz and optimize still answer
    (the caches fall back to memory)."""
    reply = httpx.get(f"{fragile.base_url}/readyz")
    assert reply.status_code == 503
    data = reply.json()
    assert data["status"] == "degraded"
    assert len(data["reasons"]) == 1
    assert data["reasons"][0].startswith("cache: redis")
    assert httpx.get(f"{fragile.base_url}/healthz").status_code == 200
    solved = httpx.post(
        f"{fragile.base_url}/api/optimize", json=_body(seed=6), timeout=30
    )
    assert solved.status_code == 200
