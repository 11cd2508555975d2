"""A simulation with storage: the engine's plans and driver locations
go to the scenario's database, and results.json counts them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.runs import load_run

SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "smoke.yaml"

SHORT = ("--set", "duration_s=900", "--no-report", "--quiet")
"""A quarter of the smoke hour, without the report."""


def count(database: Path, table: str) -> int:
    """Rows of ``table`` in the SQLite file."""
    with sqlite3.connect(database) as conn:
        rows: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return rows


@pytest.mark.timeout(600)
def test_sqlite_storage_holds_every_plan_and_location(tmp_path: Path) -> None:
    """With engine.storage.backend=sqlite, barq.sqlite in the run
    directory holds one plan per answered optimize request and one row
    per location report, and results.json's storage section counts the
    same rows and batches, with ordered batch-write percentiles."""
    out = tmp_path / "run"

    code = main(
        [
            "simulate",
            str(SMOKE),
            "--out",
            str(out),
            "--set",
            "engine.storage.backend=sqlite",
            *SHORT,
        ]
    )

    assert code == 0
    results = json.loads((out / "results.json").read_text())
    storage = results["storage"]
    endpoints = results["endpoints"]
    database = out / "barq.sqlite"
    plans = count(database, "plans")
    locations = count(database, "driver_locations")
    answered = sum(
        endpoints[name]["count"] - endpoints[name]["errors"]
        for name in ("dispatch", "batch_plan")
    )
    assert plans == answered > 0
    assert locations == endpoints["location"]["count"] > 0
    assert storage["writes"] == plans + locations
    assert storage["batches"] == count(database, "write_batches") > 0
    assert storage["errors"] == 0
    query = storage["query"]
    assert 0 < query["p50"] <= query["p95"] <= query["p99"]
    run = load_run(out)
    assert run.has_storage
    assert run.figures()["storage.writes"] == plans + locations


@pytest.mark.timeout(600)
def test_a_run_without_storage_says_null(tmp_path: Path) -> None:
    """The default backend none writes no database and storage: null."""
    out = tmp_path / "run"

    main(["simulate", str(SMOKE), "--out", str(out), *SHORT])

    results = json.loads((out / "results.json").read_text())
    assert results["storage"] is None
    assert not (out / "barq.sqlite").exists()


@pytest.mark.timeout(120)
def test_unreachable_database_is_bad_input_naming_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL URL nobody answers at ends the run before it starts:
    exit code 2 and a message naming engine.storage.url."""
    out = tmp_path / "run"

    code = main(
        [
            "simulate",
            str(SMOKE),
            "--out",
            str(out),
            "--set",
            "engine.storage.backend=postgresql",
            "--set",
            "engine.storage.url=postgresql://127.0.0.1:1/none",
            *SHORT,
        ]
    )

    assert code == 2
    assert "engine.storage.url" in capsys.readouterr().err
