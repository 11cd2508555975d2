"""Engine (RED): rate, errors and duration per endpoint, the SLO burn
against the latency target, in-flight requests, worker saturation and
the solver."""

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

UID = "barq-engine"

TARGET_S = 0.2
"""The latency target the burn rate is measured against: a bucket
boundary of ``barq_request_duration_seconds``."""

OBJECTIVE = 0.95
"""The share of requests that must meet :data:`TARGET_S`."""

REQUESTS = f"rate(barq_request_duration_seconds_count[{WINDOW}])"


def dashboard() -> Dashboard:
    """The Engine (RED) dashboard."""
    budget = round(1 - OBJECTIVE, 6)
    return (
        board(
            "Barq engine (RED)",
            UID,
            "Requests of the engine by endpoint: rate, errors, duration "
            "and the SLO burn, with the workers that serve them and the "
            "solver behind the plans. Live from barq serve or a "
            "simulation, or backfilled from a run directory.",
        )
        .with_panel(
            graph(
                "Request rate",
                "Requests answered per second, by endpoint.",
                "reqps",
                Query(f"sum by (endpoint) ({REQUESTS})", "{{endpoint}}"),
            )
        )
        .with_panel(
            graph(
                "Error ratio",
                "Share of requests that ended with outcome error, by "
                "endpoint. Orange from 1%, red from 5%.",
                "percentunit",
                Query(
                    "sum by (endpoint) (rate(barq_request_errors_total"
                    f"[{WINDOW}])) / sum by (endpoint) ({REQUESTS})",
                    "{{endpoint}}",
                ),
                thresholds=steps(GREEN, (0.01, ORANGE), (0.05, RED)),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Duration p50, p95, p99",
                "Time from arrival to answer, queueing included, by "
                "endpoint, estimated from the histogram buckets. Orange "
                "from the 200 ms target, red from 500 ms.",
                "s",
                quantile("barq_request_duration_seconds", 0.5, "endpoint"),
                quantile("barq_request_duration_seconds", 0.95, "endpoint"),
                quantile("barq_request_duration_seconds", 0.99, "endpoint"),
                thresholds=steps(GREEN, (0.2, ORANGE), (0.5, RED)),
            )
        )
        .with_panel(
            graph(
                "SLO burn rate (200 ms for 95%)",
                "How fast the error budget of the latency objective "
                f"({OBJECTIVE:.0%} of requests within {TARGET_S * 1e3:.0f} "
                "ms) is spent: the share of slower requests over the "
                f"{budget:.0%} allowed. 1 spends the budget exactly; "
                "red from 14.4, the fast-burn alert level.",
                "x",
                Query(
                    "(1 - sum by (endpoint) (rate("
                    f'barq_request_duration_seconds_bucket{{le="{TARGET_S}"}}'
                    f"[{WINDOW}])) / sum by (endpoint) ({REQUESTS})) "
                    f"/ {budget}",
                    "{{endpoint}}",
                ),
                thresholds=steps(GREEN, (1, ORANGE), (14.4, RED)),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Requests in flight",
                "Requests arrived and not answered yet: waiting for a "
                "worker or being served.",
                "short",
                Query("sum(barq_requests_in_flight)", "in flight"),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Worker saturation",
                "Busy workers over all workers. Orange from 70%, red "
                "from 90%: beyond that, requests queue.",
                "percentunit",
                Query("sum(barq_workers_busy) / sum(barq_workers)", "busy"),
                thresholds=steps(GREEN, (0.7, ORANGE), (0.9, RED)),
                low=0,
                high=1,
            )
        )
        .with_panel(
            graph(
                "Solver duration p95",
                "Wall time of a solve by the backend whose plan was "
                "served, estimated from the buckets.",
                "s",
                Query(
                    "histogram_quantile(0.95, sum by (backend, le) "
                    f"(rate(barq_solver_duration_seconds_bucket[{WINDOW}])))",
                    "{{backend}}",
                ),
                thresholds=steps(GREEN, (1, ORANGE), (5, RED)),
            )
        )
        .with_panel(
            graph(
                "Solver fallback share",
                "Share of solves whose backend failed and the insertion "
                "heuristic answered. Any is a bug worth a look.",
                "percentunit",
                Query(
                    "sum(rate(barq_solver_fallbacks_total"
                    f"[{WINDOW}])) / sum(rate("
                    f"barq_solver_duration_seconds_count[{WINDOW}]))",
                    "fallback",
                ),
                thresholds=steps(GREEN, (0.001, ORANGE), (0.05, RED)),
                low=0,
            )
        )
    )
