"""Tests of a load run's directory: figures from the samples and from
the service's metrics, read back by the run reader and the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.advisor import Outcome
from engine.cache import EvictionReason, Lookup
from engine.metrics import (
    AdvisorMetrics,
    CacheMetrics,
    CollectorRegistry,
    StorageMetrics,
)
from engine.metrics.exposition import exposition_text
from engine.metrics.scrape import read_exposition
from simulator.load.results import (
    NO_ADVISOR,
    advisor_figures,
    cache_figures,
    storage_figures,
    write_load_run,
)
from simulator.load.schedule import Record
from simulator.report import write_report
from simulator.results import throughput
from simulator.runs import load_run
from simulator.scenario import load_scenario

SMOKE = Path(__file__).resolve().parents[3] / "scenarios" / "smoke.yaml"


class Service:
    """The metrics a service exposes, on a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.cache = CacheMetrics(self.registry)
        self.advisor = AdvisorMetrics(self.registry)

    def scrape(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text, _ = exposition_text(self.registry)
        return read_exposition(text.decode())


def test_cache_and_advisor_figures_are_the_run_s_differences() -> None:
    """Counters count what happened between the two scrapes only;
    sizes are the service's at the end."""
    service = Service()
    service.cache.on_lookup("routes", Lookup.HIT, 0)
    service.advisor.on_advice("review", Outcome.OK, 0.5)
    before = service.scrape()
    for result in (Lookup.HIT, Lookup.HIT, Lookup.SHARED, Lookup.MISS):
        service.cache.on_lookup("routes", result, 0)
    service.cache.on_eviction("routes", EvictionReason.ENTRIES, 10)
    service.cache.set_size("routes", 3, 2048)
    service.advisor.on_advice("review", Outcome.TIMEOUT, 2.0)
    service.advisor.on_advice("assign", Outcome.CACHE_HIT, 0.0)
    after = service.scrape()

    caches = cache_figures(before, after)
    advisor = advisor_figures(before, after)

    routes = caches["routes"]
    assert (routes["hits"], routes["misses"]) == (3, 1)
    assert routes["hit_ratio"] == pytest.approx(0.75)
    assert routes["evictions"] == 1
    assert (routes["entries"], routes["bytes"]) == (3, 2048)
    assert caches["reference"]["hit_ratio"] is None
    assert advisor["calls"] == 2
    assert advisor["outcomes"]["timeout"] == 1
    assert advisor["outcomes"]["ok"] == 0
    assert advisor["fallback_share"] == pytest.approx(0.5)
    assert advisor["latency"] == NO_ADVISOR["latency"]


def test_storage_figures_only_where_the_service_stores() -> None:
    """A service without storage metrics stores nothing: storage is
    null. With them, rows, timed writes, errors and refused records are
    the run's differences."""
    service = Service()
    assert storage_figures(service.scrape(), service.scrape()) is None

    storage = StorageMetrics(service.registry)
    before = service.scrape()
    storage.on_query("copy_locations", 0.004, 120, ok=True)
    storage.on_query("insert_plans", 0.002, 3, ok=True)
    storage.on_query("insert_plans", 0.002, 0, ok=False)
    storage.on_rejected("insert_plans")
    after = service.scrape()

    figures = storage_figures(before, after)

    assert figures is not None
    assert figures["writes"] == 123
    assert figures["batches"] == 3
    assert figures["errors"] == 1
    assert figures["rejected"] == 1
    assert figures["query"] == {
        "p50": None,
        "p95": None,
        "p99": None,
        "max": None,
    }


def _record(count: int, seed: int = 0) -> Record:
    rng = np.random.default_rng(seed)
    record = Record()
    for due in np.sort(rng.uniform(0, 30, count)):
        endpoint = str(rng.choice(["eta", "location", "batch_plan"]))
        status = int(rng.choice([200, 404, 503], p=[0.8, 0.15, 0.05]))
        outcome = {200: "ok", 404: "unknown", 503: "error"}[status]
        record.add(
            endpoint,
            float(due),
            float(rng.exponential(0.005)),
            float(rng.lognormal(-5, 0.5)),
            outcome,
            "",
            status,
            float(due) * 120,
        )
    return record


def test_run_directory_reads_back_and_reports(tmp_path: Path) -> None:
    """A load run's directory is read by the run reader as a simulation's
    is: counts of results.json agree with the samples, percentiles are in
    order, and the report is written from it. Without a scrape, caches
    are empty and the advisor's figures null."""
    scenario = load_scenario(SMOKE)
    record = _record(600)
    load = {"duration_s": 30.0, "sent": record.sent, "late": record.late}

    results = write_load_run(
        tmp_path,
        scenario,
        scenario.seed,
        record.frame(),
        load,
        datetime.now(UTC),
        31.0,
        None,
    )
    run = load_run(tmp_path)

    assert results["caches"] == {}
    assert results["advisor"] == NO_ADVISOR
    assert run.results == json.loads((tmp_path / "results.json").read_text())
    total = sum(run.results["endpoints"][e]["count"] for e in run.endpoints)
    assert total == len(run.samples) == record.sent
    errors = int((run.samples["outcome"] == "error").sum())
    assert errors == sum(
        run.results["endpoints"][e]["errors"] for e in run.endpoints
    )
    for name in run.endpoints:
        figures = run.results["endpoints"][name]
        assert figures["p50"] <= figures["p95"] <= figures["p99"]
        assert figures["p99"] <= figures["max"]
    assert run.results["throughput"]["mean"] == pytest.approx(20.0)
    assert write_report(tmp_path).is_file()


def test_short_run_peak_is_its_mean() -> None:
    """A run shorter than a minute is one window: its peak throughput is
    its mean, not its count over a whole minute."""
    samples = _record(100).frame()

    figures = throughput(samples, 10.0)

    assert figures == {"mean": 10.0, "peak": 10.0}


def test_peak_is_over_whole_minutes() -> None:
    """The peak is the busiest whole minute's rate; a partial minute at
    the end does not count."""
    arrivals = np.concatenate(
        [np.linspace(0, 59, 60), np.linspace(60, 119, 120), [120.5] * 30]
    )
    samples = pd.DataFrame({"arrival_s": arrivals})

    figures = throughput(samples, 121.0)

    assert figures["peak"] == pytest.approx(2.0)
    assert figures["mean"] == pytest.approx(210 / 121.0)
