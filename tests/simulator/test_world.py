"""Tests of a simulated run: invariants of the run directory, determinism
for a seed, and the effect of fault windows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from simulator.run import simulate
from simulator.scenario import load_scenario

if TYPE_CHECKING:
    from simulator.scenario import Scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

FAST = ("dispatch.backend=heuristic",)
"""The smoke scenario with the insertion heuristic for dispatch, which
keeps each run to a few seconds."""


def _smoke(*overrides: str) -> Scenario:
    return load_scenario(SCENARIOS / "smoke.yaml", (*FAST, *overrides))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One smoke run, shared by the invariant tests."""
    out = tmp_path_factory.mktemp("smoke")
    simulate(_smoke(), out)
    return out


def _results(run: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run / "results.json").read_text())
    return loaded


def test_run_directory_holds_every_file(smoke_run: Path) -> None:
    """A run writes results.json and the three Parquet files."""
    names = {path.name for path in smoke_run.iterdir()}
    assert {
        "results.json",
        "samples.parquet",
        "orders.parquet",
        "timeseries.parquet",
    } <= names
    assert _results(smoke_run)["schema"] == "barq.results/1"


def test_every_order_has_one_fate(smoke_run: Path) -> None:
    """Every order created is delivered, cancelled or still open, exactly
    one of them, and the counts in results.json add up to the table."""
    orders = pd.read_parquet(smoke_run / "orders.parquet")
    kpis = _results(smoke_run)["kpis"]
    delivered = orders["delivered_s"].notna()
    cancelled = orders["cancelled_s"].notna()
    assert not (delivered & cancelled).any()
    assert kpis["orders_created"] == len(orders) > 0
    assert kpis["orders_delivered"] == int(delivered.sum()) > 0
    assert kpis["orders_cancelled"] == int(cancelled.sum())
    assert kpis["orders_open"] == int((~delivered & ~cancelled).sum())
    assert (
        kpis["orders_delivered"]
        + kpis["orders_cancelled"]
        + kpis["orders_open"]
        == kpis["orders_created"]
    )


def test_order_lifecycle_is_ordered_in_time(smoke_run: Path) -> None:
    """An order is assigned after it is placed, picked after it is
    assigned, and delivered after it is picked."""
    orders = pd.read_parquet(smoke_run / "orders.parquet")
    done = orders[orders["delivered_s"].notna()]
    assert (done["assigned_s"] >= done["created_s"]).all()
    assert (done["picked_s"] >= done["assigned_s"]).all()
    assert (done["delivered_s"] > done["picked_s"]).all()


def test_endpoint_figures_match_the_samples(smoke_run: Path) -> None:
    """Counts and percentiles per endpoint are exactly those of the raw
    samples, and p50 <= p95 <= p99 <= max."""
    samples = pd.read_parquet(smoke_run / "samples.parquet")
    endpoints = _results(smoke_run)["endpoints"]
    assert set(endpoints) == set(samples["endpoint"].astype(str))
    for name, figures in endpoints.items():
        latency = samples.loc[samples["endpoint"] == name, "latency_s"]
        assert figures["count"] == len(latency)
        expected = np.percentile(latency, [50, 95, 99])
        assert [figures["p50"], figures["p95"], figures["p99"]] == list(
            expected
        )
        assert figures["p50"] <= figures["p95"] <= figures["p99"]
        assert figures["p99"] <= figures["max"]


def test_latency_is_wait_plus_service(smoke_run: Path) -> None:
    """Each sample's latency is its wait for a worker plus its service
    time, which is its compute plus its modelled time."""
    samples = pd.read_parquet(smoke_run / "samples.parquet")
    assert np.allclose(
        samples["latency_s"], samples["wait_s"] + samples["service_s"]
    )
    assert np.allclose(
        samples["service_s"], samples["compute_s"] + samples["modelled_s"]
    )
    assert (samples["wait_s"] >= 0).all()


def test_timeseries_counts_every_request(smoke_run: Path) -> None:
    """The per-minute request counts add up to the samples."""
    samples = pd.read_parquet(smoke_run / "samples.parquet")
    series = pd.read_parquet(smoke_run / "timeseries.parquet")
    assert int(series["requests"].sum()) == len(samples)
    assert len(series) == 60


def test_same_seed_same_plans_and_kpis(tmp_path: Path) -> None:
    """Two runs of one seed give identical order lifecycles, KPIs, cache
    look-ups and advisor outcomes; only measured latencies may differ."""
    first = simulate(_smoke(), tmp_path / "a")
    second = simulate(_smoke(), tmp_path / "b")
    assert first["kpis"] == second["kpis"]
    assert first["advisor"]["outcomes"] == second["advisor"]["outcomes"]
    for layer in first["caches"]:
        for key in ("hits", "misses", "evictions"):
            assert first["caches"][layer][key] == second["caches"][layer][key]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "a" / "orders.parquet"),
        pd.read_parquet(tmp_path / "b" / "orders.parquet"),
    )


WORKLOAD_DRAWS = """
import sys
from pathlib import Path

from simulator.run import build_workload
from simulator.scenario import load_scenario
from simulator.world import random_streams

scenario = load_scenario(Path(sys.argv[1]))
workload = build_workload(scenario, random_streams(scenario.seed))
for merchant in workload.merchants:
    print(merchant.id, merchant.weight.hex())
for order in workload.arrivals:
    print(order.id, order.time.hex(), order.prep_s.hex(), order.customer.id)
for driver in workload.drivers:
    print(driver.id, driver.speed_factor.hex())
"""
"""Prints every draw of a scenario's workload, bit for bit."""


def _workload_draws(scenario: Path, environment: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", WORKLOAD_DRAWS, str(scenario)],
        env=os.environ | environment,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def test_same_seed_same_day_without_numpys_vector_code(
    numpy_without_vector_code: dict[str, str],
) -> None:
    """The baseline day's merchants, orders and drivers are the same bits
    whether or not numpy uses the vector code it has for this machine
    (its AVX-512 exp differs from other machines' in the last bit): CI's
    runners and an engineer's laptop simulate the same day."""
    baseline = SCENARIOS / "baseline.yaml"
    here = _workload_draws(baseline, {})
    elsewhere = _workload_draws(baseline, numpy_without_vector_code)
    assert here.count("\n") > 8000
    assert here == elsewhere


def test_delivery_weight_brings_deliveries_sooner(tmp_path: Path) -> None:
    """``dispatch.delivery_weight`` reaches the solver's objective: the
    smoke hour's deliveries come sooner with it than on travel alone."""
    travel_only = simulate(_smoke(), tmp_path / "a")
    weighed = simulate(_smoke("dispatch.delivery_weight=3"), tmp_path / "b")
    assert (
        weighed["kpis"]["delivery_minutes"]["p50"]
        < travel_only["kpis"]["delivery_minutes"]["p50"]
    )


def test_another_seed_another_day(tmp_path: Path) -> None:
    """A different seed draws a different day."""
    first = simulate(_smoke(), tmp_path / "a", seed=1)
    second = simulate(_smoke(), tmp_path / "b", seed=2)
    assert first["kpis"] != second["kpis"]


def test_llm_outage_raises_fallback_share_and_dispatch_goes_on(
    tmp_path: Path,
) -> None:
    """Inside an LLM outage window every advisor answer is a fallback,
    outside it few are, and no dispatch request fails."""
    scenario = _smoke(
        "faults=[{kind: llm_outage, start_s: 1200, end_s: 2400}]",
        "engine.advisor.error_rate=0.0",
        "engine.advisor.malformed_rate=0.0",
    )
    results = simulate(scenario, tmp_path)
    series = pd.read_parquet(tmp_path / "timeseries.parquet")
    inside = series[(series["minute_s"] >= 1200) & (series["minute_s"] < 2400)]
    before = series[series["minute_s"] < 1200]
    calls = [f"advisor_{name}" for name in ("ok", "timeout", "error")]
    assert (
        inside[calls].to_numpy().sum() + inside["advisor_breaker_open"].sum()
        > 0
    )
    assert inside["advisor_ok"].sum() == 0
    assert before["advisor_ok"].sum() > 0
    assert results["endpoints"]["dispatch"]["errors"] == 0
    assert results["advisor"]["outcomes"]["error"] > 0


def test_redis_loss_degrades_the_caches_and_they_recover(
    tmp_path: Path,
) -> None:
    """In a redis_down window the layers degrade to memory (counted) and
    no request fails; after it they use the shared backend again."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis(host="127.0.0.1", port=6379).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis on 127.0.0.1:6379 is unreachable: {error}")
    scenario = _smoke(
        "engine.cache.backend=redis",
        "faults=[{kind: redis_down, start_s: 900, end_s: 1800}]",
    )
    results = simulate(scenario, tmp_path)
    assert results["caches"]["reference"]["degraded_events"] >= 1
    assert all(f["errors"] == 0 for f in results["endpoints"].values())


def test_slowdown_stretches_service_times_only(tmp_path: Path) -> None:
    """``engine.slowdown`` stretches each request's modelled time by the
    fraction given and leaves the day itself alone: the same orders, the
    same KPIs, the same requests at the same instants."""
    base = simulate(_smoke(), tmp_path / "base")
    slow = simulate(_smoke("engine.slowdown=0.1"), tmp_path / "slow")
    assert slow["kpis"] == base["kpis"]
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "base" / "orders.parquet"),
        pd.read_parquet(tmp_path / "slow" / "orders.parquet"),
    )
    before = pd.read_parquet(tmp_path / "base" / "samples.parquet")
    after = pd.read_parquet(tmp_path / "slow" / "samples.parquet")
    assert list(after["arrival_s"]) == list(before["arrival_s"])
    assert (before["modelled_s"] > 0).any()
    assert np.allclose(after["modelled_s"], 1.1 * before["modelled_s"])
