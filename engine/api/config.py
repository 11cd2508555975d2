"""How the HTTP API admits and bounds work."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from engine.errors import InvalidRequestError

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Worker pool, admission control and request bounds of the API.

    A synchronous optimize that misses the cache waits at most
    ``queue_timeout_s`` for one of ``workers`` solve processes, and is
    answered 503 with ``Retry-After: retry_after_s`` when none frees up,
    or at once when ``max_waiting`` requests already wait. Requests with
    more than ``async_above`` orders become jobs; at most ``max_jobs``
    jobs are queued or running at once, and finished ones are kept in
    memory for ``job_ttl_s`` seconds (``max_finished_jobs`` at most).
    Requests may ask for at most ``max_time_limit_s`` seconds or
    ``max_work_limit`` iterations of search, over at most
    ``max_locations`` locations, in a body of at most ``max_body_bytes``.
    """

    workers: int = 2
    async_above: int = 200
    queue_timeout_s: float = 1.0
    max_waiting: int = 64
    retry_after_s: int = 1
    max_jobs: int = 256
    job_ttl_s: float = 3600.0
    max_finished_jobs: int = 10_000
    max_time_limit_s: float = 10.0
    max_work_limit: int = 100_000
    max_locations: int = 5_000
    max_body_bytes: int = 8 * MIB

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type == "int":
                _check_int(item.name, value)
            else:
                _check_seconds(item.name, value)

    @property
    def threads(self) -> int:
        """Threads that serve requests: one per solve worker and per
        request allowed to wait for one, and as many again for requests
        that never touch the pool (cache hits, estimates, locations)."""
        return 2 * (self.workers + self.max_waiting)


def _check_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequestError(f"api.{name}", value, "must be an integer")
    low = 0 if name in ("async_above", "max_work_limit") else 1
    if value < low:
        raise InvalidRequestError(f"api.{name}", value, f"must be >= {low}")


def _check_seconds(name: str, value: Any) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value > 0)
    ):
        raise InvalidRequestError(
            f"api.{name}", value, "must be a finite number of seconds > 0"
        )
