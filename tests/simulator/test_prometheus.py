"""Proof against a real Prometheus (Debian package ``prometheus``).

A running simulation is scraped live and every query of every dashboard
panel must return data; a backfilled run is queried at its simulated
instants. Both skip when the binaries are absent (and fail instead under
``BARQ_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from dashboards.build import build_all, expressions
from simulator.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
WAIT_S = 120.0
"""The longest wait for Prometheus to start or to have data."""


def binary(name: str) -> str:
    """The path of ``name``, or a skip naming the package."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian package prometheus)")
    return path


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class Prometheus:
    """A Prometheus process on a free local port."""

    def __init__(self, folder: Path, targets: list[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = folder / "prometheus.yml"
        jobs = [
            {
                "job_name": "barq-simulate",
                "scrape_interval": "1s",
                "static_configs": [{"targets": targets}],
            }
        ]
        config.write_text(
            json.dumps({"scrape_configs": jobs if targets else []})
        )
        self.log = (folder / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={folder / 'data'}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited: see {self.log.name}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        pytest.fail("prometheus did not become ready")

    def query(self, expr: str, at: float | None = None) -> list[Any]:
        """The result vector of an instant query."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = at
        answer = httpx.get(
            f"{self.url}/api/v1/query", params=params, timeout=10
        ).json()
        assert answer["status"] == "success", (expr, answer)
        result: list[Any] = answer["data"]["result"]
        return result

    def stop(self) -> None:
        """Stop the process."""
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture
def simulation(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """A smoke simulation serving its metrics: its port and run id.

    Twelve simulated hours, so that it still runs, on a busy machine too,
    while every query is asked: once it ends its series go stale."""
    binary("prometheus")
    port = free_port()
    run = "live-smoke"
    log = (tmp_path / "simulate.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "simulate",
            str(SMOKE),
            "--set",
            "duration_s=43200",
            "--out",
            str(tmp_path / run),
            "--no-report",
            "--quiet",
            "--serve-metrics",
            str(port),
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield port, run
    process.terminate()
    process.wait(timeout=30)
    log.close()


def panel_queries(run: str) -> list[tuple[str, str]]:
    """``(where, PromQL)`` of every panel query of every dashboard, with
    the variables set as Grafana would: a one-minute window, the
    simulation's run as baseline and candidate."""
    found = []
    for name, text in sorted(build_all().items()):
        for title, expr in expressions(json.loads(text)):
            concrete = (
                expr.replace("$window", "1m")
                .replace("$__range", "1h")
                .replace("$baseline", run)
                .replace("$candidate", run)
            )
            assert "$" not in concrete, expr
            found.append((f"{name}: {title}", concrete))
    return found


def test_every_panel_query_has_data_from_a_live_simulation(
    tmp_path: Path, simulation: tuple[int, str]
) -> None:
    """Prometheus scraping a running simulation answers every query of
    every dashboard panel with data."""
    port, run = simulation
    prometheus = Prometheus(tmp_path, [f"127.0.0.1:{port}"])
    try:
        missing = panel_queries(run)
        deadline = time.monotonic() + WAIT_S
        while missing and time.monotonic() < deadline:
            time.sleep(1.0)
            missing = [
                (where, expr)
                for where, expr in missing
                if not prometheus.query(expr)
            ]
        assert not missing, missing
    finally:
        prometheus.stop()


def test_backfilled_run_answers_at_simulated_instants(tmp_path: Path) -> None:
    """A backfilled smoke run is in Prometheus at the instants its
    simulated time was mapped onto: nothing before the start, the
    results' totals at the end, growing in between."""
    binary("promtool")
    binary("prometheus")
    start = datetime.now(UTC).replace(microsecond=0).timestamp() - 86_400
    duration = 900
    out = tmp_path / "backfilled"
    assert (
        main(
            [
                "simulate",
                str(SMOKE),
                "--set",
                f"duration_s={duration}",
                "--out",
                str(out),
                "--no-report",
                "--quiet",
                "--metrics-start",
                datetime.fromtimestamp(start, UTC).isoformat(),
            ]
        )
        == 0
    )
    tsdb = tmp_path / "tsdb"
    assert main(["metrics", "backfill", str(out), "--tsdb", str(tsdb)]) == 0
    results = json.loads((out / "results.json").read_text())

    shutil.copytree(tsdb, tmp_path / "data")
    prometheus = Prometheus(tmp_path, [])
    try:
        created = 'barq_orders_created_total{run="backfilled"}'
        assert prometheus.query(created, start - 600) == []
        [end] = prometheus.query(created, start + duration)
        assert float(end["value"][1]) == results["kpis"]["orders_created"]
        [middle] = prometheus.query(created, start + duration / 2)
        assert 0 < float(middle["value"][1]) <= float(end["value"][1])

        requests = prometheus.query(
            "sum by (endpoint) (barq_request_duration_seconds_count"
            '{run="backfilled"})',
            start + duration,
        )
        counts = {
            r["metric"]["endpoint"]: float(r["value"][1]) for r in requests
        }
        assert counts == {
            name: figures["count"]
            for name, figures in results["endpoints"].items()
        }
    finally:
        prometheus.stop()
