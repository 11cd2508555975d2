"""Fixtures of the API tests: ``barq serve`` in a real uvicorn process,
against the local PostgreSQL and Redis.

Two servers serve the module that asks for them, each started once:

- ``server``: two solve workers, a PostgreSQL schema of its own and
  Redis database :data:`REDIS_DB`, flushed before and after; requests
  of more than :data:`ASYNC_ABOVE` orders become jobs, and searches are
  capped at :data:`MAX_TIME_LIMIT_S` so that generated requests stay
  quick;
- ``fragile``: one solve worker, a queue timeout of
  :data:`FRAGILE_QUEUE_TIMEOUT_S`, and a cache URL where no Redis
  listens; for overload and readiness.

``scratch_cluster`` (a PostgreSQL cluster a test may stop and start)
comes from the storage tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest
import redis

from simulator.load.serving import (
    barq_command,
    free_port,
    wait_until_healthy,
)
from tests.engine.storage.conftest import scratch_cluster  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Iterator

REPOSITORY = Path(__file__).resolve().parents[3]

POSTGRES_URL = os.environ.get(
    "BARQ_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test"
)
"""The local PostgreSQL (trust auth, database ``test``)."""

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_DB = 13
"""The Redis database the API tests use, and flush."""

ASYNC_ABOVE = 30
MAX_TIME_LIMIT_S = 0.25
FRAGILE_QUEUE_TIMEOUT_S = 0.05
FRAGILE_MAX_TIME_LIMIT_S = 2.0


class Server:
    """``barq serve ARGS`` as a subprocess on a free port.

    The log (stdout and stderr) goes to ``log_path``; :meth:`stop`
    sends SIGTERM, as a service manager does, and waits for the exit
    (uvicorn shuts down cleanly, then ends by the signal it caught).
    """

    def __init__(self, log_path: Path, *args: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server; return once /healthz answers 200."""
        command = barq_command("serve", "--port", str(self.port), *self.args)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until_healthy(self.base_url, self.process, self.log_path)
        except RuntimeError:
            self.stop()
            raise

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        """Everything the server wrote so far."""
        return self.log_path.read_text(errors="replace")


def postgres_admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the local PostgreSQL; skips the test
    when it does not answer."""
    try:
        return psycopg.connect(
            POSTGRES_URL, autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {error}")


def redis_client() -> redis.Redis:
    """A client of the API tests' Redis database; skips the test when no
    Redis answers."""
    client = redis.Redis(
        host=REDIS_HOST,
        port=REDIS_PORT,
        db=REDIS_DB,
        socket_connect_timeout=1,
    )
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        client.close()
        pytest.skip(f"no Redis on {REDIS_HOST}:{REDIS_PORT}: {error}")
    return client


@pytest.fixture(scope="module")
def postgres_schema() -> Iterator[str]:
    """A schema of the local PostgreSQL made for this module, dropped
    after it."""
    schema = f"barq_api_{uuid.uuid4().hex[:12]}"
    with postgres_admin() as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with postgres_admin() as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="module")
def redis_db() -> Iterator[redis.Redis]:
    """The tests' Redis database, empty, and flushed again after."""
    client = redis_client()
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="module")
def server(
    postgres_schema: str,
    redis_db: redis.Redis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Server]:
    """The API on PostgreSQL and Redis, for the module."""
    storage = f"{POSTGRES_URL}?options=-csearch_path%3D{postgres_schema}"
    log = tmp_path_factory.mktemp("server") / "serve.log"
    running = Server(
        log,
        "--workers",
        "2",
        "--storage",
        storage,
        "--cache",
        f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}",
        "--async-above",
        str(ASYNC_ABOVE),
        "--max-time-limit",
        str(MAX_TIME_LIMIT_S),
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def fragile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The API with one worker, a tiny queue timeout and no Redis where
    its cache URL points, for the module."""
    log = tmp_path_factory.mktemp("fragile") / "serve.log"
    running = Server(
        log,
        "--workers",
        "1",
        "--queue-timeout",
        str(FRAGILE_QUEUE_TIMEOUT_S),
        "--max-time-limit",
        str(FRAGILE_MAX_TIME_LIMIT_S),
        "--cache",
        f"redis://127.0.0.1:{free_port()}/0",
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client of ``server``."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http
