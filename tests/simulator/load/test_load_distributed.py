"""Locust's distributed mode with the same locustfile: a headless master
and one worker, as subprocesses on 127.0.0.1, for a few seconds."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from loadservice import REPOSITORY, SMOKE

from simulator.load.serving import free_port

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from loadservice import StandIn

LOCUSTFILE = REPOSITORY / "simulator" / "load" / "locustfile.py"


def _locust(
    *args: str, log: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args],
            cwd=REPOSITORY,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )


@pytest.mark.timeout(180)
def test_master_and_worker_send_the_city(
    standin: Callable[[float], StandIn], tmp_path: Path
) -> None:
    """A master that expects one worker, given the scenario by
    environment variables, and a worker that gets the options from the
    master: both exit 0, the worker sends every kind of the mix to the
    target (every optimize body valid), the master's stats name the
    endpoints, and it logs its worker's totals."""
    target = standin(0.0)
    port = free_port()
    env = {
        **os.environ,
        "BARQ_SCENARIO": str(SMOKE),
        "BARQ_DURATION": "5",
        "BARQ_RATE": "30",
        "BARQ_USERS": "4",
    }
    master = _locust(
        "--master",
        "--headless",
        "--expect-workers",
        "1",
        "--run-time",
        "60s",
        "--host",
        target.base_url,
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--csv",
        str(tmp_path / "stats"),
        log=tmp_path / "master.log",
        env=env,
    )
    worker_env = {
        key: value for key, value in env.items() if not key.startswith("BARQ")
    }
    worker = _locust(
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
        log=tmp_path / "worker.log",
        env=worker_env,
    )
    try:
        master_code = master.wait(timeout=120)
        worker_code = worker.wait(timeout=60)
    finally:
        for process in (master, worker):
            if process.poll() is None:
                process.kill()
                process.wait()

    master_log = (tmp_path / "master.log").read_text(errors="replace")
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert master_code == 0, master_log
    assert worker_code == 0, worker_log
    assert "1 workers sent" in master_log
    assert not target.rejected
    paths = {path for _, path in target.requests}
    assert "/api/optimize" in paths
    assert any(p.endswith("/eta") for p in paths)
    assert any(p.endswith("/location") for p in paths)
    with (tmp_path / "stats_stats.csv").open() as stats:
        names = {row["Name"] for row in csv.DictReader(stats)}
    assert {"eta", "location"} <= names


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({}, "--barq-scenario"),
        ({"BARQ_SCENARIO": str(SMOKE), "BARQ_USERS": "0"}, "--barq-users"),
        ({"BARQ_SCENARIO": str(SMOKE), "BARQ_RATE": "-2"}, "--barq-rate"),
    ],
)
@pytest.mark.timeout(120)
def test_locustfile_bad_options_exit_2(
    variables: dict[str, str], named: str, tmp_path: Path
) -> None:
    """Run by Locust's own command line, the locustfile refuses a missing
    scenario or a value not allowed before any user starts: exit code 2
    and a message naming the option as that command line spells it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BARQ")}
    process = _locust(
        "--headless",
        "--host",
        "http://127.0.0.1:9",
        log=tmp_path / "locust.log",
        env={**env, **variables},
    )

    code = process.wait(timeout=90)

    assert code == 2
    assert named in (tmp_path / "locust.log").read_text(errors="replace")
