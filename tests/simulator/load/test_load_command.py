"""Tests of ``barq load`` run as a subprocess: a short run against the
real ``barq serve``, bad input, and late sends against a slow service.

Locust patches the process that imports it, so ``barq load`` never runs
in the test process.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from loadservice import SMOKE, barq

from simulator.cli import main
from simulator.load.schedule import LATE_AFTER_S

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from loadservice import StandIn

REPLAY = SMOKE.parent / "replay_sample.yaml"


@pytest.mark.timeout(300)
def test_short_run_against_the_service(service: str, tmp_path: Path) -> None:
    """A few seconds of the smoke town against ``barq serve`` (memory
    cache): exit 0, every request answered and none refused as invalid,
    and a run directory whose results.json agrees with its samples,
    whose percentiles are in order, whose caches come from the service's
    /metrics, and that ``barq report`` reads."""
    out = tmp_path / "run"

    done = barq(
        "load",
        str(SMOKE),
        "--target",
        service,
        "--duration",
        "4",
        "--rate",
        "40",
        "--users",
        "8",
        "--out",
        str(out),
        "--no-report",
    )

    assert done.returncode == 0, done.stderr
    assert f"run directory: {out}" in done.stdout
    results = json.loads((out / "results.json").read_text())
    samples = pd.read_parquet(out / "samples.parquet")
    assert results["schema"] == "barq.results/1"
    assert results["run"]["mode"] == "load"
    endpoints = results["endpoints"]
    assert sum(e["count"] for e in endpoints.values()) == len(samples)
    assert results["load"]["sent"] == len(samples) > 0
    for name, figures in endpoints.items():
        rows = samples[samples["endpoint"] == name]
        assert figures["count"] == len(rows)
        assert figures["errors"] == int((rows["outcome"] == "error").sum())
        assert figures["p50"] <= figures["p95"] <= figures["p99"]
        assert figures["p99"] <= figures["max"]
    # Every request answered, none refused as invalid (a busy machine
    # may still see a 503 from the solve queue).
    assert (samples["status"] > 0).all()
    assert not samples["status"].isin([400, 422]).any()
    assert set(samples.loc[samples["endpoint"] == "eta", "outcome"]) <= {
        "ok",
        "unknown",
    }
    assert "routes" in results["caches"]
    assert results["throughput"]["mean"] == pytest.approx(len(samples) / 4)

    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("--users", "0"), "--users"),
        (("--duration", "-1"), "--duration"),
        (("--rate", "0"), "--rate"),
        (("--target", "ftp://127.0.0.1:1"), "--target"),
        (("--set", "api.eta_per_active_order=-1"), "api.eta_per_active_order"),
        (("--set", "dispatch.nope=1"), "nope"),
    ],
)
@pytest.mark.timeout(120)
def test_bad_input_exits_2_naming_the_field(
    arguments: tuple[str, ...], named: str, tmp_path: Path
) -> None:
    """A value that is not allowed is bad input: exit code 2, a message
    naming the option or field, and no run directory."""
    out = tmp_path / "run"
    target = ("--target", "http://127.0.0.1:9")
    if "--target" in arguments:
        target = ()

    done = barq(
        "load",
        str(SMOKE),
        *target,
        *arguments,
        "--out",
        str(out),
        "--quiet",
    )

    assert done.returncode == 2
    assert named in done.stderr
    assert not out.exists()


@pytest.mark.timeout(120)
def test_replay_scenario_exits_2(tmp_path: Path) -> None:
    """A replay has no generated city to send: exit code 2 naming
    ``replay``."""
    done = barq(
        "load",
        str(REPLAY),
        "--target",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "run"),
    )

    assert done.returncode == 2
    assert "replay" in done.stderr


@pytest.mark.timeout(300)
def test_late_sends_are_counted_when_the_service_is_slow(
    standin: Callable[[float], StandIn], tmp_path: Path
) -> None:
    """Against a service that takes 0.25 s per answer, two users cannot
    keep up with 30 requests per second: sends start late, the late
    count of results.json is the samples' late flags, and late sends
    waited past the tolerance; what was never sent is counted as
    missed. The service has no /metrics, so caches are empty."""
    slow = standin(0.25)
    out = tmp_path / "run"

    done = barq(
        "load",
        str(SMOKE),
        "--target",
        slow.base_url,
        "--duration",
        "3",
        "--rate",
        "30",
        "--users",
        "2",
        "--out",
        str(out),
        "--no-report",
    )

    assert done.returncode == 0, done.stderr
    results = json.loads((out / "results.json").read_text())
    samples = pd.read_parquet(out / "samples.parquet")
    load = results["load"]
    assert load["late"] > 0
    assert load["late"] == int(samples["late"].sum())
    assert (samples.loc[samples["late"], "wait_s"] > LATE_AFTER_S).all()
    assert load["missed"] > 0
    assert results["caches"] == {}
    assert not slow.rejected


@pytest.mark.timeout(60)
def test_locust_stays_out_of_this_process() -> None:
    """The command line, its load command and the load package's pure
    modules import without Locust, so its monkey-patching cannot leak
    into other commands."""
    import simulator.commands.load
    import simulator.load.results
    import simulator.load.traffic  # noqa: F401

    assert "locust" not in sys.modules
    assert "simulator.load.runner" not in sys.modules
