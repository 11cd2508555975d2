"""The tables that records go to, shared by every backend.

Each kind of record has one table and one operation name, the label its
statements carry in hooks and metrics::

    PlanRecord      plans             save_plans
    LocationRecord  driver_locations  save_locations
    JobRecord       jobs              save_jobs     (upsert by job_id)
    AdviceRecord    advice            save_advice

JSON columns are written as text, encoded here once for every backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.errors import InvalidRequestError
from engine.storage.base import (
    AdviceRecord,
    JobRecord,
    LocationRecord,
    PlanRecord,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from engine.storage.base import Record


@dataclass(frozen=True, slots=True)
class Table:
    """Where one kind of record is written."""

    name: str
    operation: str
    """The operation name of its insert, in hooks and metrics."""
    columns: tuple[str, ...]
    json_columns: frozenset[str]


PLANS = Table(
    "plans",
    "save_plans",
    ("fingerprint", "request", "plan", "at"),
    frozenset({"request", "plan"}),
)
LOCATIONS = Table(
    "driver_locations",
    "save_locations",
    ("driver_id", "x", "y", "at"),
    frozenset(),
)
JOBS = Table(
    "jobs",
    "save_jobs",
    (
        "job_id",
        "state",
        "fingerprint",
        "result",
        "error",
        "created_at",
        "updated_at",
    ),
    frozenset({"result"}),
)
ADVICE = Table(
    "advice",
    "save_advice",
    ("kind", "outcome", "latency_s", "at", "detail"),
    frozenset({"detail"}),
)

TABLES = (PLANS, LOCATIONS, JOBS, ADVICE)
"""Every table, in the order a batch writes them."""

_TABLE_OF: dict[type[Any], Table] = {
    PlanRecord: PLANS,
    LocationRecord: LOCATIONS,
    JobRecord: JOBS,
    AdviceRecord: ADVICE,
}


def table_of(record: Record) -> Table:
    """The table ``record`` is written to."""
    return _TABLE_OF[type(record)]


def encode_json(value: Any, field: str) -> str:
    """``value`` as compact JSON text.

    Raises
    ------
    InvalidRequestError
        Naming ``field``, when the value holds something JSON cannot
        (a set, an object, NaN or infinity).
    """
    try:
        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise InvalidRequestError(
            field, type(value).__name__, f"must be JSON data: {error}"
        ) from None


def check_record(record: Record) -> None:
    """Raise unless ``record`` can be written: its JSON fields encode.

    Raises
    ------
    InvalidRequestError
        Naming the field that cannot be stored.
    """
    table = table_of(record)
    for column in table.json_columns:
        value = getattr(record, column)
        if value is not None:
            encode_json(value, f"{table.name}.{column}")


def row(record: Record) -> tuple[Any, ...]:
    """The column values of ``record``, JSON columns as text."""
    table = table_of(record)
    values = []
    for column in table.columns:
        value = getattr(record, column)
        if column in table.json_columns and value is not None:
            value = encode_json(value, f"{table.name}.{column}")
        values.append(value)
    return tuple(values)


def grouped(
    records: Sequence[Record],
) -> list[tuple[Table, list[tuple[Any, ...]]]]:
    """The rows of ``records`` by table, in :data:`TABLES` order.

    Jobs are reduced to one row per ``job_id``, the latest by
    ``updated_at`` (the later one on a tie), because one upsert cannot
    touch a row twice.
    """
    by_table: dict[str, list[Record]] = {table.name: [] for table in TABLES}
    for record in records:
        by_table[table_of(record).name].append(record)

    latest: dict[str, JobRecord] = {}
    for job in by_table[JOBS.name]:
        assert isinstance(job, JobRecord)
        known = latest.get(job.job_id)
        if known is None or job.updated_at >= known.updated_at:
            latest[job.job_id] = job
    by_table[JOBS.name] = list(latest.values())

    return [
        (table, [row(record) for record in by_table[table.name]])
        for table in TABLES
        if by_table[table.name]
    ]


UPSERT_JOB = (
    " ON CONFLICT (job_id) DO UPDATE SET state = excluded.state,"
    " fingerprint = excluded.fingerprint, result = excluded.result,"
    " error = excluded.error, updated_at = excluded.updated_at"
    " WHERE excluded.updated_at >= jobs.updated_at"
)
"""Keeps a job's first ``created_at`` and its latest state: a state
older than the stored one (a write retried late) changes nothing."""


def insert_sql(
    table: Table, rows: int, placeholder: str, json_cast: str = ""
) -> str:
    """An insert of ``rows`` rows into ``table``; jobs are upserted.

    ``placeholder`` is the driver's parameter mark (``?``, ``%s``);
    ``json_cast`` follows the mark of each JSON column (``::jsonb``).
    """
    marks = ", ".join(
        placeholder + (json_cast if column in table.json_columns else "")
        for column in table.columns
    )
    values = ", ".join([f"({marks})"] * rows)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(table.columns)}) "
        f"VALUES {values}"
    )
    return sql + UPSERT_JOB if table is JOBS else sql


def mark_batch_sql(placeholder: str) -> str:
    """The insert of a batch id that adds no row when the id is known:
    a row count of zero means the batch was written before."""
    return (
        f"INSERT INTO write_batches (batch_id) VALUES ({placeholder})"
        " ON CONFLICT (batch_id) DO NOTHING"
    )


def select_job_sql(placeholder: str) -> str:
    """The query of one job's row by ``job_id``."""
    columns = ", ".join(JOBS.columns)
    return f"SELECT {columns} FROM jobs WHERE job_id = {placeholder}"


def job_from_row(values: Sequence[Any]) -> JobRecord:
    """A :class:`JobRecord` from a row of :data:`JOBS` columns, its
    result as JSON text or as decoded JSON."""
    job_id, state, fingerprint, result, error, created, updated = values
    if isinstance(result, str):
        result = json.loads(result)
    return JobRecord(
        job_id=job_id,
        state=state,
        created_at=created,
        updated_at=updated,
        fingerprint=fingerprint,
        result=result,
        error=error,
    )
