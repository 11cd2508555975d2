"""Fixtures of the storage tests: recording hooks, a schema of its own
in the local PostgreSQL per test, and a scratch PostgreSQL cluster that a
test may stop and start.

Another test package reuses the cluster by importing it into its own
``conftest.py``::

    from tests.engine.storage.conftest import (  # noqa: F401
        ScratchCluster,
        scratch_cluster,
    )
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from simulator.load.serving import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

POSTGRES_URL = os.environ.get(
    "BARQ_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test"
)
"""The local PostgreSQL of the development and CI machines (trust auth,
database ``test``)."""

POSTGRES_BINARIES = Path("/usr/lib/postgresql")
"""Where Debian installs each PostgreSQL version's ``bin`` folder."""


class RecordingHooks:
    """Storage hooks that keep every call."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, float, int, bool]] = []
        self.pools: list[tuple[int, int, int]] = []
        self.rejected: list[str] = []

    def on_query(
        self, operation: str, seconds: float, rows: int, ok: bool
    ) -> None:
        self.queries.append((operation, seconds, rows, ok))

    def on_pool(self, in_use: int, idle: int, waiting: int) -> None:
        self.pools.append((in_use, idle, waiting))

    def on_rejected(self, operation: str) -> None:
        self.rejected.append(operation)

    def statements(self, operation: str) -> list[tuple[int, bool]]:
        """``(rows, ok)`` of each statement of ``operation``."""
        return [(q[2], q[3]) for q in self.queries if q[0] == operation]


@pytest.fixture
def hooks() -> RecordingHooks:
    """A fresh recorder of hook calls."""
    return RecordingHooks()


def admin_connection(url: str = POSTGRES_URL) -> psycopg.Connection[tuple]:
    """An autocommit connection to ``url``; skips the test when the
    server does not answer."""
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at {url} is unreachable: {error}")


def with_search_path(url: str, schema: str) -> str:
    """``url`` with ``schema`` as the connection's search path."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL of the local PostgreSQL whose search path is a schema made
    for this test and dropped after it."""
    schema = f"barq_test_{uuid.uuid4().hex[:12]}"
    with admin_connection() as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        with admin_connection() as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of a SQLite file in the test's folder."""
    return f"sqlite:///{tmp_path / 'barq.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest) -> str:
    """The URL of each backend in turn, each empty."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on."""
    return free_port()


class ScratchCluster:
    """A PostgreSQL cluster of its own, in a temporary folder, on a free
    port of 127.0.0.1, with trust authentication.

    PostgreSQL refuses to run as root: run by root, every server command
    runs as the ``postgres`` user, which owns the folder. The server
    runs with ``fsync=off``: a test stops the server, not the machine.
    """

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.sockets = root / "sockets"
        self.log = root / "server.log"
        self.port = free_port()
        self.running = False

    @property
    def url(self) -> str:
        """The URL of the cluster's ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls) -> ScratchCluster:
        """A new cluster, initialised and not started; skips the test
        where the server binaries or the ``postgres`` user are absent."""
        versions = sorted(
            POSTGRES_BINARIES.glob("*/bin/initdb"),
            key=lambda path: int(path.parts[-3]),
        )
        if not versions:
            pytest.skip(
                f"no PostgreSQL server binaries in {POSTGRES_BINARIES}"
            )
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root needs a postgres user")
        root = Path(tempfile.mkdtemp(prefix="barq-pg-"))
        cluster = cls(versions[-1].parent, root)
        cluster.sockets.mkdir()
        if owner is not None:
            for path in (root, cluster.sockets):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        cluster._run(
            "initdb",
            "-D",
            str(cluster.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        return cluster

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.sockets} "
            "-c listen_addresses=127.0.0.1 -c fsync=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: connections are ended, the data
        are kept) and wait until it is down."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.running = False

    def remove(self) -> None:
        """Stop the server if it runs, and delete the folder."""
        try:
            if self.running:
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin_dir / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{program} failed ({result.returncode}): "
                f"{result.stderr.strip()}\n{log}"
            )


@pytest.fixture
def scratch_cluster() -> Iterator[ScratchCluster]:
    """A running scratch PostgreSQL cluster, stopped and deleted after
    the test; :meth:`ScratchCluster.stop` and
    :meth:`ScratchCluster.start` stop and restart it."""
    cluster = ScratchCluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
