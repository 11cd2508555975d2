"""Tests of reading run directories back."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from runfixtures import write_fixture_run

from simulator.errors import InputError
from simulator.runs import load_run

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A single fixture run."""
    return write_fixture_run(tmp_path / "run", np.random.default_rng(1))


def _edit_results(run_dir: Path, edit: Any) -> None:
    file = run_dir / "results.json"
    results = json.loads(file.read_text())
    edit(results)
    file.write_text(json.dumps(results))


def test_single_run_reads_every_part(run_dir: Path) -> None:
    """A single run has its results, samples, orders and time series."""
    run = load_run(run_dir)

    assert run.scenario == "fixture-city"
    assert run.fingerprint == "machine-a"
    assert run.seeds == (1,)
    assert run.endpoints == ("eta", "plan")
    assert run.replications == ()
    assert run.orders is not None
    assert run.timeseries is not None
    assert len(run.samples) == sum(
        run.results["endpoints"][e]["count"] for e in run.endpoints
    )


def test_figures_match_the_samples(run_dir: Path) -> None:
    """Endpoint percentiles in results.json are those of the samples."""
    run = load_run(run_dir)
    eta = run.samples[run.samples["endpoint"] == "eta"]["latency_s"]

    assert run.figure("endpoints", "eta", "p95") == pytest.approx(
        float(np.percentile(eta, 95))
    )
    assert run.figure("endpoints", "nowhere", "p95") is None
    assert run.figures()["kpis.delivery_minutes.p90"] == 38.5
    assert "run.wall_s" not in run.figures()


def test_estimate_of_a_single_run_has_no_interval(run_dir: Path) -> None:
    """Without replications an estimate is the figure alone."""
    estimate = load_run(run_dir).estimate("kpis", "on_time_ratio")

    assert estimate.mean == 0.93
    assert estimate.ci95 is None
    assert estimate.values == (0.93,)


@pytest.mark.parametrize("top_samples", [True, False])
def test_replications_are_read(tmp_path: Path, top_samples: bool) -> None:
    """A replicated run reads each rep-<seed>/ and its aggregate; without
    top-level samples the replications' samples are pooled and tagged."""
    path = write_fixture_run(
        tmp_path / "reps",
        np.random.default_rng(2),
        replications=(11, 12, 13),
        top_samples=top_samples,
    )
    run = load_run(path)

    assert run.seeds == (11, 12, 13)
    assert [rep.path.name for rep in run.replications] == [
        "rep-11",
        "rep-12",
        "rep-13",
    ]
    assert len(run.sample_sets()) == 3
    assert sorted(run.samples["replication"].unique()) == [11, 12, 13]
    assert len(run.samples) == sum(len(s) for s in run.sample_sets())

    estimate = run.estimate("endpoints", "eta", "p95")
    assert estimate.ci95 is not None
    assert estimate.ci95[0] <= estimate.mean <= estimate.ci95[1]
    assert estimate.values == tuple(
        rep.figure("endpoints", "eta", "p95") for rep in run.replications
    )


def test_missing_directory_names_the_path(tmp_path: Path) -> None:
    """A path that is not a directory is refused with its name."""
    with pytest.raises(InputError, match="must be a run directory"):
        load_run(tmp_path / "absent")


def test_missing_results_is_refused(run_dir: Path) -> None:
    """A directory without results.json names the file."""
    (run_dir / "results.json").unlink()

    with pytest.raises(InputError, match=r"results\.json"):
        load_run(run_dir)


def test_malformed_json_names_the_line(run_dir: Path) -> None:
    """Invalid JSON is refused with its line number."""
    (run_dir / "results.json").write_text('{"schema":\n  oops}')

    with pytest.raises(InputError, match="line 2"):
        load_run(run_dir)


def test_wrong_schema_is_refused(run_dir: Path) -> None:
    """A results file of another schema names the field and value."""
    _edit_results(run_dir, lambda r: r.update(schema="barq.results/9"))

    with pytest.raises(InputError) as caught:
        load_run(run_dir)

    assert caught.value.path == "schema"
    assert caught.value.value == "barq.results/9"


@pytest.mark.parametrize(
    ("field", "edit"),
    [
        ("run.machine.fingerprint", lambda r: r["run"]["machine"].clear()),
        ("kpis", lambda r: r.pop("kpis")),
        ("endpoints.eta.p99", lambda r: r["endpoints"]["eta"].pop("p99")),
    ],
)
def test_missing_field_is_named(run_dir: Path, field: str, edit: Any) -> None:
    """Each required field, when absent, is named in the error."""
    _edit_results(run_dir, edit)

    with pytest.raises(InputError) as caught:
        load_run(run_dir)

    assert caught.value.path == field
    assert str(run_dir / "results.json") in str(caught.value)


def test_non_numeric_endpoint_figure_is_refused(run_dir: Path) -> None:
    """An endpoint figure that is not a number names its value."""
    _edit_results(run_dir, lambda r: r["endpoints"]["eta"].update(p95="fast"))

    with pytest.raises(InputError, match="'fast'"):
        load_run(run_dir)


def test_samples_without_a_column_are_refused(run_dir: Path) -> None:
    """samples.parquet must hold every required column."""
    samples = pd.read_parquet(run_dir / "samples.parquet")
    samples.drop(columns="latency_s").to_parquet(run_dir / "samples.parquet")

    with pytest.raises(InputError) as caught:
        load_run(run_dir)

    assert caught.value.path == "latency_s"


def test_replication_directory_must_exist(tmp_path: Path) -> None:
    """A listed replication directory that is absent is named."""
    path = write_fixture_run(
        tmp_path / "reps", np.random.default_rng(3), replications=(1, 2)
    )
    _edit_results(path, lambda r: r["replications"][1].update(dir="rep-9"))

    with pytest.raises(InputError) as caught:
        load_run(path)

    assert caught.value.path == "replications[1].dir"


def test_real_smoke_run_without_storage_is_read(smoke_run: Path) -> None:
    """A run the simulation wrote, with ``storage: null``, reads back:
    no storage, no storage figures, and endpoint counts and percentiles
    that are those of its samples."""
    run = load_run(smoke_run)

    assert run.results["storage"] is None
    assert not run.has_storage
    assert not any(name.startswith("storage") for name in run.figures())
    for endpoint in run.endpoints:
        latency = run.samples.loc[
            run.samples["endpoint"] == endpoint, "latency_s"
        ]
        assert run.figure("endpoints", endpoint, "count") == len(latency)
        assert run.figure("endpoints", endpoint, "p95") == pytest.approx(
            float(np.percentile(latency, 95))
        )


@pytest.mark.parametrize("storage", [[], "none", 0])
def test_storage_must_be_a_mapping_or_null(
    run_dir: Path, storage: object
) -> None:
    """Storage that is neither a mapping nor null is refused by name."""
    _edit_results(run_dir, lambda r: r.update(storage=storage))

    with pytest.raises(InputError, match=r"storage.*or null"):
        load_run(run_dir)
