"""A simulation's metrics: the OpenMetrics file of its run directory
agrees with its results.json, its timestamps are simulated time on the
chosen start, and ``--push`` sends them grouped by run."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from simulator.cli import main
from simulator.scenario import load_scenario
from simulator.telemetry import (
    OPENMETRICS_FILE,
    PERIOD_S,
    default_start,
    run_labels,
)

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"
DURATION_S = 900
START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

POINT = re.compile(r"^(\w+)(\{[^}]*\})? (\S+) (\S+)$")


def points(path: Path) -> dict[str, list[tuple[dict[str, str], float, float]]]:
    """``sample name -> [(labels, value, timestamp)]`` of a file."""
    found: dict[str, list[tuple[dict[str, str], float, float]]] = {}
    for line in path.read_text().splitlines():
        match = POINT.match(line)
        if match is None:
            continue
        name, labels, value, stamp = match.groups()
        pairs = dict(re.findall(r'(\w+)="([^"]*)"', labels or ""))
        found.setdefault(name, []).append((pairs, float(value), float(stamp)))
    return found


def last(
    found: dict[str, list[tuple[dict[str, str], float, float]]],
    name: str,
    **labels: str,
) -> float:
    """The sum over matching series of each one's latest value."""
    latest: dict[tuple[tuple[str, str], ...], tuple[float, float]] = {}
    for pairs, value, stamp in found[name]:
        if all(pairs.get(k) == v for k, v in labels.items()):
            key = tuple(sorted(pairs.items()))
            if key not in latest or stamp >= latest[key][1]:
                latest[key] = (value, stamp)
    return sum(value for value, _ in latest.values())


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short smoke run, its metrics mapped onto :data:`START`."""
    out = tmp_path_factory.mktemp("telemetry") / "smoke-run"
    code = main(
        [
            "simulate",
            str(SMOKE),
            "--set",
            f"duration_s={DURATION_S}",
            "--out",
            str(out),
            "--no-report",
            "--quiet",
            "--metrics-start",
            START.isoformat(),
        ]
    )
    assert code == 0
    return out


def results(run: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run / "results.json").read_text())
    return document


def test_points_are_simulated_minutes_from_the_start(smoke_run: Path) -> None:
    """One point per simulated minute from the start instant to the end
    of the run, every sample labelled with the run and the scenario."""
    found = points(smoke_run / OPENMETRICS_FILE)
    stamps = sorted({stamp for _, _, stamp in found["barq_workers"]})
    begin = START.timestamp()
    assert stamps[0] == begin
    assert stamps[-1] == begin + DURATION_S
    assert all(b - a == PERIOD_S for a, b in itertools.pairwise(stamps))
    for series in found.values():
        for pairs, _, _ in series:
            assert pairs["run"] == "smoke-run"
            assert pairs["scenario"] == "smoke"


def test_final_points_match_results(smoke_run: Path) -> None:
    """At the end, requests per endpoint, orders by fate, advisor calls
    and driver utilization are the figures of results.json."""
    found = points(smoke_run / OPENMETRICS_FILE)
    document = results(smoke_run)
    for endpoint, figures in document["endpoints"].items():
        assert (
            last(
                found,
                "barq_request_duration_seconds_count",
                endpoint=endpoint,
            )
            == figures["count"]
        )
    kpis = document["kpis"]
    assert last(found, "barq_orders_created_total") == kpis["orders_created"]
    for state in ("delivered", "cancelled", "open"):
        assert (
            last(found, "barq_orders", state=state) <= kpis["orders_created"]
        )
    assert (
        last(found, "barq_orders", state="delivered")
        == (kpis["orders_delivered"])
    )
    assert (
        last(found, "barq_orders", state="cancelled")
        == (kpis["orders_cancelled"])
    )
    assert (
        last(found, "barq_delivery_duration_seconds_count")
        == (kpis["orders_delivered"])
    )
    assert (
        last(found, "barq_advisor_calls_total")
        == (document["advisor"]["calls"])
    )
    assert last(found, "barq_driver_utilization_ratio") == pytest.approx(
        kpis["driver_utilization"]
    )


def test_cache_hits_match_results(smoke_run: Path) -> None:
    """The last point's hits over look-ups per layer is the hit ratio
    of results.json."""
    found = points(smoke_run / OPENMETRICS_FILE)
    for layer, figures in results(smoke_run)["caches"].items():
        total = last(found, "barq_cache_lookups_total", layer=layer)
        hits = last(
            found, "barq_cache_lookups_total", layer=layer, result="hit"
        ) + last(
            found, "barq_cache_lookups_total", layer=layer, result="shared"
        )
        expected = figures["hit_ratio"]
        assert (hits / total if total else 0.0) == pytest.approx(expected)


def test_counters_never_decrease(smoke_run: Path) -> None:
    """Every counter series only grows from point to point."""
    found = points(smoke_run / OPENMETRICS_FILE)
    for name, series in found.items():
        if not name.endswith(("_total", "_count", "_bucket")):
            continue
        by_series: dict[tuple[tuple[str, str], ...], list[float]] = {}
        for pairs, value, _ in series:
            by_series.setdefault(tuple(sorted(pairs.items())), []).append(
                value
            )
        for values in by_series.values():
            assert values == sorted(values), name


def test_default_start_is_yesterday_at_the_start_hour() -> None:
    """Without --metrics-start, second 0 maps onto the scenario's start
    hour of the day before the run."""
    scenario = load_scenario(SMOKE)
    started = datetime(2026, 12, 4, 4, 30, tzinfo=UTC)
    assert default_start(scenario, started) == datetime(
        2026, 12, 3, 12, 0, tzinfo=UTC
    )


def test_replication_runs_are_named_with_their_parent() -> None:
    """A replication's run label keeps its parent folder's name, so
    replications of different runs do not share one."""
    scenario = load_scenario(SMOKE)
    labels = run_labels(scenario, Path("runs/nightly/rep-3"))
    assert labels == {"run": "nightly/rep-3", "scenario": "smoke"}


def test_push_sends_the_run_grouped_by_scenario_run_and_revision(
    tmp_path: Path,
    pushgateway: tuple[str, list[tuple[str, str, str]]],
) -> None:
    """``--push`` replaces one Pushgateway group named by the scenario,
    the run and the git revision, with the run's final metrics."""
    url, received = pushgateway
    out = tmp_path / "pushed"
    code = main(
        [
            "simulate",
            str(SMOKE),
            "--set",
            "duration_s=120",
            "--out",
            str(out),
            "--no-report",
            "--quiet",
            "--push",
            url,
        ]
    )
    assert code == 0
    [(method, path, body)] = received
    assert method == "PUT"
    revision = results(out)["run"]["git_revision"] or "unknown"
    assert path.startswith("/metrics/job/barq_simulate/")
    assert "/run/pushed" in path
    assert "/scenario/smoke" in path
    assert f"/git_revision/{revision}" in path
    assert 'barq_orders_created_total{run="pushed"' in body


def test_unreachable_pushgateway_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A push that cannot reach its gateway exits 2 naming --push and
    the URL, after the run directory was written."""
    out = tmp_path / "unpushed"
    code = main(
        [
            "simulate",
            str(SMOKE),
            "--set",
            "duration_s=60",
            "--out",
            str(out),
            "--no-report",
            "--quiet",
            "--push",
            "http://127.0.0.1:9",
        ]
    )
    assert code == 2
    assert "--push" in capsys.readouterr().err
    assert (out / OPENMETRICS_FILE).is_file()


def test_replications_refuse_metrics_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Serving, pushing or a start instant apply to one run only."""
    code = main(
        [
            "simulate",
            str(SMOKE),
            "--replications",
            "2",
            "--serve-metrics",
            "9464",
            "--out",
            str(tmp_path / "reps"),
        ]
    )
    assert code == 2
    assert "--replications" in capsys.readouterr().err
