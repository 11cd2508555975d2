"""The run report: ``report.html`` and ``summary.md`` in a run directory.

``barq report RUN_DIR [--baseline DIR]`` runs :func:`report_command`;
``barq simulate`` and ``barq load`` call :func:`write_report` when they
finish. The page opens with a verdict and the targets against the
actuals, then plots over simulated time (fault windows shaded), latency
distributions per endpoint, business figures, and the scenario and run
metadata. With a baseline, each figure stands beside the baseline's and
the gate's comparison (with its default settings) gives the change, its
interval and the verdict.

Every number comes from ``results.json`` or the raw samples; see
:mod:`simulator.report.content`.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from simulator.errors import InputError
from simulator.report.content import build_content
from simulator.report.figures import latency_distribution, time_series
from simulator.report.render import html_page, markdown_summary
from simulator.runs import load_run

__all__ = ["HTML", "SUMMARY", "report_command", "write_report"]

log = logging.getLogger(__name__)

HTML = "report.html"
SUMMARY = "summary.md"

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def write_report(run_dir: Path, baseline: Path | None = None) -> Path:
    """Write ``report.html`` and ``summary.md`` into ``run_dir``.

    Returns the path of ``report.html``.

    Raises
    ------
    InputError
        When either run directory cannot be read, or the baseline is of
        another scenario.
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir)
    base = load_run(Path(baseline)) if baseline is not None else None

    content = build_content(run, base)
    time_plots = time_series(run, base)
    latency_plots = {
        name: latency_distribution(run, name, base) for name in run.endpoints
    }

    page = run_dir / HTML
    page.write_text(
        html_page(content, time_plots, latency_plots), encoding="utf-8"
    )
    (run_dir / SUMMARY).write_text(markdown_summary(content), encoding="utf-8")
    log.info("report written to %s: %s", page, content.verdict)
    return page


def report_command(run_dir: Path, baseline: Path | None) -> int:
    """Write the report, print where and its verdict; the exit code.

    0 once written, whatever the verdict (judging is the gate's work),
    2 on bad input.
    """
    try:
        page = write_report(run_dir, baseline)
    except InputError as error:
        sys.stderr.write(f"barq report: error: {error}\n")
        return EXIT_BAD_INPUT

    verdict = (page.parent / SUMMARY).read_text(encoding="utf-8")
    first = next(
        (line for line in verdict.splitlines() if line.startswith("**")), ""
    )
    sys.stdout.write(
        f"{first.strip('*')}\nreport: {page}\n"
        f"summary: {page.parent / SUMMARY}\n"
    )
    return EXIT_OK
