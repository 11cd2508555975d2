"""Storage in PostgreSQL, through psycopg 3 and a connection pool.

Connections come from a :class:`psycopg_pool.ConnectionPool` of
``pool_min`` to ``pool_max`` connections, each checked before use (a
restart of the server leaves dead connections in the pool) and set up
with the configured ``statement_timeout``. Waiting for a connection is
bounded by the same timeout. JSON columns are JSONB.

A batch is one transaction with one statement per table: ``COPY``
for plans, locations and advice, and one ``INSERT ... VALUES (...),
(...) ON CONFLICT`` for jobs, which are upserted (``COPY`` cannot).
Measured on the local server (PostgreSQL 15, psycopg 3.3, batches of
200 rows, commit included, median of 300 batches): 200 driver
locations took 1.3 ms by ``COPY``, 2.7 to 3.0 ms by one multi-row
``INSERT`` and 3.1 to 4.0 ms by ``executemany`` in pipeline mode; 200
plans with two 3 kB JSONB columns took about 25 ms by each of the three,
the server's parsing of JSONB dominating.

Every statement slower than ``slow_query_s`` is logged at WARNING, and
the pool's connections in use, idle and waited for are reported to
``hooks.on_pool`` after each use.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from itertools import chain
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg_pool import ConnectionPool

from engine.storage.base import (
    NullHooks,
    StorageError,
    StorageUnavailableError,
)
from engine.storage.queries import Queries
from engine.storage.schema import migrations
from engine.storage.tables import (
    JOBS,
    grouped,
    insert_sql,
    job_from_row,
    mark_batch_sql,
    select_job_sql,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from engine.storage.base import JobRecord, Record, StorageHooks
    from engine.storage.config import StorageConfig
    from engine.storage.queries import Timing
    from engine.storage.tables import Table

log = logging.getLogger(__name__)

MAX_PARAMETERS = 65_535
"""The most parameters the server takes in one statement."""

MIGRATION_LOCK = 0x62617271
"""The advisory lock that serialises migrations between processes."""

BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class PostgresStorage:
    """Plans, locations, jobs and advice in a PostgreSQL database.

    Parameters
    ----------
    config
        ``config.url`` is handed to libpq as it is: a
        ``postgresql://`` URL, whose query may carry ``options``
        (``-csearch_path=...``) and the other connection parameters.
    hooks
        Told of every statement and of the pool's state.

    Opening does not wait for the server: the pool connects in the
    background, and the first statement waits for a connection at most
    ``statement_timeout_s`` seconds.
    """

    def __init__(
        self, config: StorageConfig, hooks: StorageHooks | None = None
    ) -> None:
        self._hooks = hooks or NullHooks()
        self._queries = Queries(self._hooks, config.slow_query_s, log)
        self._timeout_ms = max(round(config.statement_timeout_s * 1000), 1)
        self._pool = ConnectionPool(
            config.url,
            min_size=config.pool_min,
            max_size=config.pool_max,
            configure=self._configure,
            check=ConnectionPool.check_connection,
            timeout=config.statement_timeout_s,
            name="barq-storage",
            open=True,
        )
        log.info("opened PostgreSQL storage pool %s", _safe(config.url))

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet; their versions.

        Each runs in a transaction that first takes an advisory lock,
        so that processes opening the database at once apply each
        migration once.
        """
        applied: list[int] = []
        with _errors("migrate"), self._connection() as conn:
            for migration in migrations("postgresql"):
                with conn.transaction():
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,)
                    )
                    conn.execute(BOOTSTRAP)
                    done = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = %s",
                        (migration.version,),
                    ).fetchone()
                    if done is not None:
                        continue
                    with self._queries.timed("migrate"):
                        conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES (%s)",
                        (migration.version,),
                    )
                log.info(
                    "applied migration %04d_%s",
                    migration.version,
                    migration.name,
                )
                applied.append(migration.version)
        return applied

    def write(
        self, records: Sequence[Record], batch: str | None = None
    ) -> None:
        """Write ``records`` in one transaction, one statement per
        table, unless ``batch`` was written before."""
        groups = grouped(records)
        if not groups:
            return
        done: list[Timing] = []
        with _errors("write"), self._connection() as conn:
            try:
                with conn.cursor() as cursor:
                    if batch is not None and not self._mark(
                        cursor, batch, done
                    ):
                        groups = []
                    for table, rows in groups:
                        with self._queries.timed(
                            table.operation, len(rows), done
                        ):
                            _insert(cursor, table, rows)
                with self._queries.timed("commit", 0, done):
                    conn.commit()
            except BaseException:
                if not conn.broken:
                    conn.rollback()
                raise
        self._queries.committed(done)

    def _mark(
        self, cursor: psycopg.Cursor[Any], batch: str, done: list[Timing]
    ) -> bool:
        """Record ``batch`` as written; False if it was before."""
        with self._queries.timed("mark_batch", 1, done):
            cursor.execute(mark_batch_sql("%s"), (batch,))
        if cursor.rowcount == 0:
            log.info("batch %s was written before; skipped", batch)
            return False
        return True

    def job(self, job_id: str) -> JobRecord | None:
        """The latest state of job ``job_id``, or None."""
        with _errors("job"), self._connection() as conn:
            with self._queries.timed("job"):
                found = conn.execute(
                    select_job_sql("%s"), (job_id,)
                ).fetchone()
            conn.rollback()
        return None if found is None else job_from_row(found)

    def ping(self) -> None:
        """Return when the server answers a query."""
        with _errors("ping"), self._connection() as conn:
            with self._queries.timed("ping"):
                conn.execute("SELECT 1").fetchone()
            conn.rollback()

    def close(self) -> None:
        """Close the pool and its connections."""
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection of the pool; the wait for it is timed as the
        ``connect`` operation, so that an outage counts as errors."""
        try:
            with self._queries.timed("connect"):
                conn = self._pool.getconn()
            self._report_pool()
            try:
                yield conn
            finally:
                self._pool.putconn(conn)
        finally:
            self._report_pool()

    def _report_pool(self) -> None:
        stats = self._pool.get_stats()
        size = stats.get("pool_size", 0)
        idle = stats.get("pool_available", 0)
        self._hooks.on_pool(
            size - idle, idle, stats.get("requests_waiting", 0)
        )

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET statement_timeout = {self._timeout_ms}")
        conn.commit()


def _insert(
    cursor: psycopg.Cursor[Any],
    table: Table,
    rows: list[tuple[Any, ...]],
) -> None:
    """``rows`` into ``table``: by ``COPY``, or for jobs by one upsert
    (as few as the limit on parameters allows)."""
    columns = ", ".join(table.columns)
    if table is not JOBS:
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for values in rows:
                copy.write_row(values)
        return
    step = MAX_PARAMETERS // len(table.columns)
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        cursor.execute(
            insert_sql(table, len(chunk), "%s", "::jsonb"),
            list(chain.from_iterable(chunk)),
        )


@contextmanager
def _errors(operation: str) -> Iterator[None]:
    """psycopg's errors as the storage's: a server that cannot be
    reached, went away or timed out is unavailable; anything else is a
    plain storage error."""
    try:
        yield
    except (psycopg.OperationalError, psycopg.InterfaceError) as error:
        raise StorageUnavailableError(f"{operation}: {error}") from error
    except psycopg.Error as error:
        raise StorageError(f"{operation}: {error}") from error


def _safe(url: str) -> str:
    """``url`` without its password, for the log."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparsable URL)"
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **info)
