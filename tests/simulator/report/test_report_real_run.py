"""The report of a run the simulation itself wrote (scenarios/smoke.yaml).

The synthetic fixtures hold every section; a real run holds what the
simulation writes today, ``storage: null`` included.
"""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING

from simulator.report import HTML, SUMMARY, write_report
from simulator.report.content import NO_STORAGE
from simulator.runs import load_run

if TYPE_CHECKING:
    from pathlib import Path


def _copy(smoke_run: Path, tmp_path: Path) -> Path:
    return shutil.copytree(smoke_run, tmp_path / "run")


def test_report_of_a_real_run_is_written(
    smoke_run: Path, tmp_path: Path
) -> None:
    """Both files are written; the verdict is the targets' (the smoke
    scenario sets three), and each endpoint has its distribution plot."""
    run_dir = _copy(smoke_run, tmp_path)
    run = load_run(run_dir)

    html = write_report(run_dir).read_text()
    summary = (run_dir / SUMMARY).read_text()

    verdict = re.search(r'id="verdict">([^<]*)<', html)
    assert verdict is not None
    assert re.match(r"(PASS|FAIL): ", verdict.group(1))
    icon = "✅" if verdict.group(1).startswith("PASS") else "❌"
    assert f"**{icon} {verdict.group(1)}**" in summary
    for endpoint in run.endpoints:
        assert f'aria-label="{endpoint}"' in html
    assert 'aria-label="Requests per minute"' in html


def test_report_says_storage_is_not_attached(
    smoke_run: Path, tmp_path: Path
) -> None:
    """A run without storage says so instead of showing empty figures."""
    run_dir = _copy(smoke_run, tmp_path)

    html = write_report(run_dir).read_text()

    assert f"<td>storage</td><td>{NO_STORAGE}</td>" in html
    assert "storage writes" not in html


def test_real_run_against_itself_as_baseline(
    smoke_run: Path, tmp_path: Path
) -> None:
    """Against itself, the report finds no regression and shows every
    deterministic figure unchanged."""
    run_dir = _copy(smoke_run, tmp_path)

    html = write_report(run_dir, smoke_run).read_text()

    assert "<h2>Against the baseline</h2>" in html
    assert "REGRESSION" not in html
    assert "CHANGED" not in html
    assert "<td>kpis.orders_created</td>" in html
    assert (run_dir / HTML).is_file()
