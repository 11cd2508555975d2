"""report.html as a user sees it: rendered by headless Chromium.

Needs the Debian package ``chromium`` (``.ci/run`` installs it where it
is missing); the tests skip without it, and fail instead under
``BARQ_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import io
import shutil
from typing import TYPE_CHECKING

import numpy as np
import pytest
from devtools import chromium, open_page
from matplotlib.image import imread

from simulator.report import write_report
from simulator.report.figures import RUN_COLOUR
from simulator.runs import load_run

if TYPE_CHECKING:
    from pathlib import Path

    from devtools import Visit

QUESTIONS = {
    "verdict": "document.getElementById('verdict').textContent",
    "plots": "document.querySelectorAll('figure.plot svg').length",
    "shown": "Array.from(document.querySelectorAll('figure.plot svg'))"
    ".filter(s => { const r = s.getBoundingClientRect();"
    " return r.width > 200 && r.height > 50; }).length",
    "drawn": "Array.from(document.querySelectorAll('figure.plot svg'))"
    ".filter(s => s.querySelectorAll('path').length > 0).length",
    "tables": "document.querySelectorAll('table').length",
}
"""What the tests ask the loaded page."""


@pytest.fixture(scope="module")
def browser() -> str:
    """The Chromium executable; skips where there is none."""
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return executable


def _run_colour_pixels(png: bytes) -> int:
    """Pixels of the screenshot in the colour of this run's lines."""
    image = imread(io.BytesIO(png), format="png")[..., :3]
    colour = np.array(
        [int(RUN_COLOUR[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    )
    return int((np.abs(image - colour).max(axis=-1) < 0.08).sum())


def test_real_report_renders_without_errors(
    browser: str, smoke_run: Path, tmp_path: Path
) -> None:
    """The report of a real smoke run loads in Chromium with no console
    error, no exception and no request beyond the file itself; every
    plot is laid out at a readable size with drawn paths, the verdict is
    the summary's, and the screenshot shows the run's plot lines."""
    run_dir = shutil.copytree(smoke_run, tmp_path / "run")
    page = write_report(run_dir)
    html = page.read_text()
    url = page.resolve().as_uri()

    visit = open_page(browser, url, tmp_path / "profile", QUESTIONS)

    assert visit.errors == []
    assert visit.failed == []
    assert visit.requests == [url]
    plots = html.count("<svg")
    assert plots >= 1 + len(load_run(run_dir).endpoints)
    assert visit.answers["plots"] == plots
    assert visit.answers["shown"] == plots
    assert visit.answers["drawn"] == plots
    assert visit.answers["tables"] >= 4
    summary = (run_dir / "summary.md").read_text()
    assert f"{visit.answers['verdict']}**" in summary
    assert _run_colour_pixels(visit.screenshot) > 1000


def test_broken_page_is_caught(browser: str, tmp_path: Path) -> None:
    """The same check catches what it looks for: a page with a script
    error, a console error and a request to a server reports all
    three (so the clean report above is clean, not unobserved)."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><body>"
        '<img src="http://127.0.0.1:9/missing.png">'
        "<script>console.error('boom'); undefinedFunction();</script>"
        "</body></html>"
    )

    visit: Visit = open_page(
        browser, page.as_uri(), tmp_path / "profile", {"plots": "0"}
    )

    assert any("boom" in error for error in visit.errors)
    assert any("undefinedFunction" in error for error in visit.errors)
    assert "http://127.0.0.1:9/missing.png" in visit.requests
    assert visit.failed
