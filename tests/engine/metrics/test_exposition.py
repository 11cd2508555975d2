"""Exposition: relabelling, the OpenMetrics timeline, the live endpoint
and the Pushgateway client."""

from __future__ import annotations

import re

import httpx
import pytest
from prometheus_client import CollectorRegistry

from engine.metrics import (
    CacheMetrics,
    MetricsServer,
    RequestMetrics,
    Timeline,
    labelled,
    push,
)


def test_labelled_adds_labels_to_every_sample() -> None:
    """Every sample of the wrapped registry carries the added labels,
    and keeps its own."""
    registry = CollectorRegistry()
    RequestMetrics(registry).observe("eta", "ok", 0.01)
    exposed = labelled(registry, {"run": "r1", "scenario": "smoke"})
    samples = [s for f in exposed.collect() for s in f.samples]
    assert samples
    for sample in samples:
        assert sample.labels["run"] == "r1"
        assert sample.labels["scenario"] == "smoke"
    assert (
        exposed.get_sample_value(
            "barq_request_duration_seconds_count",
            {"run": "r1", "scenario": "smoke", "endpoint": "eta"}
            | {"outcome": "ok"},
        )
        == 1
    )


def _points(text: str) -> dict[str, list[tuple[str, float, float]]]:
    """``family -> [(series, value, timestamp)]`` of an OpenMetrics text,
    checking as it goes that each family and each series comes in one
    block, and that the text ends with ``# EOF``."""
    lines = text.splitlines()
    assert lines[-1] == "# EOF"
    families: dict[str, list[tuple[str, float, float]]] = {}
    family = ""
    done_series: set[str] = set()
    current = ""
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            family = line.split()[2]
            assert family not in families, f"{family} twice"
            families[family] = []
            continue
        if line.startswith("#"):
            continue
        series, value, stamp = line.rsplit(" ", 2)
        key = re.sub(r',?le="[^"]*"', "", series)
        key = re.sub(r"_(bucket|count|sum|total)(?=\{|$)", "", key)
        if key != current:
            assert key not in done_series, f"{key} interleaved"
            done_series.add(current)
            current = key
        assert series.startswith(family)
        families[family].append((series, float(value), float(stamp)))
    return families


def test_timeline_is_grouped_openmetrics_with_every_point() -> None:
    """The timeline holds each family once and each series in one
    block (as OpenMetrics requires), one point per snapshot and series
    with its value at that instant, and no ``_created`` samples."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    CacheMetrics(registry)
    timeline = Timeline()
    for minute in range(3):
        requests.observe("eta", "ok", 0.05 * (minute + 1))
        requests.observe("dispatch", "error", 2.0)
        timeline.snapshot(registry, 1_000_000.0 + 60 * minute)

    families = _points(timeline.text())
    counts = [
        (stamp, value)
        for series, value, stamp in families["barq_request_duration_seconds"]
        if "_count{" in series and 'endpoint="eta"' in series
    ]
    assert counts == [(1_000_000.0, 1), (1_000_060.0, 2), (1_000_120.0, 3)]
    assert "barq_cache_lookups" in families
    assert "_created" not in timeline.text()
    assert timeline.snapshots == 3


def test_timeline_labels_match_a_labelled_registry() -> None:
    """Labels given to the timeline reach every point as relabelling
    the registry first would put them, each series in one block."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    CacheMetrics(registry)
    run = {"run": "r1", "scenario": "smoke"}
    direct, relabelled = Timeline(run), Timeline()
    for minute in range(3):
        requests.observe("eta", "ok", 0.05 * (minute + 1))
        requests.observe(f"endpoint-{minute}", "error", 2.0)
        direct.snapshot(registry, 1_000_000.0 + 60 * minute)
        relabelled.snapshot(labelled(registry, run), 1_000_000.0 + 60 * minute)
    assert 'run="r1",scenario="smoke",endpoint="eta"' in direct.text()
    assert direct.text() == relabelled.text()
    assert _points(direct.text())


def test_timeline_refuses_time_going_back() -> None:
    """A snapshot not after the previous one is refused, since the
    format needs each series in time order."""
    registry = CollectorRegistry()
    RequestMetrics(registry)
    timeline = Timeline()
    timeline.snapshot(registry, 100.0)
    with pytest.raises(ValueError, match="not after"):
        timeline.snapshot(registry, 100.0)


def test_server_serves_the_registry() -> None:
    """The live endpoint answers on 127.0.0.1 with the registry's
    current samples, and stops when closed."""
    registry = CollectorRegistry()
    requests = RequestMetrics(registry)
    server = MetricsServer(registry, 0)
    try:
        requests.set_workers(1, 8)
        text = httpx.get(server.url, timeout=5).text
    finally:
        server.close()
    assert "barq_workers 8.0" in text
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url, timeout=1)


def test_push_replaces_the_group_of_the_run(
    pushgateway: tuple[str, list[tuple[str, str, str]]],
) -> None:
    """A push is one PUT to the job's group keyed by the grouping
    labels, with the registry's samples as its body."""
    url, received = pushgateway
    registry = CollectorRegistry()
    RequestMetrics(registry).observe("eta", "ok", 0.01)
    push(url, registry, "barq_simulate", {"run": "r1", "scenario": "s"})
    [(method, path, body)] = received
    assert method == "PUT"
    assert path == "/metrics/job/barq_simulate/run/r1/scenario/s"
    assert "barq_request_duration_seconds_count" in body


def test_push_to_nothing_raises_os_error() -> None:
    """An unreachable gateway raises OSError, which callers report."""
    with pytest.raises(OSError, match="refused"):
        push("http://127.0.0.1:9", CollectorRegistry(), "job", {}, 2.0)
