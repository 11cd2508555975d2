"""Histogram bucket boundaries, placed at the service-level targets.

A boundary at each target (100 ms, 200 ms, 500 ms...) lets an SLO ratio
be read straight from one bucket: the share of requests answered within
200 ms is ``bucket{le="0.2"} / count``, with no interpolation.
"""

from __future__ import annotations

LATENCY_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)
"""Seconds, for request, stage, solver, advisor and storage durations."""

DELIVERY_BUCKETS = (
    300.0,
    600.0,
    900.0,
    1200.0,
    1800.0,
    2400.0,
    3000.0,
    3600.0,
    5400.0,
    7200.0,
)
"""Seconds from placing an order to its delivery: 5 minutes to 2 hours,
with boundaries at the usual promises (30, 40, 60 minutes)."""
