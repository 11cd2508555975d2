"""``barq serve`` as a child process on this machine: a free port, the
command line, and the wait until it answers ``GET /healthz``.

What starts a local service for a load run's tests, the API tests and
the API benchmark. Only the standard library is used, so importing this
module patches nothing (unlike ``runner.py``).
"""

from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

START_TIMEOUT_S = 90.0
"""How long a service may take to warm up and answer ``/healthz``."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def barq_command(*args: str) -> list[str]:
    """``barq ARGS`` run by this process's Python."""
    return [sys.executable, "-m", "simulator.cli", *args]


def wait_until_healthy(
    base_url: str,
    process: subprocess.Popen[bytes],
    log_path: Path | None = None,
    timeout_s: float = START_TIMEOUT_S,
) -> None:
    """Return once ``base_url/healthz`` answers 200.

    Raises
    ------
    RuntimeError
        If ``process`` exits first or ``timeout_s`` runs out; the message
        holds the service's log from ``log_path``, if given.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"barq serve exited with {process.returncode}" + _log(log_path)
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(
        f"barq serve did not answer /healthz in {timeout_s:g} s"
        + _log(log_path)
    )


def _log(log_path: Path | None) -> str:
    if log_path is None:
        return ""
    return ":\n" + log_path.read_text(errors="replace")
