"""A load run's directory, in the simulation's format.

:func:`write_load_run` writes ``results.json`` (schema
``barq.results/1``, the simulation's top-level keys) and
``samples.parquet``, so that ``barq report`` and ``barq gate`` read a
load run as they read a simulation. Endpoint figures and throughput come
from the raw samples through the simulation's own functions; time is
wall time, so ``run.simulated_s`` is the run's planned length and
throughput is requests per wall second.

Caches, the advisor and storage are read from the service's
``/metrics``, scraped before and after the run: counters as their
difference, sizes as at the end. Without a scrape ``caches`` is empty,
every advisor figure null and ``storage`` null (as it is for a service
without storage). The advisor's latency and storage's query percentiles
are null too, since a scrape holds only histogram buckets and every
percentile here is exact. Business
figures (``kpis``) are null: a load run moves no driver.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from engine.metrics.scrape import Series
from simulator.results import (
    ADVISOR_OUTCOMES,
    FALLBACK_OUTCOMES,
    endpoint_figures,
    throughput,
)
from simulator.run import identity

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

    import pandas as pd

    from simulator.scenario import Scenario

Scrape = dict[Series, float]
"""A ``/metrics`` scrape read back: one number per series."""

NO_KPIS: dict[str, Any] = {
    "orders_created": None,
    "orders_delivered": None,
    "orders_cancelled": None,
    "orders_open": None,
    "on_time_ratio": None,
    "delivery_minutes": {"p50": None, "p90": None},
    "driver_utilization": None,
}
"""The business figures of a run that moves no driver."""


def write_load_run(
    out: Path,
    scenario: Scenario,
    seed: int,
    samples: pd.DataFrame,
    load: dict[str, Any],
    started: datetime,
    wall_s: float,
    scrapes: tuple[Scrape, Scrape] | None,
) -> dict[str, Any]:
    """Write ``results.json`` and ``samples.parquet`` into ``out``.

    ``load`` describes the run (target, users, rate, late sends...) and
    is kept under its own key; ``scrapes`` are the service's metrics
    before and after the run, if they could be read.
    """
    out.mkdir(parents=True, exist_ok=True)
    samples.to_parquet(out / "samples.parquet", index=False)

    duration_s = float(load["duration_s"])
    header = identity(scenario, seed, started, wall_s, duration_s)
    results: dict[str, Any] = {
        **header,
        "run": {"mode": "load", **header["run"]},
        "endpoints": endpoint_figures(samples),
        "throughput": throughput(samples, duration_s),
        "caches": cache_figures(*scrapes) if scrapes else {},
        "advisor": advisor_figures(*scrapes) if scrapes else NO_ADVISOR,
        "storage": storage_figures(*scrapes) if scrapes else None,
        "kpis": NO_KPIS,
        "targets": scenario.targets.model_dump(mode="json"),
        "faults": [],
        "load": load,
    }
    (out / "results.json").write_text(
        json.dumps(results, indent=2, allow_nan=False) + "\n"
    )
    return results


NO_ADVISOR: dict[str, Any] = {
    "calls": None,
    "outcomes": {},
    "fallback_share": None,
    "latency": {"p50": None, "p95": None, "p99": None},
}
"""The advisor figures of a run whose service could not be scraped."""


def cache_figures(before: Scrape, after: Scrape) -> dict[str, Any]:
    """Per cache layer the look-ups, evictions and errors during the run,
    and the bytes and entries held at its end."""
    scrapes = (before, after)
    layers = sorted(
        dict(labels)["layer"]
        for name, labels in after
        if name == "barq_cache_lookups_total" and dict(labels).get("layer")
    )
    figures = {}
    for layer in dict.fromkeys(layers):
        lookups = "barq_cache_lookups_total"
        hits = _counted(scrapes, lookups, layer=layer, result="hit")
        hits += _counted(scrapes, lookups, layer=layer, result="shared")
        misses = _counted(scrapes, lookups, layer=layer, result="miss")
        held = {
            key: round(_total(after, name, layer=layer))
            for key, name in (
                ("bytes", "barq_cache_size_bytes"),
                ("entries", "barq_cache_entries"),
            )
        }
        figures[layer] = {
            "hits": hits,
            "misses": misses,
            "hit_ratio": hits / (hits + misses) if hits + misses else None,
            "evictions": _counted(
                scrapes, "barq_cache_evictions_total", layer=layer
            ),
            **held,
            "errors": _counted(
                scrapes, "barq_cache_errors_total", layer=layer
            ),
            "degraded_events": None,
        }
    return figures


def advisor_figures(before: Scrape, after: Scrape) -> dict[str, Any]:
    """Advisor calls during the run by outcome, and the share the
    heuristic answered; latency percentiles are null (see the module)."""
    outcomes = {
        outcome: _counted(
            (before, after), "barq_advisor_calls_total", outcome=outcome
        )
        for outcome in ADVISOR_OUTCOMES
    }
    calls = sum(outcomes.values())
    fallbacks = sum(outcomes[name] for name in FALLBACK_OUTCOMES)
    return {
        "calls": calls,
        "outcomes": outcomes,
        "fallback_share": fallbacks / calls if calls else 0.0,
        "latency": dict(NO_ADVISOR["latency"]),
    }


def storage_figures(before: Scrape, after: Scrape) -> dict[str, Any] | None:
    """Rows written, timed statements and batches, failed statements and
    refused records during the run; None where the service exposes no
    storage metrics (it stores nothing)."""
    if not any(name.startswith("barq_storage_") for name, _ in after):
        return None
    scrapes = (before, after)
    return {
        "writes": _counted(scrapes, "barq_storage_rows_written_total"),
        "batches": _counted(
            scrapes, "barq_storage_query_duration_seconds_count"
        ),
        "query": {"p50": None, "p95": None, "p99": None, "max": None},
        "errors": _counted(scrapes, "barq_storage_errors_total"),
        "rejected": _counted(scrapes, "barq_storage_rejected_total"),
    }


def _counted(scrapes: tuple[Scrape, Scrape], name: str, **match: str) -> int:
    """How much the counters named ``name`` whose labels include
    ``match`` grew between two scrapes."""
    before, after = scrapes
    return round(_total(after, name, **match) - _total(before, name, **match))


def _total(scrape: Scrape, name: str, **match: str) -> float:
    """The sum of the series named ``name`` whose labels include
    ``match``."""
    return sum(
        value
        for (series, labels), value in scrape.items()
        if series == name and match.items() <= dict(labels).items()
    )
