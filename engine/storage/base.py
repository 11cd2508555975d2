"""What every storage backend shares: records, protocols and errors.

A :class:`Storage` writes batches of records, one multi-row insert per
table in one transaction, and reads a job back. What it does is reported
to :class:`StorageHooks`; only an adapter turns the calls into metrics.

Errors::

    EngineError
    └── StorageError               a write or read did not happen
        ├── StorageUnavailableError    the database cannot be reached
        └── StorageFullError           the writer's buffer is at its bound
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from engine.errors import EngineError, InvalidRequestError

if TYPE_CHECKING:
    from collections.abc import Sequence

JobState = Literal["queued", "running", "done", "failed"]
"""The states of a job, in the order it goes through them."""

JOB_STATES: tuple[str, ...] = get_args(JobState)


class StorageError(EngineError):
    """A write or a read of durable storage did not happen."""


class StorageUnavailableError(StorageError):
    """The database cannot be reached, or broke off: an outage, not a
    bad record. A write that raises it wrote nothing, and may be tried
    again as it is."""


class StorageFullError(StorageError):
    """The batching writer holds as many unwritten records as it may.

    Storage is slow or unreachable; the record was not accepted. The
    caller may retry later; an operator may raise ``buffer_limit``.

    Parameters
    ----------
    operation
        The kind of record refused (``save_plans``...).
    limit
        The writer's ``buffer_limit``.
    """

    def __init__(self, operation: str, limit: int) -> None:
        self.operation = operation
        self.limit = limit
        super().__init__(operation, limit)

    def __str__(self) -> str:
        return (
            f"{self.operation}: the storage writer holds {self.limit} "
            "unwritten records (buffer_limit) because the database is "
            "slow or unreachable; retry later, or raise buffer_limit"
        )


@dataclass(frozen=True, slots=True)
class PlanRecord:
    """A served plan and the request it answers, both as plain data."""

    fingerprint: str
    request: dict[str, Any]
    plan: dict[str, Any]
    at: float
    """Clock seconds when the plan was served."""


@dataclass(frozen=True, slots=True)
class LocationRecord:
    """A driver's reported location."""

    driver_id: str
    x: float
    y: float
    at: float


@dataclass(frozen=True, slots=True)
class JobRecord:
    """The state of an asynchronous optimization job.

    A job is written again at each change of state; storage keeps the
    latest by ``updated_at``.
    """

    job_id: str
    state: JobState
    created_at: float
    updated_at: float
    fingerprint: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if self.state not in JOB_STATES:
            raise InvalidRequestError(
                "job.state", self.state, f"must be one of {JOB_STATES}"
            )


@dataclass(frozen=True, slots=True)
class AdviceRecord:
    """One call of the fleet advisor and how it ended."""

    kind: str
    outcome: str
    latency_s: float
    at: float
    detail: dict[str, Any] = field(default_factory=dict)


Record = PlanRecord | LocationRecord | JobRecord | AdviceRecord
"""Anything a :class:`Storage` writes."""


class Storage(Protocol):
    """Durable storage of plans, driver locations, jobs and advice.

    A backend is safe to call from several threads.
    """

    def write(
        self, records: Sequence[Record], batch: str | None = None
    ) -> None:
        """Write ``records`` in one transaction: all or none.

        Each table gets one multi-row insert; jobs are upserted by
        ``job_id``, keeping the latest ``updated_at``. A ``batch`` id
        that was written before makes the call write nothing, so that a
        batch retried after a commit whose outcome was lost (the
        connection broke as the server committed) is written once.

        Raises
        ------
        StorageUnavailableError
            When the database cannot be reached; nothing was written.
        """
        ...

    def job(self, job_id: str) -> JobRecord | None:
        """The latest state of job ``job_id``, or None."""
        ...

    def ping(self) -> None:
        """Return when the database answers.

        Raises
        ------
        StorageUnavailableError
            When it does not.
        """
        ...

    def close(self) -> None:
        """Close every connection."""
        ...


class StorageHooks(Protocol):
    """Receives what a storage backend and the writer do.

    ``operation`` names a kind of statement (``save_plans``,
    ``save_locations``, ``save_jobs``, ``save_advice``,
    ``mark_batch``, ``commit``, ``job``, ``ping``, ``migrate``, and
    ``connect`` for the wait for a pooled connection), never a
    statement's text. Hooks are called
    from the thread that used the storage; they must be quick and must
    not raise.
    """

    def on_query(
        self, operation: str, seconds: float, rows: int, ok: bool
    ) -> None:
        """A statement ran for ``seconds``; ``rows`` rows were written
        (counted once its transaction committed) when ``ok``."""
        ...

    def on_pool(self, in_use: int, idle: int, waiting: int) -> None:
        """The connection pool's state after a connection was used."""
        ...

    def on_rejected(self, operation: str) -> None:
        """The writer refused a record: its buffer was full."""
        ...


class NullHooks:
    """Hooks that do nothing: the default."""

    def on_query(
        self, operation: str, seconds: float, rows: int, ok: bool
    ) -> None:
        """Ignore a statement."""

    def on_pool(self, in_use: int, idle: int, waiting: int) -> None:
        """Ignore the pool's state."""

    def on_rejected(self, operation: str) -> None:
        """Ignore a refusal."""
