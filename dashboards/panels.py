"""What every Barq dashboard shares: the datasource, the rate window,
and panels with units, descriptions and thresholds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from grafana_foundation_sdk.builders import (
    dashboard as dash,
)
from grafana_foundation_sdk.builders import (
    prometheus,
    stat,
    timeseries,
)
from grafana_foundation_sdk.models import dashboard as model

if TYPE_CHECKING:
    from grafana_foundation_sdk.cog import builder, variants

DATASOURCE_UID = "barq-prometheus"
"""The uid of the provisioned Prometheus datasource."""

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)

WINDOW = "$window"
"""The range of every ``rate()``: an interval variable, 5 minutes by
default, wide enough for the one-minute points of a backfilled run."""

WINDOWS = ("1m", "5m", "15m", "1h")
"""The choices of :data:`WINDOW`."""

GREEN, ORANGE, RED = "green", "orange", "red"


@dataclass(frozen=True, slots=True)
class Query:
    """One PromQL expression of a panel, and its legend."""

    expr: str
    legend: str = ""


def quantile(metric: str, q: float, by: str = "") -> Query:
    """The ``q`` quantile of histogram ``metric`` over the window, per
    label ``by`` if given, legended ``p50``, ``{{by}} p95``..."""
    labels = f"{by}, le" if by else "le"
    legend = f"{{{{{by}}}}} p{round(q * 100)}" if by else f"p{round(q * 100)}"
    return Query(
        f"histogram_quantile({q}, sum by ({labels}) "
        f"(rate({metric}_bucket[{WINDOW}])))",
        legend,
    )


def window_variable() -> dash.IntervalVariable:
    """The ``window`` variable that :data:`WINDOW` names."""
    default = "5m"
    return (
        dash.IntervalVariable("window")
        .label("Rate window")
        .values(",".join(WINDOWS))
        .current(model.VariableOption(True, default, default))
        .options(
            [
                model.VariableOption(value == default, value, value)
                for value in WINDOWS
            ]
        )
    )


def steps(base: str, *levels: tuple[float, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: ``base`` below the first level, then each
    level's colour from its value up."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps(
            [model.Threshold(None, base)]
            + [model.Threshold(value, colour) for value, colour in levels]
        )
    )


def _targets(
    queries: tuple[Query, ...],
) -> list[builder.Builder[variants.Dataquery]]:
    return [
        prometheus.Dataquery()
        .expr(query.expr)
        .legend_format(query.legend)
        .ref_id(chr(ord("A") + index))
        .datasource(DATASOURCE)
        for index, query in enumerate(queries)
    ]


def graph(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    thresholds: dash.ThresholdsConfig | None = None,
    width: int = 12,
    low: float | None = None,
    high: float | None = None,
) -> timeseries.Panel:
    """A time series panel."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets(_targets(queries))
        .span(width)
        .height(8)
        .thresholds(thresholds or steps(GREEN))
    )
    if low is not None:
        panel = panel.min(low)
    if high is not None:
        panel = panel.max(high)
    return panel


def figure(
    title: str,
    description: str,
    unit: str,
    *queries: Query,
    thresholds: dash.ThresholdsConfig | None = None,
    width: int = 6,
) -> stat.Panel:
    """A stat panel showing the last value of each series."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(DATASOURCE)
        .targets(_targets(queries))
        .span(width)
        .height(6)
        .thresholds(thresholds or steps(GREEN))
    )


def board(title: str, uid: str, description: str) -> dash.Dashboard:
    """A dashboard with Barq's tags, time zone and rate window."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["barq"])
        .timezone("utc")
        .time("now-24h", "now")
        .refresh("30s")
        .with_variable(window_variable())
    )
