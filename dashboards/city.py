"""City: orders by state, on-time ratio, delivery time, drivers and
their utilization, demand against capacity, and the simulator's speed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dashboards.panels import (
    GREEN,
    ORANGE,
    RED,
    WINDOW,
    Query,
    board,
    figure,
    graph,
    quantile,
    steps,
)

if TYPE_CHECKING:
    from grafana_foundation_sdk.builders.dashboard import Dashboard

UID = "barq-city"

IN_PROGRESS = 'barq_orders{state=~"open|assigned|picked"}'


def dashboard() -> Dashboard:
    """The City dashboard."""
    return (
        board(
            "Barq city",
            UID,
            "The business side of a simulated (or served) city: orders, "
            "deliveries against their promise, drivers, and how fast "
            "the simulation runs.",
        )
        .with_panel(
            graph(
                "Orders in progress",
                "Orders open (not assigned), assigned (a driver is on "
                "the way) and picked (on board), now.",
                "short",
                Query(f"sum by (state) ({IN_PROGRESS})", "{{state}}"),
                low=0,
            )
        )
        .with_panel(
            figure(
                "Orders done",
                "Orders delivered and cancelled since the start.",
                "short",
                Query(
                    "sum by (state) "
                    '(barq_orders{state=~"delivered|cancelled"})',
                    "{{state}}",
                ),
            )
        )
        .with_panel(
            figure(
                "On-time ratio",
                "Deliveries at or before the promised time over all "
                "deliveries since the start. Red below 85%, orange "
                "below 95%.",
                "percentunit",
                Query(
                    "sum(barq_deliveries_on_time_total) / "
                    "sum(barq_delivery_duration_seconds_count)",
                    "on time",
                ),
                thresholds=steps(RED, (0.85, ORANGE), (0.95, GREEN)),
            )
        )
        .with_panel(
            graph(
                "Delivery time",
                "Time from placing an order to its delivery, p50 and "
                "p90, estimated from the buckets. Orange from 40 "
                "minutes, red from an hour.",
                "s",
                quantile("barq_delivery_duration_seconds", 0.5),
                quantile("barq_delivery_duration_seconds", 0.9),
                thresholds=steps(GREEN, (2400, ORANGE), (3600, RED)),
            )
        )
        .with_panel(
            graph(
                "Drivers",
                "Drivers busy (with work to do) and idle while online, "
                "and offline.",
                "short",
                Query("sum by (state) (barq_drivers)", "{{state}}"),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Driver utilization",
                "Time drivers spent travelling and serving stops over "
                "their shift time so far. Orange below 30%: too many "
                "drivers; red above 90%: too few.",
                "percentunit",
                Query("max(barq_driver_utilization_ratio)", "utilization"),
                thresholds=steps(ORANGE, (0.3, GREEN), (0.9, RED)),
                low=0,
                high=1,
            )
        )
        .with_panel(
            graph(
                "Demand against capacity",
                "Orders in progress against the orders the online "
                "drivers can carry at once.",
                "short",
                Query(f"sum({IN_PROGRESS})", "orders in progress"),
                Query("sum(barq_driver_capacity)", "online capacity"),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Orders placed",
                "Orders placed per hour.",
                "short",
                Query(
                    f"sum(rate(barq_orders_created_total[{WINDOW}])) * 3600",
                    "orders/h",
                ),
                low=0,
            )
        )
        .with_panel(
            graph(
                "Simulation speed",
                "Simulated seconds per wall second over the last "
                "simulated minute.",
                "x",
                Query("max(barq_simulation_speed_ratio)", "speed"),
                low=0,
            )
        )
    )
