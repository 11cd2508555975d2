"""The OpenAPI 3.0 document of the HTTP API, written by hand.

Schemas say what the readers in :mod:`engine.codec` and
:mod:`engine.api.codec` accept field by field: types, bounds, required
and unknown fields, and the service's own limits from
:class:`~engine.api.config.ApiConfig`. Rules across fields (a due time
after its ready time, orders naming locations of the request, unique
ids) cannot be written in a schema; a body that breaks one is answered
422 like any other bad input, which every operation with a body lists.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from engine.advisor import Outcome
from engine.api.codec import default_time_limit
from engine.cache import Lookup
from engine.model import Backend, StopKind, UnassignedReason
from engine.service import STAGES

if TYPE_CHECKING:
    from engine.api.config import ApiConfig

Schema = dict[str, Any]

REF = "#/components/schemas/"


def _ref(name: str) -> Schema:
    return {"$ref": REF + name}


def _number(minimum: float | None = None, **more: Any) -> Schema:
    schema: Schema = {"type": "number", **more}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def _object(
    properties: dict[str, Schema],
    required: tuple[str, ...] = (),
    *,
    closed: bool = True,
    **more: Any,
) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, **more}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


IDENTIFIER: Schema = {"type": "string", "minLength": 1}
UNBOUNDED_TIME = _number(
    nullable=True, description="Seconds; null for no bound."
)
SECONDS = _number(0, description="Seconds, >= 0.")


def _inputs(config: ApiConfig) -> dict[str, Schema]:
    """The schemas of request bodies."""
    travel_speed = {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    return {
        "Location": _object(
            {"id": IDENTIFIER, "x": _number(), "y": _number()},
            ("id", "x", "y"),
        ),
        "Order": _object(
            {
                "id": IDENTIFIER,
                "pickup": IDENTIFIER,
                "delivery": IDENTIFIER,
                "quantity": {"type": "integer", "minimum": 1},
                "ready_time": SECONDS,
                "due_time": UNBOUNDED_TIME,
                "pickup_due": UNBOUNDED_TIME,
                "delivery_ready": SECONDS,
                "pickup_service": SECONDS,
                "delivery_service": SECONDS,
            },
            ("id", "pickup", "delivery"),
        ),
        "Vehicle": _object(
            {
                "id": IDENTIFIER,
                "start": IDENTIFIER,
                "capacity": {"type": "integer", "minimum": 0},
                "end": {**IDENTIFIER, "nullable": True},
                "shift_start": SECONDS,
                "shift_end": UNBOUNDED_TIME,
                "onboard": {"type": "array", "items": IDENTIFIER},
                "committed": {"type": "array", "items": IDENTIFIER},
            },
            ("id", "start", "capacity"),
        ),
        "Travel": {
            "oneOf": [
                _object(
                    {
                        "model": {"type": "string", "enum": [model]},
                        "speed": travel_speed,
                    },
                    ("model",),
                )
                for model in ("euclidean", "haversine")
            ]
            + [
                _object(
                    {
                        "model": {"type": "string", "enum": ["matrix"]},
                        "seconds": {
                            "type": "array",
                            "description": "Travel seconds between the "
                            "locations, in their order: a square matrix.",
                            "items": {"type": "array", "items": SECONDS},
                        },
                    },
                    ("model", "seconds"),
                )
            ]
        },
        "Options": _object(
            {
                "weights": _object(
                    {
                        "travel_time": SECONDS,
                        "vehicle": _number(0),
                        "unassigned": _number(0),
                        "delivery_time": _number(0),
                    }
                ),
                "time_limit": {
                    "type": "number",
                    "minimum": 0,
                    "exclusiveMinimum": True,
                    "maximum": config.max_time_limit_s,
                    "default": default_time_limit(config),
                    "description": "Seconds of search (service mode).",
                },
                "work_limit": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": config.max_work_limit,
                    "nullable": True,
                },
                "seed": {"type": "integer", "minimum": 0},
                "backend": {
                    "type": "string",
                    "enum": [backend.value for backend in Backend],
                },
            },
            nullable=True,
        ),
        "OptimizeRequest": _object(
            {
                "locations": {
                    "type": "array",
                    "items": _ref("Location"),
                    "maxItems": config.max_locations,
                },
                "orders": {"type": "array", "items": _ref("Order")},
                "vehicles": {"type": "array", "items": _ref("Vehicle")},
                "travel": _ref("Travel"),
                "options": _ref("Options"),
                "async": {
                    "type": "boolean",
                    "description": "Answer 202 with a job id at once.",
                },
            }
        ),
        "Position": _object({"x": _number(), "y": _number()}, ("x", "y")),
        "Candidate": _object(
            {
                "driver_id": IDENTIFIER,
                "location": {
                    "oneOf": [IDENTIFIER, _ref("Position")],
                    "description": "A location of the question by id, "
                    "or where the driver is.",
                },
                "available_at": _number(),
                "free_capacity": {"type": "integer", "minimum": 0},
                "shift_end": UNBOUNDED_TIME,
            },
            ("driver_id", "location", "available_at", "free_capacity"),
        ),
        "AssignmentQuestion": _object(
            {
                "orders": {
                    "type": "array",
                    "items": _ref("Order"),
                    "minItems": 1,
                },
                "locations": {"type": "array", "items": _ref("Location")},
                "candidates": {"type": "array", "items": _ref("Candidate")},
                "now": _number(),
                "travel": _ref("Travel"),
            },
            ("orders", "now"),
        ),
    }


def _outputs() -> dict[str, Schema]:
    """The schemas of answers."""
    number = _number()
    stop = _object(
        {
            "order_id": IDENTIFIER,
            "kind": {"type": "string", "enum": [k.value for k in StopKind]},
            "location_id": IDENTIFIER,
            "arrival": number,
            "start": number,
            "departure": number,
            "load": {"type": "integer"},
            "late": number,
        },
        ("order_id", "kind", "location_id", "arrival", "start", "departure"),
    )
    route = _object(
        {
            "vehicle_id": IDENTIFIER,
            "travel_time": number,
            "end_time": number,
            "stops": {"type": "array", "items": stop},
        },
        ("vehicle_id", "travel_time", "end_time", "stops"),
    )
    unassigned = _object(
        {
            "order_id": IDENTIFIER,
            "reason": {
                "type": "string",
                "enum": [r.value for r in UnassignedReason],
            },
        },
        ("order_id", "reason"),
    )
    stats = _object(
        {
            "backend": {"type": "string"},
            "iterations": {"type": "integer"},
            "wall_s": number,
            "deadline_hit": {"type": "boolean"},
            "fallback": {"type": "boolean"},
            "fallback_reason": {"type": "string", "nullable": True},
        },
        ("backend", "iterations", "wall_s", "fallback"),
    )
    text = {"type": "string"}
    return {
        "Plan": _object(
            {
                "routes": {"type": "array", "items": route},
                "unassigned": {"type": "array", "items": unassigned},
                "cost": number,
                "stats": stats,
            },
            ("routes", "unassigned", "cost", "stats"),
        ),
        "Optimized": _object(
            {
                "fingerprint": text,
                "cache": {"type": "string", "enum": [r.value for r in Lookup]},
                "plan": _ref("Plan"),
                "etas": {
                    "type": "object",
                    "additionalProperties": number,
                    "description": "Planned delivery time by order id.",
                },
                "stages": _object(
                    {stage: SECONDS for stage in STAGES}, STAGES
                ),
            },
            ("fingerprint", "cache", "plan", "etas", "stages"),
        ),
        "JobAccepted": _object(
            {"job_id": text, "state": {"type": "string", "enum": ["queued"]}},
            ("job_id", "state"),
        ),
        "Job": _object(
            {
                "job_id": text,
                "state": {
                    "type": "string",
                    "enum": ["queued", "running", "done", "failed"],
                },
                "result": {**_ref("Optimized"), "nullable": True},
                "error": {"type": "string", "nullable": True},
            },
            ("job_id", "state", "result", "error"),
        ),
        "Eta": _object(
            {
                "order_id": text,
                "vehicle_id": text,
                "delivery_s": number,
                "planned_at": _number(
                    description="Unix seconds when the plan was made."
                ),
            },
            ("order_id", "vehicle_id", "delivery_s", "planned_at"),
        ),
        "Advice": _object(
            {
                "assignments": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "string",
                        "nullable": True,
                    },
                    "description": "The chosen driver by order id; null "
                    "when no driver should take it.",
                },
                "outcome": {
                    "type": "string",
                    "enum": [o.value for o in Outcome],
                },
                "source": {"type": "string", "enum": ["advisor", "heuristic"]},
                "latency_s": SECONDS,
            },
            ("assignments", "outcome", "source", "latency_s"),
        ),
        "FieldError": _object(
            {
                "error": text,
                "field": {
                    "type": "string",
                    "description": "Dotted path of the offending field, "
                    "or body.",
                },
                "value": {"nullable": True, "description": "What was given."},
                "rule": {"type": "string", "description": "What is allowed."},
            },
            ("error", "field", "value", "rule"),
        ),
        "Error": _object({"error": text}, ("error",)),
        "Overloaded": _object(
            {"error": text, "reason": text}, ("error", "reason")
        ),
        "Status": _object(
            {
                "status": {
                    "type": "string",
                    "enum": ["ok", "ready", "degraded"],
                },
                "reasons": {"type": "array", "items": text},
            },
            ("status",),
        ),
    }


def _json(name: str, description: str, **headers: Schema) -> Schema:
    response: Schema = {
        "description": description,
        "content": {"application/json": {"schema": _ref(name)}},
    }
    if headers:
        response["headers"] = {
            header: {"schema": schema, "required": True}
            for header, schema in headers.items()
        }
    return response


def _body(name: str) -> Schema:
    return {
        "required": True,
        "content": {"application/json": {"schema": _ref(name)}},
    }


def _path_id(name: str, what: str) -> list[Schema]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": f"The {what}'s id.",
            "schema": {"type": "string", "minLength": 1},
        }
    ]


BAD_INPUT = _json(
    "FieldError",
    "Invalid input: the body is not JSON, or a field breaks a rule.",
)
TOO_LARGE = _json("FieldError", "The body is larger than the service takes.")
NOT_FOUND = _json("Error", "No such route (an id holding a '/').")
OVERLOADED = _json(
    "Overloaded",
    "No solve worker was free in time, too many requests or jobs wait, "
    "or the storage buffer is full.",
    **{"Retry-After": {"type": "integer"}},
)
STORAGE_FULL = _json(
    "Overloaded",
    "The storage buffer is full.",
    **{"Retry-After": {"type": "integer"}},
)


def _paths() -> dict[str, Schema]:
    return {
        "/api/optimize": {
            "post": {
                "summary": "Plan routes for a request, or accept it as a job",
                "operationId": "optimize",
                "requestBody": _body("OptimizeRequest"),
                "responses": {
                    "200": _json("Optimized", "The plan."),
                    "202": _json(
                        "JobAccepted",
                        "Accepted as a job: a large request, or one "
                        "asking for async.",
                        Location={"type": "string"},
                    ),
                    "413": TOO_LARGE,
                    "422": BAD_INPUT,
                    "500": _json("Error", "A solve worker died."),
                    "503": OVERLOADED,
                },
            }
        },
        "/api/jobs/{job_id}": {
            "get": {
                "summary": "A job's state, and its answer once done",
                "operationId": "job",
                "parameters": _path_id("job_id", "job"),
                "responses": {
                    "200": _json("Job", "The job."),
                    "404": _json("Error", "No such job."),
                },
            }
        },
        "/api/orders/{order_id}/eta": {
            "get": {
                "summary": "When an order is planned to be delivered",
                "operationId": "eta",
                "parameters": _path_id("order_id", "order"),
                "responses": {
                    "200": _json("Eta", "The latest planned delivery."),
                    "404": _json("Error", "No plan names the order."),
                },
            }
        },
        "/api/drivers/{driver_id}/location": {
            "post": {
                "summary": "Report where a driver is",
                "operationId": "location",
                "parameters": _path_id("driver_id", "driver"),
                "requestBody": _body("Position"),
                "responses": {
                    "204": {"description": "Kept."},
                    "404": NOT_FOUND,
                    "413": TOO_LARGE,
                    "422": BAD_INPUT,
                    "503": STORAGE_FULL,
                },
            }
        },
        "/api/advice/assignment": {
            "post": {
                "summary": "Which driver should take each order",
                "operationId": "advice",
                "requestBody": _body("AssignmentQuestion"),
                "responses": {
                    "200": _json("Advice", "The advice."),
                    "413": TOO_LARGE,
                    "422": BAD_INPUT,
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Liveness",
                "operationId": "healthz",
                "responses": {"200": _json("Status", "The process serves.")},
            }
        },
        "/readyz": {
            "get": {
                "summary": "Readiness: storage, cache and workers answer",
                "operationId": "readyz",
                "responses": {
                    "200": _json("Status", "Ready."),
                    "503": _json("Status", "Degraded, with the reasons."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "The Prometheus text format.",
                        "content": {"text/plain": {"schema": {}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {}}},
                    }
                },
            }
        },
    }


def openapi_document(config: ApiConfig) -> dict[str, Any]:
    """The OpenAPI 3.0 document of a service configured by ``config``.

    Every answer carries an ``X-Request-ID`` header; a 503 also carries
    ``Retry-After`` (seconds).
    """
    paths = copy.deepcopy(_paths())
    request_id = {
        "description": "The request's id: the one it sent, or a new one.",
        "schema": {"type": "string"},
        "required": True,
    }
    for operations in paths.values():
        for operation in operations.values():
            for response in operation["responses"].values():
                response.setdefault("headers", {})["X-Request-ID"] = request_id
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Barq route optimization",
            "version": "1",
            "description": "Route plans, jobs, delivery estimates, driver "
            "locations and the fleet advisor. docs/api.md tells more.",
        },
        "paths": paths,
        "components": {
            "schemas": {**_inputs(config), **_outputs()},
        },
    }
