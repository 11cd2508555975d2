"""Run comparison: a baseline run against a candidate, chosen by the
``baseline`` and ``candidate`` variables on the ``run`` label.

Figures over the whole time range (``$__range``) compare runs whatever
their instants; the time series overlay them where they share the
instants, as backfilled runs of one scenario do with the default start
(yesterday at the scenario's start hour).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    DATASOURCE,
    GREEN,
    ORANGE,
    RED,
    WINDOW,
    Query,
    board,
    figure,
    graph,
    steps,
)

if TYPE_CHECKING:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

UID = "barq-comparison"

RUNS = ("baseline", "candidate")
"""The two variables, each a run label value."""


def _run_variable(name: str) -> dash.QueryVariable:
    return (
        dash.QueryVariable(name)
        .label(name.capitalize())
        .description(f"The {name} run: a value of the run label.")
        .datasource(DATASOURCE)
        .query("label_values(barq_request_duration_seconds_count, run)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_DESC)
    )


def _each(template: str, legend: str) -> tuple[Query, ...]:
    return tuple(
        Query(template.replace("RUN", f'run="${run}"'), f"{run} {legend}")
        for run in RUNS
    )


def dashboard() -> Dashboard:
    """The Run comparison dashboard."""
    built = board(
        "Barq run comparison",
        UID,
        "A baseline run against a candidate: latency, throughput, "
        "caches, the advisor and the business figures, each for both.",
    )
    for run in RUNS:
        built = built.with_variable(_run_variable(run))
    return (
        built.with_panel(
            figure(
                "p95 over the range",
                "p95 request duration by endpoint over the whole time "
                "range, from the buckets. Orange from 200 ms, red from "
                "500 ms.",
                "s",
                *_each(
                    "histogram_quantile(0.95, sum by (endpoint, le) "
                    "(increase(barq_request_duration_seconds_bucket"
                    "{RUN}[$__range])))",
                    "{{endpoint}}",
                ),
                thresholds=steps(GREEN, (0.2, ORANGE), (0.5, RED)),
                width=12,
            )
        )
        .with_panel(
            graph(
                "Request rate",
                "Requests answered per second, all endpoints.",
                "reqps",
                *_each(
                    "sum(rate(barq_request_duration_seconds_count{RUN}"
                    f"[{WINDOW}]))",
                    "",
                ),
            )
        )
        .with_panel(
            figure(
                "Cache hit ratio over the range",
                "Look-ups that computed nothing over all look-ups, by "
                "layer. Red below 50%, orange below 80%.",
                "percentunit",
                *_each(
                    "sum by (layer) (increase(barq_cache_lookups_total"
                    '{RUN,result=~"hit|shared"}[$__range])) / sum by '
                    "(layer) (increase(barq_cache_lookups_total{RUN}"
                    "[$__range]))",
                    "{{layer}}",
                ),
                thresholds=steps(RED, (0.5, ORANGE), (0.8, GREEN)),
                width=12,
            )
        )
        .with_panel(
            figure(
                "Advisor fallback share over the range",
                "Advisor calls answered by the heuristic over all "
                "calls. Orange from 10%, red from 50%.",
                "percentunit",
                *_each(
                    "sum(increase(barq_advisor_calls_total{RUN,"
                    'outcome=~"timeout|error|rejected|breaker_open"}'
                    "[$__range])) / sum(increase("
                    "barq_advisor_calls_total{RUN}[$__range]))",
                    "",
                ),
                thresholds=steps(GREEN, (0.1, ORANGE), (0.5, RED)),
            )
        )
        .with_panel(
            figure(
                "On-time ratio",
                "Deliveries on time over all deliveries, at the end of "
                "the range. Red below 85%, orange below 95%.",
                "percentunit",
                *_each(
                    "sum(last_over_time(barq_deliveries_on_time_total"
                    "{RUN}[$__range])) / sum(last_over_time("
                    "barq_delivery_duration_seconds_count{RUN}"
                    "[$__range]))",
                    "",
                ),
                thresholds=steps(RED, (0.85, ORANGE), (0.95, GREEN)),
            )
        )
        .with_panel(
            figure(
                "Driver utilization",
                "Busy time over shift time, at the end of the range.",
                "percentunit",
                *_each(
                    "max(last_over_time(barq_driver_utilization_ratio"
                    "{RUN}[$__range]))",
                    "",
                ),
            )
        )
        .with_panel(
            figure(
                "Simulation speed",
                "Simulated seconds per wall second, mean over the range.",
                "x",
                *_each(
                    "avg(avg_over_time(barq_simulation_speed_ratio{RUN}"
                    "[$__range]))",
                    "",
                ),
            )
        )
    )
