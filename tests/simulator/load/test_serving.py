"""Starting a local service: the wait for /healthz and its failures."""

from __future__ import annotations

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from simulator.load.serving import free_port, wait_until_healthy

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process that stays up and serves nothing."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"]
    )
    yield process
    process.kill()
    process.wait()


def test_returns_once_healthz_answers(
    sleeper: subprocess.Popen[bytes],
) -> None:
    """A service that answers /healthz 200 is waited for no longer."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        wait_until_healthy(base_url, sleeper, timeout_s=10)
    finally:
        server.shutdown()
        server.server_close()
    assert sleeper.poll() is None


def test_a_process_that_exits_is_reported_with_its_log(tmp_path: Path) -> None:
    """A service that exits before answering fails the wait at once,
    naming its exit code and quoting its log."""
    log_path = tmp_path / "serve.log"
    log_path.write_text("port already in use\n")
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait()

    with pytest.raises(RuntimeError, match=r"exited with 3:\nport already"):
        wait_until_healthy(
            f"http://127.0.0.1:{free_port()}", process, log_path, timeout_s=30
        )


def test_silence_times_out(sleeper: subprocess.Popen[bytes]) -> None:
    """A service that never answers fails the wait when time runs out."""
    with pytest.raises(
        RuntimeError, match=r"did not answer /healthz in 0\.5 s"
    ):
        wait_until_healthy(
            f"http://127.0.0.1:{free_port()}", sleeper, timeout_s=0.5
        )
