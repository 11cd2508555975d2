"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from numpy._core._multiarray_umath import (  # numpy has no public API for it
    __cpu_dispatch__,
    __cpu_features__,
)

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    import pluggy

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""Public benchmark and network data, read in place beside the repository."""


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder; tests that need it skip where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def numpy_without_vector_code() -> dict[str, str]:
    """Environment variables that make a child process's numpy leave out
    the vector code it would take on this machine (AVX2, AVX-512), where
    its exp, log and arcsin may differ in the last bit from elsewhere."""
    paths = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
    if not paths:
        pytest.skip("numpy has no vector code for this machine to leave out")
    return {"NPY_DISABLE_CPU_FEATURES": " ".join(paths)}


REQUIRE_SERVICES = os.environ.get("BARQ_REQUIRE_SERVICES") == "1"
"""Set by CI: a test that skips for a missing service or data fails."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pluggy.Result[pytest.TestReport], None]:
    """Under ``BARQ_REQUIRE_SERVICES=1`` turn every skip into a failure,
    so that CI cannot pass with a service or data folder missing."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped:
        report.outcome = "failed"
        reason = report.longrepr
        report.longrepr = (
            f"skipped, but BARQ_REQUIRE_SERVICES=1 requires it: {reason}"
        )


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A stand-in Pushgateway on a free local port: its URL, and the
    ``(method, path, body)`` of every push it received."""
    received: list[tuple[str, str, str]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            length = int(self.headers["Content-Length"])
            body = self.rfile.read(length).decode()
            received.append(("PUT", self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


REPOSITORY = Path(__file__).resolve().parents[1]
"""The repository root."""

SMOKE_SCENARIO = REPOSITORY / "scenarios" / "smoke.yaml"
"""The small scenario the real-run tests simulate."""

SMOKE_DURATION_S = 1800
"""Simulated seconds of the shared smoke run: half the scenario's hour,
long enough for orders to be delivered, short enough for a test."""


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run directory: ``scenarios/smoke.yaml`` simulated for
    :data:`SMOKE_DURATION_S` seconds, once per session. Tests must not
    change it; copy it to alter it."""
    from simulator.run import simulate
    from simulator.scenario import load_scenario

    scenario = load_scenario(
        SMOKE_SCENARIO, [f"duration_s={SMOKE_DURATION_S}"]
    )
    out = tmp_path_factory.mktemp("smoke") / "run"
    simulate(scenario, out)
    return out
