"""Tests of report.html and summary.md as files."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
from runfixtures import Shape, write_fixture_run

from simulator.report import HTML, SUMMARY, report_command, write_report

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

TARGETS: dict[str, Any] = {
    "endpoints": {"eta": {"p50": 1.0, "p95": 2.0, "p99": None}},
    "throughput_min": 1.0,
    "cache_hit_ratio_min": 0.5,
    "on_time_ratio_min": 0.9,
    "error_rate_max": 0.05,
    "advisor_fallback_share_max": 0.2,
}
"""Targets that the fixture run meets."""


def _run(path: Path, seed: int = 1, **changes: Any) -> Path:
    shape = Shape(**({"targets": TARGETS} | changes))
    return write_fixture_run(path, np.random.default_rng(seed), shape)


def test_report_files_are_written(tmp_path: Path) -> None:
    """Both files appear in the run directory; the page is returned."""
    run_dir = _run(tmp_path / "run")

    page = write_report(run_dir)

    assert page == run_dir / HTML
    assert page.stat().st_size > 0
    assert (run_dir / SUMMARY).stat().st_size > 0


def test_page_is_self_contained(tmp_path: Path) -> None:
    """The page loads nothing: no script, no external reference; only
    XML namespace names mention a web address."""
    html = write_report(_run(tmp_path / "run")).read_text()

    assert "<script" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", html)
    addresses = set(re.findall(r"https?://[^\s\"'<>]+", html))
    assert addresses <= {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xlink",
        "http://purl.org/dc/elements/1.1/",
        "http://purl.org/dc/dcmitype/StillImage",
        "http://creativecommons.org/ns#",
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "https://matplotlib.org/",
    }


def test_page_shows_plots_and_passing_verdict(tmp_path: Path) -> None:
    """A run meeting its targets opens with PASS and carries the plots:
    six over time, advisor outcomes, and one distribution per endpoint."""
    html = write_report(_run(tmp_path / "run")).read_text()

    verdict = re.search(r'id="verdict">([^<]*)<', html)
    assert verdict is not None
    assert verdict.group(1).startswith("PASS: all 7 targets met")
    assert html.count("<svg") == 6 + 1 + 2
    for title in ("Requests per minute", "Cache hit ratio", "Active orders"):
        assert f'aria-label="{title}"' in html
    assert "fault: llm_slow" in html


def test_missed_target_fails_the_verdict(tmp_path: Path) -> None:
    """A missed target makes the verdict FAIL and marks its row."""
    targets = TARGETS | {"on_time_ratio_min": 0.99}
    run_dir = _run(tmp_path / "run", targets=targets)

    html = write_report(run_dir).read_text()
    summary = (run_dir / SUMMARY).read_text()

    assert 'class="verdict fail"' in html
    assert "FAIL: 1 of 7 targets missed" in html
    assert "| on-time ratio | ≥ 99.0% | 93.0% | FAIL |" in summary


def test_actuals_are_the_results_figures(tmp_path: Path) -> None:
    """The actual shown for a target is results.json's figure."""
    run_dir = _run(tmp_path / "run")
    results = json.loads((run_dir / "results.json").read_text())
    p95 = results["endpoints"]["eta"]["p95"]

    write_report(run_dir)
    summary = (run_dir / SUMMARY).read_text()

    assert f"| eta p95 | ≤ 2 s | {p95 * 1000:.1f} ms | pass |" in summary


def test_summary_is_short(tmp_path: Path) -> None:
    """summary.md fits a CI job summary: a verdict and a few tables."""
    run_dir = _run(tmp_path / "run")

    write_report(run_dir)
    summary = (run_dir / SUMMARY).read_text()

    assert summary.startswith("## Barq run report: fixture-city\n")
    assert "**✅ PASS" in summary
    assert len(summary.splitlines()) < 60
    assert "<svg" not in summary


def test_baseline_comparison(tmp_path: Path) -> None:
    """With a baseline, figures stand beside the baseline's, and a slower
    candidate shows its regressions with change and interval."""
    base = _run(tmp_path / "base", seed=1)
    slow = _run(tmp_path / "slow", seed=2, service_scale=1.5)

    html = write_report(slow, base).read_text()
    summary = (slow / SUMMARY).read_text()

    assert "<h2>Against the baseline</h2>" in html
    assert "eta (baseline)" in html
    assert "REGRESSION" in html
    assert "regressions against the baseline" in summary
    row = next(
        line
        for line in summary.splitlines()
        if line.startswith("| endpoints.eta.p50 |")
    )
    assert re.search(r"\| \+\d+\.\d% \| \+\d+\.\d% to \+\d+\.\d% \|", row)


def test_replicated_run_shows_intervals(tmp_path: Path) -> None:
    """A run with replications shows its means with 95% intervals."""
    run_dir = write_fixture_run(
        tmp_path / "reps",
        np.random.default_rng(3),
        Shape(targets=TARGETS),
        replications=(1, 2, 3),
    )

    write_report(run_dir)
    summary = (run_dir / SUMMARY).read_text()

    row = next(line for line in summary.splitlines() if "| eta p95 |" in line)
    assert re.search(r"ms \[[\d.]+ ms, [\d.]+ ms\]", row)


def test_report_is_repeatable(tmp_path: Path) -> None:
    """The same run gives the same page, byte for byte."""
    run_dir = _run(tmp_path / "run")

    first = write_report(run_dir).read_bytes()
    second = write_report(run_dir).read_bytes()

    assert first == second


def test_report_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command prints the verdict and paths and exits 0; a missing
    run directory exits 2 naming it."""
    run_dir = _run(tmp_path / "run")

    assert report_command(run_dir, None) == 0
    out = capsys.readouterr().out
    assert out.startswith("✅ PASS")
    assert str(run_dir / HTML) in out

    assert report_command(tmp_path / "absent", None) == 2
    assert "absent" in capsys.readouterr().err
