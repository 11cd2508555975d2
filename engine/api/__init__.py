"""The HTTP API: the engine's :class:`~engine.service.Service` over
Starlette and uvicorn, with solving in worker processes.

::

    create_app(runtime)             the ASGI application (engine/api/app.py)
    Runtime.build(config, backends) service, solve pool, jobs, storage
                                    writer and metrics, from URLs
    ApiConfig                       workers, admission, bounds
    SolverPool                      worker processes behind admission
    JobRegistry                     asynchronous jobs by id
    question_from_dict, ...         bodies to and from the model

docs/api.md describes every endpoint.
"""

from engine.api.app import create_app
from engine.api.codec import (
    advice_to_dict,
    optimize_from_dict,
    optimize_to_dict,
    optimized_to_dict,
    question_from_dict,
    question_to_dict,
    travel_to_dict,
)
from engine.api.config import ApiConfig
from engine.api.errors import (
    ApiError,
    BodyError,
    OverloadedError,
    WorkerLostError,
)
from engine.api.jobs import JobRegistry, job_to_dict
from engine.api.openapi import openapi_document
from engine.api.pool import Admission, SolverPool, admitted
from engine.api.runtime import Backends, EpochClock, Runtime

__all__ = [
    "Admission",
    "ApiConfig",
    "ApiError",
    "Backends",
    "BodyError",
    "EpochClock",
    "JobRegistry",
    "OverloadedError",
    "Runtime",
    "SolverPool",
    "WorkerLostError",
    "admitted",
    "advice_to_dict",
    "create_app",
    "job_to_dict",
    "openapi_document",
    "optimize_from_dict",
    "optimize_to_dict",
    "optimized_to_dict",
    "question_from_dict",
    "question_to_dict",
    "travel_to_dict",
]
