"""Fixtures of the load tests: the real ``barq serve`` in a subprocess
and stand-in services in threads, all on 127.0.0.1."""

from __future__ import annotations

import signal
import subprocess
import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest
from loadservice import REPOSITORY, StandIn, handler

from simulator.load.serving import (
    barq_command,
    free_port,
    wait_until_healthy,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def standin() -> Iterator[Callable[[float], StandIn]]:
    """Start stand-ins: ``standin(delay_s)`` serves on a free port of
    127.0.0.1 until the test ends."""
    servers: list[ThreadingHTTPServer] = []

    def start(delay_s: float = 0.0) -> StandIn:
        state = StandIn(delay_s)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        state.base_url = f"http://127.0.0.1:{server.server_port}"
        servers.append(server)
        return state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real ``barq serve`` (memory cache, one solve worker) on a
    free port of 127.0.0.1, for the module: its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    command = barq_command(
        "serve", "--port", str(port), "--workers", "1", "--cache", "memory"
    )
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, cwd=REPOSITORY, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until_healthy(base_url, process, log_path)
        yield base_url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
