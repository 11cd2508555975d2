"""The ASGI application: routes, error answers, request ids and logs.

Every handler that may block (the service's caches may be in Redis,
solving waits for a worker process, the advisor may call out, storage
may be read) runs in a thread, bounded by a limiter of
:attr:`ApiConfig.threads`; the event loop only reads bodies and writes
answers. Jobs run in threads of their own, at most one per solve worker,
and wait in the event loop for one (``queued``) until then.

:class:`RequestLog` wraps the whole application: it gives every answer
an ``X-Request-ID`` (the request's own when it sent one, else a new
one), logs one INFO line per request on the ``engine.api`` logger, and
observes each request's duration in the request metrics, by endpoint
and outcome (:data:`OUTCOMES`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from engine.api.codec import (
    advice_to_dict,
    eta_to_dict,
    optimize_from_dict,
    optimized_to_dict,
    position_from_dict,
    question_from_dict,
)
from engine.api.errors import ApiError, BodyError, OverloadedError
from engine.api.jobs import job_to_dict
from engine.api.openapi import openapi_document
from engine.api.pool import Admission, admitted
from engine.errors import InvalidRequestError
from engine.metrics import exposition_text
from engine.storage import StorageFullError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from engine.api.runtime import Runtime
    from engine.model import Request as RoutingRequest
    from engine.storage import JobRecord

log = logging.getLogger("engine.api")

REQUEST_ID = "X-Request-ID"
"""The header that carries a request's id, both ways."""

ENDPOINT_KEY = "barq.endpoint"
"""Where a handler writes its endpoint's name in the ASGI scope."""

Handler = Callable[["Request"], Awaitable[Response]]
"""A route's handler."""

_GIVEN_ID = re.compile(r"[\x21-\x7e]{1,128}")
"""A request id taken as it is: up to 128 visible ASCII characters."""

MAX_ERROR_VALUE_CHARS = 1000
"""Longest JSON of a bad value echoed in an error body; longer values
are cut and sent as a string."""

OUTCOMES = {
    "ok": "2xx and 3xx",
    "unknown": "404: no such route, job or order estimate",
    "invalid": "other 4xx: bad input, wrong method",
    "rejected": "503: overloaded, or not ready",
    "error": "other 5xx",
}
"""The ``outcome`` label of a request, by its status."""


def outcome_of(status: int) -> str:
    """The outcome label of an answer with ``status``."""
    if status < 400:
        return "ok"
    if status == 404:
        return "unknown"
    if status == 503:
        return "rejected"
    return "invalid" if status < 500 else "error"


class RequestLog:
    """Request ids, one log line and the request metrics per request.

    Wraps the whole application, error answers included, so that every
    answer carries the id. Lifespan and other non-HTTP scopes pass
    through untouched.
    """

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        request_id = _request_id(scope)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID, request_id)
            await send(message)

        metrics = self.runtime.requests
        metrics.started()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - began
            endpoint = scope.get(ENDPOINT_KEY, "unknown")
            metrics.finished(endpoint, outcome_of(status), seconds)
            log.info(
                "%s %s %s %d %.1f ms",
                request_id,
                scope["method"],
                scope["path"],
                status,
                seconds * 1000,
            )


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _GIVEN_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


class Api:
    """The handlers, over one :class:`~engine.api.runtime.Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.config = runtime.config
        self._threads = anyio.CapacityLimiter(runtime.config.threads)
        self._job_threads = anyio.CapacityLimiter(runtime.config.workers)
        self._job_tasks: set[asyncio.Task[None]] = set()
        document = openapi_document(runtime.config)
        self._openapi = json.dumps(document).encode()

    def routes(self) -> list[Route]:
        """Every route, each named after its endpoint."""
        table: list[tuple[str, str, Handler, str]] = [
            ("/api/optimize", "optimize", self.optimize, "POST"),
            ("/api/jobs/{job_id}", "job", self.job, "GET"),
            ("/api/orders/{order_id}/eta", "eta", self.eta, "GET"),
            (
                "/api/drivers/{driver_id}/location",
                "location",
                self.location,
                "POST",
            ),
            ("/api/advice/assignment", "advice", self.advice, "POST"),
            ("/healthz", "healthz", self.healthz, "GET"),
            ("/readyz", "readyz", self.readyz, "GET"),
            ("/metrics", "metrics", self.metrics, "GET"),
            ("/openapi.json", "openapi", self.openapi, "GET"),
        ]
        return [
            Route(path, _named(name, handler), methods=[method], name=name)
            for path, name, handler, method in table
        ]

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        """Warm the workers up before serving; on the way out, let the
        jobs end, then close everything."""
        await anyio.to_thread.run_sync(self.runtime.start)
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(self.runtime.pool.close)
            if self._job_tasks:
                await asyncio.gather(*self._job_tasks, return_exceptions=True)
            stopped = self.runtime.jobs.fail_active("the server stopped")
            if stopped:
                log.warning("%d jobs failed as the server stopped", stopped)
            await anyio.to_thread.run_sync(self.runtime.close)

    async def optimize(self, request: Request) -> Response:
        """Plan a request now, or accept it as a job."""
        body = await self._body(request)
        prepared = await self._thread(self._optimize_now, body)
        if isinstance(prepared, bytes):
            return _json_bytes(prepared)
        job = self.runtime.jobs.create()
        task = asyncio.create_task(self._run_job(job, prepared))
        self._job_tasks.add(task)
        task.add_done_callback(self._job_tasks.discard)
        return JSONResponse(
            {"job_id": job.job_id, "state": job.state},
            status_code=202,
            headers={"Location": f"/api/jobs/{job.job_id}"},
        )

    def _optimize_now(self, body: bytes) -> bytes | RoutingRequest:
        """The answer's body, or the request when it is to be a job."""
        request, wants_async = optimize_from_dict(_decode(body), self.config)
        if wants_async or len(request.orders) > self.config.async_above:
            return request
        with admitted(Admission(self.config.queue_timeout_s)):
            answer = self.runtime.service.optimize(request)
        return _encode(optimized_to_dict(answer))

    async def _run_job(self, job: JobRecord, request: RoutingRequest) -> None:
        async with self._job_threads:
            await anyio.to_thread.run_sync(
                self._solve_job, job.job_id, request
            )

    def _solve_job(self, job_id: str, request: RoutingRequest) -> None:
        jobs = self.runtime.jobs
        try:
            with admitted(Admission(None, partial(jobs.start, job_id))):
                answer = self.runtime.service.optimize(request)
        except Exception as error:
            if not isinstance(error, ApiError | InvalidRequestError):
                log.exception("job %s failed", job_id)
            jobs.fail(job_id, str(error))
            return
        jobs.finish(job_id, answer.fingerprint, optimized_to_dict(answer))

    async def job(self, request: Request) -> Response:
        """A job's state, and its answer once done."""
        job_id = request.path_params["job_id"]
        job = await self._thread(self.runtime.jobs.get, job_id)
        if job is None:
            return _error(404, f"no job {job_id!r}")
        return JSONResponse(job_to_dict(job))

    async def eta(self, request: Request) -> Response:
        """When an order is planned to be delivered."""
        order_id = request.path_params["order_id"]
        eta = await self._thread(self.runtime.service.eta, order_id)
        if eta is None:
            return _error(404, f"no plan names order {order_id!r}")
        return JSONResponse(eta_to_dict(eta))

    async def location(self, request: Request) -> Response:
        """Keep a driver's reported position."""
        driver_id = request.path_params["driver_id"]
        body = await self._body(request)
        await self._thread(self._update_location, driver_id, body)
        return Response(status_code=204)

    def _update_location(self, driver_id: str, body: bytes) -> None:
        position = position_from_dict(driver_id, _decode(body))
        self.runtime.service.update_location(driver_id, position)

    async def advice(self, request: Request) -> Response:
        """Which driver should take each order of a question."""
        body = await self._body(request)
        return _json_bytes(await self._thread(self._advise, body))

    def _advise(self, body: bytes) -> bytes:
        question, travel = question_from_dict(_decode(body))
        advice = self.runtime.service.advise(question, travel)
        return _encode(advice_to_dict(advice))

    async def healthz(self, request: Request) -> Response:
        """The process serves."""
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        """Storage, cache and workers answer, or why not."""
        reasons = await self._thread(self.runtime.readiness)
        if reasons:
            return JSONResponse(
                {"status": "degraded", "reasons": reasons}, status_code=503
            )
        return JSONResponse({"status": "ready", "reasons": []})

    async def metrics(self, request: Request) -> Response:
        """Every collector, in the Prometheus text format."""
        await self._thread(self.runtime.observe)
        text, content_type = exposition_text(self.runtime.registry)
        return Response(text, headers={"Content-Type": content_type})

    async def openapi(self, request: Request) -> Response:
        """The OpenAPI document of this service."""
        return _json_bytes(self._openapi)

    async def _body(self, request: Request) -> bytes:
        """The body, refused past ``max_body_bytes``."""
        limit = self.config.max_body_bytes
        rule = f"must be at most {limit} bytes"
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise BodyError(int(length), rule, status=413)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyError(size, rule, status=413)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(
            function, *args, limiter=self._threads
        )


def _named(name: str, handler: Handler) -> Handler:
    async def endpoint(request: Request) -> Response:
        request.scope[ENDPOINT_KEY] = name
        return await handler(request)

    endpoint.__name__ = name
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(body: bytes) -> Any:
    """The JSON value of a body; NaN and infinities are not JSON."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as error:
        raise BodyError(str(error), "must be a JSON document") from None


def _encode(data: Any) -> bytes:
    return json.dumps(data, allow_nan=False, separators=(",", ":")).encode()


def _json_bytes(content: bytes, status: int = 200) -> Response:
    return Response(content, status, media_type="application/json")


def _error(
    status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse({"error": message}, status, headers=headers)


def _safe_value(value: Any) -> Any:
    """``value`` as it can be echoed in an error body: itself when it is
    short JSON, otherwise the start of its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    else:
        if len(text) <= MAX_ERROR_VALUE_CHARS:
            return value
    return text[:MAX_ERROR_VALUE_CHARS]


async def _invalid(request: Request, error: Exception) -> Response:
    assert isinstance(error, InvalidRequestError)
    body = {
        "error": str(error),
        "field": error.field,
        "value": _safe_value(error.value),
        "rule": error.rule,
    }
    return JSONResponse(body, 422)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    headers = None
    if isinstance(error, OverloadedError):
        headers = {"Retry-After": str(error.retry_after_s)}
    body = error.body()
    if "value" in body:
        body["value"] = _safe_value(body["value"])
    return JSONResponse(body, error.status, headers=headers)


async def _storage_full(request: Request, error: Exception) -> Response:
    overloaded = OverloadedError(str(error))
    return await _api_error(request, overloaded)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers) if error.headers else None
    return _error(error.status_code, error.detail, headers)


async def _internal_error(request: Request, error: Exception) -> Response:
    log.exception("unexpected error", exc_info=error)
    return _error(500, f"internal error: {type(error).__name__}")


def create_app(runtime: Runtime) -> RequestLog:
    """The ASGI application serving ``runtime``.

    Its lifespan warms the solve workers up before the first request and
    closes ``runtime`` at shutdown; the jobs still queued or running
    then end failed.
    """
    api = Api(runtime)
    app = Starlette(
        routes=api.routes(),
        lifespan=api.lifespan,
        exception_handlers={
            InvalidRequestError: _invalid,
            ApiError: _api_error,
            StorageFullError: _storage_full,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
    )
    return RequestLog(app, runtime)
