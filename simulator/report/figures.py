"""The report's plots, drawn with matplotlib as inline SVG.

Figures are built on :class:`matplotlib.figure.Figure` directly, never
through pyplot, so no global state or window backend is involved and the
Agg canvas serves; the SVG is written with a fixed hash salt and no date,
so the same run gives the same page.
"""

from __future__ import annotations

import io
import logging
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import pandas as pd
    from matplotlib.axes import Axes

    from simulator.runs import Run

log = logging.getLogger(__name__)

RUN_COLOUR = "#1f5fa8"
BASELINE_COLOUR = "#9a9a9a"
FAULT_COLOUR = "#f2b8b5"
OUTCOME_COLOURS = {
    "cache_hit": "#4c9f70",
    "ok": "#1f5fa8",
    "timeout": "#e0a030",
    "error": "#c0392b",
    "rejected": "#8e44ad",
    "breaker_open": "#555555",
}


def _style() -> AbstractContextManager[None]:
    """Matplotlib settings for every plot, applied only while drawing."""
    return mpl.rc_context(
        {
            "svg.hashsalt": "barq-report",
            "svg.fonttype": "none",
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )


def to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element, without the XML prologue."""
    buffer = io.StringIO()
    with _style():
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def time_series(run: Run, baseline: Run | None) -> dict[str, str]:
    """Plots over simulated time, by title; fault windows are shaded.

    From ``timeseries.parquet`` where the run has one; otherwise requests
    and p95 per minute from the raw samples, and nothing else. A run with
    replications and no series of its own shows its first replication.
    """
    series = _series(run)
    base = _series(baseline) if baseline is not None else None
    plots: dict[str, str] = {}

    panels = (
        ("Requests per minute", "requests", "requests"),
        ("Latency p95 per minute", "p95_s", "seconds"),
        ("Cache hit ratio", "cache_hit_ratio", "ratio"),
        ("Active orders", "active_orders", "orders"),
        ("Active drivers", "active_drivers", "drivers"),
        ("Advisor fallback share", "advisor_fallback_share", "share"),
    )
    for title, column, unit in panels:
        if column not in series.columns:
            continue
        figure, axes = _panel(title, unit)
        if base is not None and column in base.columns:
            axes.plot(
                base["minute_s"] / 3600,
                base[column],
                color=BASELINE_COLOUR,
                linestyle="--",
                label="baseline",
            )
        axes.plot(
            series["minute_s"] / 3600,
            series[column],
            color=RUN_COLOUR,
            label="this run",
        )
        _shade_faults(axes, run)
        if base is not None or run.faults:
            _legend(axes)
        plots[title] = to_svg(figure)

    outcomes = [c for c in series.columns if str(c).startswith("advisor_")]
    outcomes = [c for c in outcomes if c != "advisor_fallback_share"]
    if outcomes:
        plots["Advisor outcomes per minute"] = _advisor(run, series, outcomes)
    return plots


def latency_distribution(run: Run, endpoint: str, baseline: Run | None) -> str:
    """The empirical distribution of one endpoint's latency, log scale,
    with the run's p50, p95 and p99 from ``results.json`` marked."""
    figure, axes = _panel(f"{endpoint}: latency distribution", "share")
    axes.set_xscale("log")
    axes.set_xlabel("latency (seconds, log scale)")

    if baseline is not None and endpoint in baseline.endpoints:
        _ecdf(axes, baseline.samples, endpoint, BASELINE_COLOUR, "baseline")
    _ecdf(axes, run.samples, endpoint, RUN_COLOUR, "this run")
    for q in ("p50", "p95", "p99"):
        value = run.figure("endpoints", endpoint, q)
        if value is not None and value > 0:
            axes.axvline(value, color=RUN_COLOUR, linewidth=0.6, alpha=0.6)
            axes.annotate(
                q,
                (value, 0.02),
                fontsize=7,
                color=RUN_COLOUR,
                rotation=90,
                ha="right",
            )
    _legend(axes)
    return to_svg(figure)


def _panel(title: str, unit: str) -> tuple[Figure, Axes]:
    with _style():
        figure = Figure(figsize=(7.5, 2.2))
        figure.subplots_adjust(left=0.09, right=0.78, bottom=0.24, top=0.86)
        axes = figure.add_subplot()
    axes.set_title(title, loc="left", fontsize=10)
    axes.set_ylabel(unit)
    axes.set_xlabel("simulated hours")
    return figure, axes


def _legend(axes: Axes) -> None:
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)


def _shade_faults(axes: Axes, run: Run) -> None:
    for index, (kind, start, end) in enumerate(run.faults):
        axes.axvspan(
            start / 3600,
            end / 3600,
            color=FAULT_COLOUR,
            alpha=0.5,
            linewidth=0,
            label=f"fault: {kind}" if index == 0 else None,
        )


def _advisor(run: Run, series: pd.DataFrame, columns: list[str]) -> str:
    figure, axes = _panel("Advisor outcomes per minute", "calls")
    hours = series["minute_s"].to_numpy(dtype=float) / 3600
    counts = [series[c].fillna(0).to_numpy(dtype=float) for c in columns]
    labels = [c.removeprefix("advisor_") for c in columns]
    colours = [OUTCOME_COLOURS.get(label, "#777777") for label in labels]
    axes.stackplot(hours, counts, labels=labels, colors=colours)
    _shade_faults(axes, run)
    _legend(axes)
    return to_svg(figure)


def _ecdf(
    axes: Axes, samples: pd.DataFrame, endpoint: str, colour: str, label: str
) -> None:
    latency = np.sort(
        samples.loc[samples["endpoint"] == endpoint, "latency_s"].to_numpy(
            dtype=float
        )
    )
    latency = latency[latency > 0]
    if len(latency) == 0:
        return
    share = np.arange(1, len(latency) + 1) / len(latency)
    linestyle = "--" if label == "baseline" else "-"
    axes.step(
        latency,
        share,
        where="post",
        color=colour,
        label=label,
        linestyle=linestyle,
    )


def _series(run: Run) -> pd.DataFrame:
    if run.timeseries is None and run.replications:
        run = run.replications[0]
    if run.timeseries is not None:
        return run.timeseries
    return _from_samples(run)


def _from_samples(run: Run) -> pd.DataFrame:
    """Requests and p95 per simulated minute, from the raw samples."""
    samples = run.samples
    minute = (samples["arrival_s"] // 60) * 60.0
    grouped = samples.groupby(minute)["latency_s"]
    frame = grouped.size().rename("requests").to_frame()
    frame["p95_s"] = grouped.quantile(0.95)
    return frame.rename_axis("minute_s").reset_index()
