"""Tests of the SQLite and PostgreSQL backends, one suite over both:
migrations, every record kind, batches, hooks, logs and outages."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from engine.storage import (
    AdviceRecord,
    JobRecord,
    LocationRecord,
    PlanRecord,
    PostgresStorage,
    SQLiteStorage,
    StorageConfig,
    StorageUnavailableError,
    open_storage,
)
from engine.storage.schema import migrations

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from conftest import RecordingHooks

pytestmark = pytest.mark.timeout(120)
"""Every test here waits for a database; none should wait long."""


def backend(
    url: str, hooks: RecordingHooks | None = None, **settings: Any
) -> SQLiteStorage | PostgresStorage:
    """The backend of ``url``, not migrated."""
    config = StorageConfig(url=url, **settings)
    if config.backend == "postgresql":
        return PostgresStorage(config, hooks)
    return SQLiteStorage(config, hooks)


@pytest.fixture
def storage(
    storage_url: str, hooks: RecordingHooks
) -> Iterator[SQLiteStorage | PostgresStorage]:
    """Each backend, migrated, reporting to ``hooks``."""
    opened = backend(storage_url, hooks)
    opened.migrate()
    yield opened
    opened.close()


def select(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` read through a connection of the database's own
    driver, JSON decoded."""
    config = StorageConfig(url=url)
    if config.backend == "postgresql":
        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()
    with sqlite3.connect(config.sqlite_path) as conn:
        return [
            tuple(_decoded(value) for value in row)
            for row in conn.execute(sql).fetchall()
        ]


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def test_migrations_are_applied_once_and_recorded(storage_url: str) -> None:
    """The first open applies every migration and records its version;
    a second open applies none, and each version is recorded once."""
    dialect = StorageConfig(url=storage_url).backend
    versions = [m.version for m in migrations(dialect)]

    first = backend(storage_url)
    applied_first = first.migrate()
    first.close()
    second = backend(storage_url)
    applied_second = second.migrate()
    second.close()
    open_storage(StorageConfig(url=storage_url)).close()

    assert applied_first == versions
    assert applied_second == []
    recorded = select(
        storage_url, "SELECT version FROM schema_migrations ORDER BY 1"
    )
    assert [row[0] for row in recorded] == versions


def test_both_dialects_have_the_same_migrations() -> None:
    """Every version exists for SQLite and for PostgreSQL, under one
    name, and the SQL files are found in the installed package."""
    sqlite = [(m.version, m.name) for m in migrations("sqlite")]
    postgres = [(m.version, m.name) for m in migrations("postgresql")]

    assert sqlite == postgres
    assert sqlite[0] == (1, "initial")


def test_every_record_kind_round_trips(
    storage: SQLiteStorage | PostgresStorage, storage_url: str
) -> None:
    """A plan, a location, a job and an advisor call written in one batch
    read back field for field, JSON included."""
    request = {"orders": [{"id": "o1", "due_time": None}], "x": 1.5}
    plan = {"routes": [{"vehicle_id": "v1", "stops": []}], "cost": 2.0}
    storage.write(
        [
            PlanRecord("fp1", request, plan, 10.0),
            LocationRecord("d1", 11.5, 48.25, 11.0),
            JobRecord("j1", "done", 1.0, 2.0, "fp1", {"plan": plan}, None),
            AdviceRecord("assign", "timeout", 2.0, 12.0, {"orders": 3}),
        ]
    )

    assert select(
        storage_url, "SELECT fingerprint, request, plan, at FROM plans"
    ) == [("fp1", request, plan, 10.0)]
    assert select(
        storage_url, "SELECT driver_id, x, y, at FROM driver_locations"
    ) == [("d1", 11.5, 48.25, 11.0)]
    assert select(
        storage_url, "SELECT kind, outcome, latency_s, at, detail FROM advice"
    ) == [("assign", "timeout", 2.0, 12.0, {"orders": 3})]
    assert storage.job("j1") == JobRecord(
        "j1", "done", 1.0, 2.0, "fp1", {"plan": plan}, None
    )


def test_jobs_keep_their_latest_state(
    storage: SQLiteStorage | PostgresStorage,
) -> None:
    """A job written at each change of state reads back as its latest
    state with its first created_at; a state older than the stored one,
    written late, changes nothing."""
    storage.write(
        [
            JobRecord("j1", "queued", 5.0, 5.0),
            JobRecord("j1", "running", 5.0, 6.0, "fp"),
        ]
    )
    storage.write([JobRecord("j1", "failed", 7.0, 9.0, "fp", error="boom")])
    storage.write([JobRecord("j1", "running", 5.0, 6.0, "fp")])

    assert storage.job("j1") == JobRecord(
        "j1", "failed", 5.0, 9.0, "fp", None, "boom"
    )
    assert storage.job("nobody") is None


def test_a_batch_is_one_statement_per_table(
    storage: SQLiteStorage | PostgresStorage,
    storage_url: str,
    hooks: RecordingHooks,
) -> None:
    """A batch of 250 locations and 3 plans is one statement per table,
    reported with its row count once the transaction committed."""
    storage.write(
        [LocationRecord(f"d{k}", k, k, k) for k in range(250)]
        + [PlanRecord(f"f{k}", {}, {}, k) for k in range(3)]
    )

    assert hooks.statements("save_locations") == [(250, True)]
    assert hooks.statements("save_plans") == [(3, True)]
    assert hooks.statements("commit") == [(0, True)]
    assert select(storage_url, "SELECT count(*) FROM driver_locations") == [
        (250,)
    ]


def test_a_batch_id_is_written_once(
    storage: SQLiteStorage | PostgresStorage,
    storage_url: str,
    hooks: RecordingHooks,
) -> None:
    """Writing a batch id a second time (a retry after a lost commit)
    writes no row; another id writes again."""
    records = [LocationRecord(f"d{k}", k, k, k) for k in range(5)]

    storage.write(records, "batch-1")
    storage.write(records, "batch-1")
    storage.write(records, "batch-2")

    assert select(storage_url, "SELECT count(*) FROM driver_locations") == [
        (10,)
    ]
    assert hooks.statements("save_locations") == [(5, True), (5, True)]


def test_slow_queries_are_logged_with_operation_and_duration(
    storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With slow_query_s = 0 every statement is logged at WARNING on the
    backend's own logger, naming its operation, seconds and rows."""
    opened = backend(storage_url, slow_query_s=0.0)
    opened.migrate()
    name = f"engine.storage.{type(opened).__module__.rsplit('.', 1)[1]}"
    with caplog.at_level(logging.WARNING, logger=name):
        opened.write([LocationRecord(f"d{k}", k, k, k) for k in range(7)])
    opened.close()

    slow = [r for r in caplog.records if r.name == name]
    messages = [r.getMessage() for r in slow]
    assert all(r.levelno == logging.WARNING for r in slow)
    assert any(
        m.startswith("slow query: save_locations took ")
        and m.endswith(" s (7 rows)")
        for m in messages
    )


def test_ping_answers(storage: SQLiteStorage | PostgresStorage) -> None:
    """A reachable database answers a ping, reported as a statement."""
    storage.ping()


def test_unreachable_postgres_is_unavailable(
    hooks: RecordingHooks, closed_port: int
) -> None:
    """Opening a server nobody listens on fails within the statement
    timeout with StorageUnavailableError, and the wait for a connection
    is reported as a failed statement."""
    url = f"postgresql://127.0.0.1:{closed_port}/none"
    with pytest.raises(StorageUnavailableError, match="migrate"):
        open_storage(
            StorageConfig(url=url, statement_timeout_s=0.3, pool_min=0),
            hooks,
        )

    assert hooks.statements("connect") == [(0, False)]


def test_unopenable_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    """A SQLite path that is a folder cannot be opened: the error is
    StorageUnavailableError naming the path."""
    with pytest.raises(StorageUnavailableError, match=str(tmp_path)):
        open_storage(StorageConfig(url=str(tmp_path)))


def test_pool_use_reaches_the_hooks(
    postgres_url: str, hooks: RecordingHooks
) -> None:
    """Each use of a pooled connection reports the pool's connections in
    use and idle, within pool_max, with one in use while writing."""
    opened = backend(postgres_url, hooks, pool_min=1, pool_max=3)
    opened.migrate()
    opened.write([LocationRecord("d", 1, 2, 3)])
    opened.close()

    assert hooks.pools
    assert all(0 <= i + idle <= 3 for i, idle, _ in hooks.pools)
    assert any(in_use >= 1 for in_use, _, _ in hooks.pools)
    assert all(waiting >= 0 for _, _, waiting in hooks.pools)
