"""A run's figures, computed once from its raw record.

:func:`summarize` turns the samples, orders and events of one run into the
``results.json`` document (schema ``barq.results/1``, laid out in
docs/metrics.md), and :func:`timeseries` into one row per simulated
minute. Percentiles are exact: numpy's default linear interpolation over
every raw sample, never an estimate from buckets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy.typing as npt

    from engine.cache import LayerStats
    from engine.storage import WriterStats
    from simulator.recorder import Recorder

SCHEMA = "barq.results/1"
"""The version of the ``results.json`` layout."""

ADVISOR_OUTCOMES = (
    "cache_hit",
    "ok",
    "timeout",
    "error",
    "rejected",
    "breaker_open",
)
"""Every way an advisor call can end, in the order reports show them."""

FALLBACK_OUTCOMES = ("timeout", "error", "rejected", "breaker_open")
"""Outcomes whose answer was the heuristic's, not the advisor's."""

ORDER_COLUMNS = (
    "order_id",
    "created_s",
    "assigned_s",
    "picked_s",
    "delivered_s",
    "cancelled_s",
    "due_s",
    "on_time",
)
"""Columns of ``orders.parquet``."""


def latency_figures(seconds: npt.ArrayLike, errors: int = 0) -> dict[str, Any]:
    """Count, errors, mean, p50, p95, p99 and max of latency samples."""
    values = np.asarray(seconds, dtype=np.float64)
    if values.size == 0:
        return {
            "count": 0,
            "errors": errors,
            "mean": None,
            "p50": None,
            "p95": None,
            "p99": None,
            "max": None,
        }
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "count": int(values.size),
        "errors": errors,
        "mean": float(values.mean()),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "max": float(values.max()),
    }


def endpoint_figures(samples: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Latency figures per endpoint, in seconds."""
    figures = {}
    for endpoint, group in samples.groupby("endpoint", observed=True):
        errors = int((group["outcome"] == "error").sum())
        figures[str(endpoint)] = latency_figures(
            group["latency_s"].to_numpy(), errors
        )
    return dict(sorted(figures.items()))


def throughput(samples: pd.DataFrame, simulated_s: float) -> dict[str, Any]:
    """Requests per simulated second: the mean over the run, and the peak
    over its whole one-minute windows (a run shorter than a minute is
    one window)."""
    if samples.empty or simulated_s <= 0:
        return {"mean": 0.0, "peak": 0.0}
    mean = float(len(samples) / simulated_s)
    whole = int(simulated_s // 60)
    if whole == 0:
        return {"mean": mean, "peak": mean}
    minutes = (samples["arrival_s"].to_numpy() // 60).astype(np.int64)
    per_minute = np.bincount(minutes, minlength=whole)[:whole]
    return {"mean": mean, "peak": float(per_minute.max() / 60.0)}


def cache_figures(
    layers: Mapping[str, LayerStats], evictions: Mapping[str, int]
) -> dict[str, dict[str, Any]]:
    """Hits, misses, hit ratio, evictions and bytes per cache layer."""
    return {
        name: {
            "hits": stats.hits + stats.shared,
            "misses": stats.misses,
            "hit_ratio": stats.hit_ratio,
            "evictions": evictions.get(name, stats.evictions),
            "bytes": stats.bytes,
            "entries": stats.entries,
            "errors": stats.errors,
            "degraded_events": stats.degraded_events,
        }
        for name, stats in layers.items()
    }


def advisor_figures(
    events: Sequence[tuple[float, str, str, float]],
) -> dict[str, Any]:
    """Advisor calls by outcome, the share answered by the fallback, and
    the latency of the calls that reached the provider (all but cache
    hits and calls the open breaker stopped)."""
    outcomes = dict.fromkeys(ADVISOR_OUTCOMES, 0)
    latencies = []
    for _, _, outcome, latency in events:
        outcomes[outcome] += 1
        if outcome not in ("cache_hit", "breaker_open"):
            latencies.append(latency)
    calls = sum(outcomes.values())
    fallbacks = sum(outcomes[name] for name in FALLBACK_OUTCOMES)
    figures = latency_figures(latencies)
    return {
        "calls": calls,
        "outcomes": outcomes,
        "fallback_share": fallbacks / calls if calls else 0.0,
        "latency": {key: figures[key] for key in ("p50", "p95", "p99")},
    }


def storage_figures(stats: WriterStats | None) -> dict[str, Any] | None:
    """Rows written, batches, the seconds of a batch write (p50, p95,
    p99, max), failed writes (each retried: ``errors``) and saves refused
    with a full buffer (``rejected``); None for a run without
    storage."""
    if stats is None:
        return None
    figures = latency_figures(stats.durations)
    return {
        "writes": stats.written,
        "batches": stats.batches,
        "query": {key: figures[key] for key in ("p50", "p95", "p99", "max")},
        "errors": stats.retries,
        "rejected": stats.rejected,
    }


def order_table(recorder_orders: pd.DataFrame) -> pd.DataFrame:
    """``orders.parquet`` with the on-time flag of each delivered order."""
    table = recorder_orders.copy()
    on_time = (table["delivered_s"] <= table["due_s"]).astype("boolean")
    table["on_time"] = on_time.where(table["delivered_s"].notna())
    return table[list(ORDER_COLUMNS)]


def kpis(
    orders: pd.DataFrame, busy_s: float, shift_s: float
) -> dict[str, Any]:
    """The business figures: orders by fate, on-time ratio, delivery
    minutes from placement, and driver utilization (busy over shift)."""
    delivered = orders["delivered_s"].notna()
    cancelled = orders["cancelled_s"].notna()
    minutes = (
        (
            orders.loc[delivered, "delivered_s"]
            - orders.loc[delivered, "created_s"]
        )
        / 60.0
    ).to_numpy()
    on_time = orders.loc[delivered, "on_time"].astype(bool)
    return {
        "orders_created": len(orders),
        "orders_delivered": int(delivered.sum()),
        "orders_cancelled": int(cancelled.sum()),
        "orders_open": int((~delivered & ~cancelled).sum()),
        "on_time_ratio": float(on_time.mean()) if len(on_time) else None,
        "delivery_minutes": {
            "p50": float(np.percentile(minutes, 50)) if minutes.size else None,
            "p90": float(np.percentile(minutes, 90)) if minutes.size else None,
        },
        "driver_utilization": busy_s / shift_s if shift_s > 0 else None,
    }


def timeseries(
    samples: pd.DataFrame, recorder: Recorder, simulated_s: float
) -> pd.DataFrame:
    """One row per simulated minute: requests, p95 latency, cache hit
    ratio, active orders and drivers, advisor outcomes and fallback
    share."""
    count = max(int(np.ceil(simulated_s / 60.0)), 1)
    frame = pd.DataFrame({"minute_s": np.arange(count) * 60.0})
    minute = (samples["arrival_s"].to_numpy() // 60).astype(np.int64)
    frame["requests"] = np.bincount(minute, minlength=count)[:count]
    p95 = (
        pd.Series(samples["latency_s"].to_numpy())
        .groupby(minute)
        .quantile(0.95)
    )
    frame["p95_s"] = p95.reindex(range(count)).to_numpy()

    hits = np.zeros(count)
    lookups = np.zeros(count)
    for (index, _, result), n in recorder.cache_lookups.items():
        if index < count:
            lookups[index] += n
            if result in ("hit", "shared"):
                hits[index] += n
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["cache_hit_ratio"] = np.where(
            lookups > 0, hits / lookups, np.nan
        )

    snapshots = np.array(recorder.snapshots or [(0.0, 0, 0)], dtype=float)
    at = np.minimum((snapshots[:, 0] // 60).astype(np.int64), count - 1)
    frame["active_orders"] = _last_per_minute(at, snapshots[:, 1], count)
    frame["active_drivers"] = _last_per_minute(at, snapshots[:, 2], count)

    counts = {
        name: np.zeros(count, dtype=np.int64) for name in ADVISOR_OUTCOMES
    }
    for when, _, outcome, _ in recorder.advisor_events:
        index = min(int(when // 60), count - 1)
        counts[outcome][index] += 1
    calls = sum(counts.values())
    fallbacks = sum(counts[name] for name in FALLBACK_OUTCOMES)
    for name in ADVISOR_OUTCOMES:
        frame[f"advisor_{name}"] = counts[name]
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["advisor_fallback_share"] = np.where(
            calls > 0, fallbacks / np.maximum(calls, 1), np.nan
        )
    return frame


def _last_per_minute(
    minutes: np.ndarray[Any, Any], values: np.ndarray[Any, Any], count: int
) -> np.ndarray[Any, Any]:
    series = pd.Series(values).groupby(minutes).last()
    return series.reindex(range(count)).ffill().fillna(0).to_numpy()
