"""A Redis server stopped in the middle of the test: the caches degrade
to memory without failing a call, and use Redis again once it is back.

The test starts its own ``redis-server`` on a free port, so that
stopping it disturbs nobody else.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
import redis

from engine.cache import CacheConfig, Caches, Lookup
from engine.clock import ManualClock

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.engine.cache.conftest import RecordingHooks


class RedisServer:
    """A redis-server process of the test's own, without persistence."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.binary = binary
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            for _ in range(100):
                try:
                    client.ping()
                    return
                except redis.exceptions.ConnectionError:
                    time.sleep(0.05)
            pytest.fail(f"redis-server on port {self.port} did not start")
        finally:
            client.close()

    def stop(self) -> None:
        """Kill the server and wait for it to go."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server of this test alone, stopped afterwards."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(30)
def test_redis_outage_degrades_and_recovers(
    server: RedisServer,
    hooks: RecordingHooks,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis stopped: answers still come, from memory, with one warning
    and one degraded event. Redis restarted: after retry_after seconds
    on the clock, the layer recovers and stores in Redis again."""
    clock = ManualClock()
    config = CacheConfig(backend="redis", redis_url=server.url)
    caches = Caches.build(config, clock, hooks)
    routes = caches.routes
    direct = redis.Redis(port=server.port)
    try:
        assert routes.get_or_compute("a", lambda: 1) == (1, Lookup.MISS)
        assert direct.get("barq:1:routes:a") == b"1"
        direct.close()

        server.stop()
        with caplog.at_level(logging.INFO, logger="engine.cache"):
            assert routes.get_or_compute("b", lambda: 2) == (2, Lookup.MISS)
            assert routes.get_or_compute("b", lambda: 3) == (2, Lookup.HIT)
            assert routes.get("a") is None
        assert routes.degraded
        warnings = [
            record
            for record in caplog.records
            if record.levelno == logging.WARNING
        ]
        assert len(warnings) == 1
        assert "routes degraded" in warnings[0].getMessage()
        assert hooks.of("degraded") == [("degraded", "routes", True)]
        assert routes.stats().degraded_events == 1

        server.start()
        direct = redis.Redis(port=server.port)
        clock.advance(config.retry_after - 1)
        assert routes.get_or_compute("b", lambda: 4) == (2, Lookup.HIT)
        assert routes.degraded
        assert direct.dbsize() == 0

        clock.advance(1)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="engine.cache"):
            assert routes.get_or_compute("c", lambda: 5) == (5, Lookup.MISS)
        assert not routes.degraded
        assert "routes recovered" in caplog.text
        assert hooks.of("degraded")[-1] == ("degraded", "routes", False)
        assert direct.get("barq:1:routes:c") == b"5"
        assert routes.stats().degraded_events == 1
        assert routes.stats().entries == 1
    finally:
        direct.close()
        caches.close()
