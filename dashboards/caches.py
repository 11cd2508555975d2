"""Caches and advisor: hit ratio per layer, evictions and bytes; the
advisor's outcomes, latency, breaker state and fallback share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    WINDOW,
    Query,
    board,
    graph,
    quantile,
    steps,
)

if TYPE_CHECKING:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

UID = "barq-caches"

FALLBACKS = "timeout|error|rejected|breaker_open"
"""Advisor outcomes answered by the heuristic."""


def dashboard() -> Dashboard:
    """The Caches and advisor dashboard."""
    return (
        board(
            "Barq caches and advisor",
            UID,
            "The four cache layers (routes, matrices, advice, reference) "
            "and the LLM fleet advisor behind its breaker.",
        )
        .with_panel(
            graph(
                "Cache hit ratio",
                "Look-ups that computed nothing (hits, and waits for "
                "another thread's computation) over all look-ups, by "
                "layer. Red below 50%, orange below 80%.",
                "percentunit",
                Query(
                    "sum by (layer) (rate(barq_cache_lookups_total"
                    f'{{result=~"hit|shared"}}[{WINDOW}])) / sum by '
                    f"(layer) (rate(barq_cache_lookups_total[{WINDOW}]))",
                    "{{layer}}",
                ),
                thresholds=steps(RED, (0.5, ORANGE), (0.8, GREEN)),
                low=0,
                high=1,
            )
        )
        .with_panel(
            graph(
                "Look-ups by result",
                "Cache look-ups per second by layer and result.",
                "ops",
                Query(
                    "sum by (layer, result) (rate("
                    f"barq_cache_lookups_total[{WINDOW}]))",
                    "{{layer}} {{result}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Evictions",
                "Entries dropped per second, by layer and reason "
                "(expired, entries, bytes, flush, oversize).",
                "ops",
                Query(
                    "sum by (layer, reason) (rate("
                    f"barq_cache_evictions_total[{WINDOW}]))",
                    "{{layer}} {{reason}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Cache size",
                "Bytes of live values in each layer's backend in use.",
                "bytes",
                Query("sum by (layer) (barq_cache_size_bytes)", "{{layer}}"),
            )
        )
        .with_panel(
            graph(
                "Bytes stored",
                "Bytes of encoded values written to each layer per "
                "second: the write load a shared Redis carries.",
                "Bps",
                Query(
                    "sum by (layer) (rate(barq_cache_stored_bytes_total"
                    f"[{WINDOW}]))",
                    "{{layer}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Cache entries",
                "Live entries in each layer's backend in use.",
                "short",
                Query("sum by (layer) (barq_cache_entries)", "{{layer}}"),
            )
        )
        .with_panel(
            graph(
                "Cache errors and degradation",
                "Failed cache operations per second, and layers serving "
                "from their memory fallback (1) while the shared backend "
                "is down.",
                "short",
                Query(
                    "sum by (layer) (rate(barq_cache_errors_total"
                    f"[{WINDOW}]))",
                    "{{layer}} errors/s",
                ),
                Query(
                    "max by (layer) (barq_cache_degraded)",
                    "{{layer}} degraded",
                ),
                thresholds=steps(GREEN, (1, RED)),
            )
        )
        .with_panel(
            graph(
                "Advisor outcomes",
                "Advisor calls per second by outcome.",
                "ops",
                Query(
                    "sum by (outcome) (rate(barq_advisor_calls_total"
                    f"[{WINDOW}]))",
                    "{{outcome}}",
                ),
            )
        )
        .with_panel(
            graph(
                "Advisor latency",
                "Latency charged to advisor calls (zero for cache hits "
                "and refusals, the timeout for calls that ran out), "
                "estimated from the buckets. Orange from 1 s, red from "
                "2 s, the default timeout.",
                "s",
                quantile("barq_advisor_call_duration_seconds", 0.5),
                quantile("barq_advisor_call_duration_seconds", 0.95),
                quantile("barq_advisor_call_duration_seconds", 0.99),
                thresholds=steps(GREEN, (1, ORANGE), (2, RED)),
            )
        )
        .with_panel(
            graph(
                "Breaker state",
                "1 for the circuit breaker's current state: closed "
                "(calls go through), open (refused), half_open (trial "
                "calls).",
                "short",
                Query(
                    "max by (state) (barq_advisor_breaker_state)", "{{state}}"
                ),
                low=0,
                high=1,
            )
        )
        .with_panel(
            graph(
                "Advisor fallback share",
                "Share of advisor calls answered by the heuristic "
                "(timeout, error, rejected, breaker open). Orange from "
                "10%, red from 50%.",
                "percentunit",
                Query(
                    "sum(rate(barq_advisor_calls_total"
                    f'{{outcome=~"{FALLBACKS}"}}[{WINDOW}])) / '
                    f"sum(rate(barq_advisor_calls_total[{WINDOW}]))",
                    "fallback",
                ),
                thresholds=steps(GREEN, (0.1, ORANGE), (0.5, RED)),
                low=0,
                high=1,
            )
        )
    )
