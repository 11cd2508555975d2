"""Durable storage: plans, jobs, driver locations and advisor calls, in
a SQLite file or in PostgreSQL, written in batches off the request path.

::

    open_storage(config, hooks)     the backend the URL names, migrated
    Storage                         write(records), job(id), ping, close
        SQLiteStorage               one file, WAL mode
        PostgresStorage             psycopg 3 and a connection pool
    BatchWriter(storage, config)    the engine's PlanStore: a bounded
                                    buffer, batches by size or age,
                                    retries with backoff
    RecordSaver                     the saves a writer offers
    StorageConfig                   URL, pool, timeouts, batching
"""

from __future__ import annotations

from engine.storage.base import (
    AdviceRecord,
    JobRecord,
    JobState,
    LocationRecord,
    NullHooks,
    PlanRecord,
    Record,
    Storage,
    StorageError,
    StorageFullError,
    StorageHooks,
    StorageUnavailableError,
)
from engine.storage.config import StorageConfig
from engine.storage.postgres import PostgresStorage
from engine.storage.sqlite import SQLiteStorage
from engine.storage.writer import BatchWriter, RecordSaver, WriterStats

__all__ = [
    "AdviceRecord",
    "BatchWriter",
    "JobRecord",
    "JobState",
    "LocationRecord",
    "NullHooks",
    "PlanRecord",
    "PostgresStorage",
    "Record",
    "RecordSaver",
    "SQLiteStorage",
    "Storage",
    "StorageConfig",
    "StorageError",
    "StorageFullError",
    "StorageHooks",
    "StorageUnavailableError",
    "WriterStats",
    "open_storage",
]


def open_storage(
    config: StorageConfig, hooks: StorageHooks | None = None
) -> Storage:
    """The backend ``config.url`` names, with its migrations applied.

    Raises
    ------
    StorageUnavailableError
        When the database cannot be reached.
    """
    backend: SQLiteStorage | PostgresStorage
    if config.backend == "postgresql":
        backend = PostgresStorage(config, hooks)
    else:
        backend = SQLiteStorage(config, hooks)
    try:
        backend.migrate()
    except BaseException:
        backend.close()
        raise
    return backend
