"""A headless load run, with Locust as a library.

:func:`run_load` prepares the city, scrapes the service's metrics,
runs :class:`~simulator.load.locustfile.CityUser` under the
:class:`~simulator.load.locustfile.CompressedDayShape` on a local
runner, scrapes again, and hands back every send. Importing this module
imports Locust, which monkey-patches the process with gevent: only
``barq load`` does, inside the command.
"""

from __future__ import annotations

import logging
import sys
import time
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gevent import monkey

with warnings.catch_warnings():
    # ssl was imported before the patching (the engine's HTTP clients
    # import it); a load run uses neither those clients nor their
    # connections, and Locust's own client takes gevent's ssl.
    warnings.simplefilter("ignore", monkey.MonkeyPatchWarning)
    import locust

import gevent
import numpy as np
from locust.env import Environment

from engine.metrics.scrape import read_exposition
from simulator.load import locustfile
from simulator.load.schedule import LATE_AFTER_S

if TYPE_CHECKING:
    from simulator.load.locustfile import Load
    from simulator.load.results import Scrape
    from simulator.load.settings import LoadSettings
    from simulator.load.traffic import CallSource
    from simulator.scenario import Scenario

log = logging.getLogger(__name__)

SCRAPE_TIMEOUT_S = 5.0
"""How long a ``/metrics`` scrape may take."""

PROGRESS_EVERY_S = 1.0
"""How often progress is shown."""


@dataclass(frozen=True)
class LoadRun:
    """A finished load run: its sends, and the service's metrics before
    and after (``None`` where ``/metrics`` could not be read)."""

    load: Load
    wall_s: float
    missed: int
    """Arrivals of the schedule that no user took before the end."""
    scrapes: tuple[Scrape, Scrape] | None

    def summary(self) -> dict[str, object]:
        """The run's ``load`` section of ``results.json``."""
        load = self.load
        record = load.record
        return {
            "target": load.settings.target,
            "users": load.settings.users,
            "duration_s": load.settings.duration_s,
            "peak_rate": load.day.peak_rate,
            "expected": load.day.expected,
            "compression": load.day.compression,
            "sent": record.sent,
            "late": record.late,
            "late_after_s": LATE_AFTER_S,
            "late_share": record.late / record.sent if record.sent else 0.0,
            "skipped": record.skipped,
            "missed": self.missed,
        }


def run_load(
    settings: LoadSettings,
    scenario: Scenario,
    progress: bool = False,
    calls: CallSource | None = None,
) -> LoadRun:
    """Send the scenario's city (or ``calls``) to ``settings.target`` for
    ``settings.duration_s`` seconds, showing progress on stderr."""
    load = locustfile.prepare(settings, scenario, calls=calls)
    locustfile.configure(load)
    before = scrape(settings.target)

    environment = Environment(
        user_classes=[locustfile.CityUser],
        shape_class=locustfile.CompressedDayShape(),
        host=settings.target,
        events=locust.events,
        stop_timeout=locustfile.STOP_TIMEOUT_S,
    )
    runner = environment.create_local_runner()
    began = time.perf_counter()
    log.info(
        "load run against %s: %d users, %.0f s, peak %.1f req/s",
        settings.target,
        settings.users,
        settings.duration_s,
        load.day.peak_rate,
    )
    runner.start_shape()
    shape = runner.shape_greenlet
    watcher = gevent.spawn(_show_progress, load) if progress else None
    if shape is not None:
        shape.join()
    runner.quit()
    wall_s = time.perf_counter() - began
    if watcher is not None:
        watcher.kill()
        sys.stderr.write("\n")

    after = scrape(settings.target)
    scrapes = (before, after) if before and after else None
    return LoadRun(load, wall_s, load.schedule.missed(), scrapes)


def scrape(target: str) -> Scrape | None:
    """The service's ``/metrics``, read; ``None`` (with a warning) where
    it does not answer in the Prometheus text format."""
    url = f"{target}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as answer:
            text = answer.read().decode("utf-8")
        return read_exposition(text)
    except (OSError, ValueError) as error:
        log.warning("no metrics from %s: %s", url, error)
        return None


def _show_progress(load: Load) -> None:
    duration = load.settings.duration_s
    # Rewritten in place on a terminal, a line each time elsewhere.
    end = "\r" if sys.stderr.isatty() else "\n"
    while True:
        gevent.sleep(PROGRESS_EVERY_S)
        now = load.schedule.now()
        record = load.record
        recent = record.samples[-2000:]
        p95 = (
            f"{1e3 * np.percentile([s[2] + s[3] for s in recent], 95):.1f} ms"
            if recent
            else "-"
        )
        sys.stderr.write(
            f"{end}{min(now, duration):.0f}/{duration:.0f} s, "
            f"{record.sent} sent, "
            f"{load.day.rate(now):.0f} req/s scheduled, "
            f"p95 {p95}, {record.late} late   "
        )
        sys.stderr.flush()
