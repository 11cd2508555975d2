"""The API keeps answering driver locations while its PostgreSQL is
stopped and started again, says it is degraded meanwhile, and loses no
location it answered 204 for."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import httpx
import psycopg
import pytest

from tests.engine.api.conftest import Server

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.engine.storage.conftest import ScratchCluster

OUTAGE_S = 1.0
"""How long PostgreSQL stays down once the API has noticed: long enough
for writes to fail and be retried (not a measured duration)."""


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; the test's timeout bounds the
    wait."""
    while not condition():
        time.sleep(0.05)


class Driver:
    """Posts the location of a new driver id every few milliseconds, in a
    thread, keeping the ids answered 204 and every other status."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)
        self.accepted: list[str] = []
        self.other: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        k = 0
        while not self.stop.is_set():
            driver = f"r{k}"
            reply = self.client.post(
                f"/api/drivers/{driver}/location", json={"x": k, "y": -k}
            )
            if reply.status_code == 204:
                self.accepted.append(driver)
            else:
                self.other.append(reply.status_code)
            k += 1
            self.stop.wait(0.002)


def _stored(url: str) -> tuple[int, set[str]]:
    try:
        with psycopg.connect(url, connect_timeout=2) as connection:
            rows = connection.execute(
                "SELECT driver_id FROM driver_locations"
            ).fetchall()
    except psycopg.OperationalError:
        return -1, set()
    return len(rows), {row[0] for row in rows}


def _readiness(base_url: str) -> tuple[int, list[str]]:
    reply = httpx.get(f"{base_url}/readyz", timeout=30)
    return reply.status_code, reply.json()["reasons"]


@pytest.mark.timeout(300)
def test_no_accepted_location_is_lost_when_postgres_restarts(
    scratch_cluster: ScratchCluster, tmp_path: Path
) -> None:
    """Locations posted before, during and after a PostgreSQL restart
    are all answered 204 (the writer buffers them); /readyz answers 503
    naming storage while the server is down and 200 again after; once
    the writer has caught up, and again after the API stopped, every
    accepted location is stored exactly once."""
    server = Server(
        tmp_path / "serve.log",
        "--workers",
        "1",
        "--storage",
        scratch_cluster.url,
    )
    server.start()
    driver = Driver(server.base_url)
    try:
        driver.thread.start()
        wait_until(lambda: _stored(scratch_cluster.url)[0] >= 50)

        scratch_cluster.stop("fast")
        wait_until(lambda: _readiness(server.base_url)[0] == 503)
        _, reasons = _readiness(server.base_url)
        assert [reason.split(":")[0] for reason in reasons] == ["storage"]
        accepted_down = len(driver.accepted)
        time.sleep(OUTAGE_S)
        assert len(driver.accepted) > accepted_down

        scratch_cluster.start()
        wait_until(lambda: _readiness(server.base_url)[0] == 200)
        after = len(driver.accepted)
        wait_until(lambda: len(driver.accepted) >= after + 50)
    finally:
        driver.stop.set()
        driver.thread.join()
        driver.client.close()

    accepted = set(driver.accepted)
    wait_until(lambda: _stored(scratch_cluster.url)[0] >= len(accepted))
    server.stop()
    assert "Application shutdown complete" in server.log()
    count, stored = _stored(scratch_cluster.url)
    assert driver.other == []
    assert count == len(driver.accepted)
    assert stored == accepted
