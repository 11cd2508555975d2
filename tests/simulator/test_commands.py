"""``barq report``, ``barq gate`` and ``barq history`` through
:func:`simulator.cli.main`, on a real smoke run and on synthetic runs."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from runfixtures import Shape, write_fixture_run

from simulator.cli import main
from simulator.history import RUNS_TABLE

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]
SMOKE = ROOT / "scenarios" / "smoke.yaml"

Capture = pytest.CaptureFixture[str]


def _copy(run_dir: Path, to: Path, edit: Callable[[Any], None]) -> Path:
    """A copy of a run directory with its results.json edited."""
    shutil.copytree(run_dir, to)
    file = to / "results.json"
    results = json.loads(file.read_text())
    edit(results)
    file.write_text(json.dumps(results))
    return to


def test_report_command_writes_both_files(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """``barq report`` writes report.html and summary.md and prints the
    verdict; with --baseline the page compares; a missing directory
    exits 2 naming it."""
    run_dir = shutil.copytree(smoke_run, tmp_path / "run")

    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert re.match(r"(✅ PASS|❌ FAIL): ", out)
    assert (run_dir / "report.html").is_file()
    assert (run_dir / "summary.md").is_file()

    assert main(["report", str(run_dir), "--baseline", str(smoke_run)]) == 0
    html = (run_dir / "report.html").read_text()
    assert "<h2>Against the baseline</h2>" in html

    assert main(["report", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_gate_real_run_against_itself_passes(
    smoke_run: Path, capsys: Capture
) -> None:
    """A run gated against itself holds: exit 0, every deterministic
    figure unchanged, no failure printed."""
    assert main(["gate", str(smoke_run), str(smoke_run)]) == 0
    out = capsys.readouterr().out

    assert out.rstrip().splitlines()[-1].startswith("verdict: PASS")
    assert "FAIL" not in out
    assert "ok   deterministic kpis.orders_delivered: unchanged" in out


def test_gate_regression_exits_one_and_says_why(
    tmp_path: Path, capsys: Capture
) -> None:
    """A candidate 50% slower fails with exit 1, and the failing line
    names the test, the p-value, the interval and the effect."""
    rng = np.random.default_rng(5)
    base = write_fixture_run(tmp_path / "base", rng, seed=1)
    slow = write_fixture_run(
        tmp_path / "slow", rng, Shape(service_scale=1.5), seed=1
    )

    assert main(["gate", str(base), str(slow)]) == 1
    out = capsys.readouterr().out
    first = out.splitlines()[0]

    assert first.startswith("FAIL statistical")
    assert "paired block-permutation t-test" in first
    assert re.search(r"p=[\d.e-]+ \(Holm\)", first)
    assert re.search(r"98% CI \+[\d.]+% to \+[\d.]+%", first)
    assert re.search(r"\(\+[\d.]+%", first)
    assert out.rstrip().splitlines()[-1].startswith("verdict: FAIL")


def test_gate_bad_input_exits_two(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """A missing run, a bad gate.yaml and runs of other scenarios exit 2
    with the file, field and value named."""
    assert main(["gate", str(smoke_run), str(tmp_path / "none")]) == 2
    assert "none" in capsys.readouterr().err

    config = tmp_path / "gate.yaml"
    config.write_text("statistical:\n  alpha: 2\n")
    assert (
        main(["gate", str(smoke_run), str(smoke_run), "--config", str(config)])
        == 2
    )
    assert "statistical.alpha: 2" in capsys.readouterr().err

    other = write_fixture_run(tmp_path / "other", np.random.default_rng(1))
    assert main(["gate", str(smoke_run), str(other)]) == 2
    assert "scenario.name: 'fixture-city'" in capsys.readouterr().err


def test_gate_warns_when_machines_differ(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """Runs measured on different machines are compared, with a warning
    that says so."""
    other = _copy(
        smoke_run,
        tmp_path / "other-machine",
        lambda r: r["run"]["machine"].update(fingerprint="elsewhere"),
    )

    assert main(["gate", str(smoke_run), str(other)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^WARN warning +machines differ \(", out, re.M)


def test_deterministic_gate_compares_only_seeded_figures(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """--deterministic-only checks no latency, no throughput and no
    target: a run with every latency doubled still holds, while one
    delivered order more fails with exit 1."""
    slower = shutil.copytree(smoke_run, tmp_path / "slower")
    samples = pd.read_parquet(slower / "samples.parquet")
    samples["latency_s"] *= 2
    samples.to_parquet(slower / "samples.parquet")
    changed = _copy(
        smoke_run,
        tmp_path / "changed",
        lambda r: r["kpis"].update(
            orders_delivered=r["kpis"]["orders_delivered"] + 1
        ),
    )

    argv = ["gate", "--deterministic-only", str(smoke_run)]
    assert main([*argv, str(slower)]) == 0
    out = capsys.readouterr().out
    assert "statistical" not in out
    assert "threshold" not in out
    assert "deterministic kpis.on_time_ratio" in out

    assert main([*argv, str(changed)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL deterministic kpis.orders_delivered: changed")


def test_deterministic_gate_refuses_other_seeds(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """A deterministic gate between runs of different seeds would compare
    nothing, so it is bad input rather than a pass."""
    reseeded = _copy(
        smoke_run, tmp_path / "seed-2", lambda r: r["scenario"].update(seed=2)
    )

    code = main(
        ["gate", "--deterministic-only", str(smoke_run), str(reseeded)]
    )

    assert code == 2
    assert "same scenario file and seeds" in capsys.readouterr().err


def test_gate_rerun_confirms_a_lasting_regression(
    smoke_run: Path, tmp_path: Path, capsys: Capture
) -> None:
    """Against a baseline whose latencies were halved, the smoke run is a
    suspected regression; --rerun simulates the candidate's scenario
    again, the regression holds, and the gate fails with exit 1. A
    re-run of another scenario hash is bad input."""
    faster = shutil.copytree(smoke_run, tmp_path / "faster")
    samples = pd.read_parquet(faster / "samples.parquet")
    samples["latency_s"] /= 2
    samples.to_parquet(faster / "samples.parquet")
    rerun = tmp_path / "rerun"
    # The smoke run's busy endpoints answer in microseconds: judge them
    # without the absolute floor, which would pass any change of theirs.
    config = tmp_path / "gate.yaml"
    config.write_text("statistical:\n  min_effect_s: 0\n")
    argv = [
        "gate",
        str(faster),
        str(smoke_run),
        "--config",
        str(config),
        "--rerun",
        str(SMOKE),
    ]

    mismatch = [*argv, "--rerun-out", str(tmp_path / "never")]
    assert main(mismatch) == 2
    assert "scenario hash" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()

    results = json.loads((smoke_run / "results.json").read_text())
    duration = f"duration_s={results['run']['simulated_s']:g}"
    code = main([*argv, "--set", duration, "--rerun-out", str(rerun)])

    assert code == 1
    assert (rerun / "results.json").is_file()
    assert "FAIL statistical" in capsys.readouterr().out


def _history_runs(tmp_path: Path, scenario: str) -> list[Path]:
    """Twelve runs of one scenario, the last six 60% slower."""
    rng = np.random.default_rng(9)
    runs = []
    for index in range(12):
        shape = Shape(
            scenario=scenario,
            service_scale=1.0 if index < 6 else 1.6,
            started_at=f"2025-01-{index + 1:02d}T09:00:00+00:00",
            git_revision=f"rev{index:02d}",
        )
        runs.append(write_fixture_run(tmp_path / f"run-{index}", rng, shape))
    return runs


def _history_round_trip(
    url: str, scenario: str, tmp_path: Path, capsys: Capture
) -> None:
    runs = _history_runs(tmp_path, scenario)

    for run_dir in runs:
        assert main(["history", "add", str(run_dir), "--url", url]) == 0
    assert "12 runs of" in capsys.readouterr().out.splitlines()[-1]
    assert main(["history", "add", str(runs[0]), "--url", url]) == 0
    assert "already stored" in capsys.readouterr().out

    assert main(["history", "show", "--scenario", scenario, "--url", url]) == 0
    out = capsys.readouterr().out
    assert len(re.findall(r"^ *\d+  2025-01-", out, re.M)) == 12
    assert re.search(
        r"^change in endpoints\.eta\.p95 from run #7 \(revision rev06",
        out,
        re.M,
    )

    assert (
        main(["history", "show", "--scenario", "nowhere", "--url", url]) == 2
    )
    assert "'nowhere': has no stored runs" in capsys.readouterr().err


def test_history_in_sqlite(tmp_path: Path, capsys: Capture) -> None:
    """Runs added to a SQLite history are stored once each; ``show``
    prints the series oldest first and finds the level shift at the run
    where it began; an unknown scenario exits 2."""
    url = str(tmp_path / "history.sqlite")
    _history_round_trip(url, "history", tmp_path, capsys)


def test_history_in_postgresql(tmp_path: Path, capsys: Capture) -> None:
    """The same history round trip on the local PostgreSQL."""
    psycopg = pytest.importorskip("psycopg")
    url = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as error:
        pytest.skip(f"no PostgreSQL at {url}: {error}")

    # The database is shared: a scenario name of this test's own, and
    # its rows removed afterwards.
    scenario = f"history-test-{uuid.uuid4().hex[:12]}"
    try:
        _history_round_trip(url, scenario, tmp_path, capsys)
    finally:
        with psycopg.connect(url) as connection:
            connection.execute(
                f"DELETE FROM {RUNS_TABLE} WHERE scenario = %s", (scenario,)
            )


@pytest.mark.parametrize("name", ["smoke", "baseline"])
def test_committed_baseline_is_of_the_current_scenario(name: str) -> None:
    """reports/baselines/<name> reads back and was run from the scenario
    as committed now (same hash, same seed, the whole duration), so a
    gate against it compares like with like; a change to the scenario
    must refresh it (reports/baselines/README.md)."""
    from simulator.runs import load_run
    from simulator.scenario import load_scenario, scenario_hash

    baseline = load_run(ROOT / "reports" / "baselines" / name)
    scenario = load_scenario(ROOT / "scenarios" / f"{name}.yaml")

    assert baseline.results["scenario"]["file_hash"] == scenario_hash(scenario)
    assert baseline.seeds == (scenario.seed,)
    assert baseline.figure("run", "simulated_s") == scenario.duration_s
