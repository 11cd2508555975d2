"""Tests of ``barq simulate``: the run directory, overrides, bad input
and replications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import main

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"

SHORT = ("--set", "duration_s=900", "--no-report", "--quiet")
"""A quarter of the smoke hour, without the report."""


def test_simulate_writes_the_run_directory_it_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run ends with exit code 0 and prints the run directory, which
    holds results.json of the scenario with the overrides applied."""
    out = tmp_path / "run"

    code = main(["simulate", str(SMOKE), "--out", str(out), *SHORT])

    printed = capsys.readouterr().out
    assert code == 0
    assert f"run directory: {out}" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == "barq.results/1"
    assert results["scenario"]["name"] == "smoke"
    assert results["run"]["simulated_s"] == 900


def test_seed_option_replaces_the_scenario_seed(tmp_path: Path) -> None:
    """--seed is the seed the run records."""
    out = tmp_path / "run"

    main(["simulate", str(SMOKE), "--out", str(out), "--seed", "9", *SHORT])

    results = json.loads((out / "results.json").read_text())
    assert results["scenario"]["seed"] == 9


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("dispatch.epoch_s=-5", "dispatch.epoch_s"),
        ("fleet.drivers=many", "fleet.drivers"),
        ("dispatch.no_such_field=1", "no_such_field"),
    ],
)
def test_bad_override_exits_2_naming_the_field(
    override: str,
    named: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An override that the schema rejects is bad input: exit code 2, a
    message naming the field, and no run directory."""
    out = tmp_path / "run"

    code = main(["simulate", str(SMOKE), "--out", str(out), "--set", override])

    assert code == 2
    assert named in capsys.readouterr().err
    assert not out.exists()


def test_bad_scenario_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario with a value out of range is bad input naming the
    file, the field and the value."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        SMOKE.read_text().replace("drivers: 10", "drivers: -3"),
        encoding="utf-8",
    )

    code = main(["simulate", str(path), "--out", str(tmp_path / "run")])

    err = capsys.readouterr().err
    assert code == 2
    assert str(path) in err
    assert "fleet.drivers" in err
    assert "-3" in err


def test_replications_run_each_seed_and_aggregate(tmp_path: Path) -> None:
    """--replications N runs seeds seed..seed+N-1 into their own
    directories; the top level holds each figure's mean, and under
    ``aggregate`` every replication's value, the mean and its 95%
    confidence interval."""
    out = tmp_path / "reps"

    code = main(
        [
            "simulate",
            str(SMOKE),
            "--out",
            str(out),
            "--seed",
            "4",
            "--replications",
            "2",
            *SHORT,
        ]
    )

    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert [r["seed"] for r in results["replications"]] == [4, 5]
    singles = [
        json.loads((out / f"rep-{seed}" / "results.json").read_text())
        for seed in (4, 5)
    ]
    created = results["aggregate"]["kpis"]["orders_created"]
    per_run = [run["kpis"]["orders_created"] for run in singles]
    assert created["values"] == per_run
    assert created["mean"] == pytest.approx(sum(per_run) / 2)
    assert results["kpis"]["orders_created"] == created["mean"]
    assert created["ci95"][0] <= created["mean"] <= created["ci95"][1]
