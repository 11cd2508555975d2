"""Storage in a SQLite file (the embedded default).

The file is opened in WAL mode with ``synchronous=NORMAL``: readers do
not block the writer, and a committed batch survives a crash of the
process. JSON columns are TEXT. One connection serves every thread,
behind a lock; SQLite writes one transaction at a time anyway.

A batch is one transaction with one prepared insert per table, run over
all its rows with ``executemany``: in SQLite, where there is no network
round trip, this is as fast as one ``INSERT ... VALUES`` of many rows
and has no limit on the number of parameters.

.. note::
   ``synchronous=NORMAL`` may lose the last transactions on a power
   failure or an operating-system crash (never on a crash of the
   process); the database stays consistent.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from engine.storage.base import (
    NullHooks,
    StorageError,
    StorageUnavailableError,
)
from engine.storage.queries import Queries
from engine.storage.schema import migrations
from engine.storage.tables import (
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

log = logging.getLogger(__name__)

BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)
"""


class SQLiteStorage:
    """Plans, locations, jobs and advice in one SQLite file.

    Parameters
    ----------
    config
        ``config.url`` names the file; its folder is created.
        ``statement_timeout_s`` bounds the wait for another
        connection's lock.
    hooks
        Told of every statement.

    Raises
    ------
    StorageUnavailableError
        When the file cannot be opened.
    """

    def __init__(
        self, config: StorageConfig, hooks: StorageHooks | None = None
    ) -> None:
        self.path = config.sqlite_path
        self._queries = Queries(hooks or NullHooks(), config.slow_query_s, log)
        self._lock = threading.Lock()
        with _errors(f"open {self.path}"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path,
                timeout=config.statement_timeout_s,
                isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        log.info("opened SQLite storage %s", self.path)

    def migrate(self) -> list[int]:
        """Apply the migrations not applied yet; their versions."""
        applied: list[int] = []
        with _errors("migrate"), self._lock:
            self._db.execute(BOOTSTRAP)
            for migration in migrations("sqlite"):
                with self._transaction():
                    done = self._db.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?",
                        (migration.version,),
                    ).fetchone()
                    if done is not None:
                        continue
                    with self._queries.timed("migrate"):
                        # executescript would commit first: statements
                        # go one by one to stay in this transaction.
                        for statement in _statements(migration.sql):
                            self._db.execute(statement)
                    self._db.execute(
                        "INSERT INTO schema_migrations VALUES"
                        " (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        (migration.version,),
                    )
                log.info(
                    "applied migration %04d_%s to %s",
                    migration.version,
                    migration.name,
                    self.path,
                )
                applied.append(migration.version)
        return applied

    def write(
        self, records: Sequence[Record], batch: str | None = None
    ) -> None:
        """Write ``records`` in one transaction, one insert per table,
        unless ``batch`` was written before."""
        groups = grouped(records)
        if not groups:
            return
        done: list[Timing] = []
        with _errors("write"), self._lock, self._transaction(done):
            if batch is not None and not self._mark(batch, done):
                return
            for table, rows in groups:
                with self._queries.timed(table.operation, len(rows), done):
                    self._db.executemany(insert_sql(table, 1, "?"), rows)
        self._queries.committed(done)

    def _mark(self, batch: str, done: list[Timing]) -> bool:
        """Record ``batch`` as written; False if it was before."""
        with self._queries.timed("mark_batch", 1, done):
            cursor = self._db.execute(mark_batch_sql("?"), (batch,))
        if cursor.rowcount == 0:
            log.info("batch %s was written before; skipped", batch)
            return False
        return True

    def job(self, job_id: str) -> JobRecord | None:
        """The latest state of job ``job_id``, or None."""
        with _errors("job"), self._lock, self._queries.timed("job"):
            found = self._db.execute(select_job_sql("?"), (job_id,)).fetchone()
        return None if found is None else job_from_row(found)

    def ping(self) -> None:
        """Return when the file answers a query."""
        with _errors("ping"), self._lock, self._queries.timed("ping"):
            self._db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self, done: list[Timing] | None = None) -> Iterator[None]:
        """A transaction around the block; its commit is timed into
        ``done`` when given."""
        # IMMEDIATE takes the write lock at once, so that two processes
        # migrating the same file see each other's versions.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            if done is None:
                self._db.execute("COMMIT")
            else:
                with self._queries.timed("commit", 0, done):
                    self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise


@contextmanager
def _errors(operation: str) -> Iterator[None]:
    """sqlite3's errors as the storage's: a locked, unreadable or
    missing file is unavailable; anything else a plain storage error."""
    try:
        yield
    except sqlite3.OperationalError as error:
        raise StorageUnavailableError(f"{operation}: {error}") from error
    except (sqlite3.Error, OSError) as error:
        raise StorageError(f"{operation}: {error}") from error


def _statements(script: str) -> Iterator[str]:
    """The complete statements of ``script``, one at a time."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending
