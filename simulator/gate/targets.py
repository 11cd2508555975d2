"""A run's figures against its scenario's targets.

The targets are copied from the scenario into ``results.json``. Each is
a bound on one figure, checked like a k6 threshold: the figure as the run
reports it, against the bound, pass or fail. A run with replications is
judged on the mean over its replications.

Targets and the figures they bound:

==============================  ==========================================
``<endpoint>.p50/p95/p99``      ``endpoints.<endpoint>.p50/p95/p99``, max
``throughput_min``              ``throughput.mean``, min
``cache_hit_ratio_min``         each layer's ``caches.<layer>.hit_ratio``
``on_time_ratio_min``           ``kpis.on_time_ratio``
``error_rate_max``              errors over requests, all endpoints
``advisor_fallback_share_max``  ``advisor.fallback_share``
==============================  ==========================================

Per-endpoint targets may sit under ``targets.endpoints.<name>`` or
directly under ``targets.<name>``. The cache target applies to every
layer, since results hold no single figure for the caches together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from simulator.runs import Estimate

if TYPE_CHECKING:
    from simulator.runs import Run

Bound = Literal["max", "min"]

ENDPOINT_PERCENTILES = ("p50", "p95", "p99")

RATIO_TARGETS: tuple[tuple[str, tuple[str, ...], str, Bound], ...] = (
    ("on_time_ratio_min", ("kpis", "on_time_ratio"), "on-time ratio", "min"),
    (
        "advisor_fallback_share_max",
        ("advisor", "fallback_share"),
        "advisor fallback share",
        "max",
    ),
)
"""Targets on a single ratio: key, figure, label and kind of bound."""


@dataclass(frozen=True)
class TargetCheck:
    """One target and the run's figure against it.

    ``passed`` is false also where the run holds no value for a figure
    that has a target: a bound that cannot be checked is not met.
    """

    figure: str
    label: str
    target: float
    bound: Bound
    actual: Estimate
    unit: str

    @property
    def passed(self) -> bool:
        """Whether the figure keeps within its bound."""
        value = self.actual.mean
        if value is None:
            return False
        return (
            value <= self.target
            if self.bound == "max"
            else (value >= self.target)
        )


def check_targets(run: Run) -> list[TargetCheck]:
    """Every target the run's scenario sets, checked; null ones skipped."""
    targets = run.targets
    checks = _endpoint_checks(run, targets)

    throughput = _target(targets.get("throughput_min"))
    if throughput is not None:
        checks.append(
            TargetCheck(
                "throughput.mean",
                "throughput",
                throughput,
                "min",
                run.estimate("throughput", "mean"),
                "req/s",
            )
        )

    hit_ratio = _target(targets.get("cache_hit_ratio_min"))
    if hit_ratio is not None:
        checks.extend(
            TargetCheck(
                f"caches.{layer}.hit_ratio",
                f"cache hit ratio ({layer})",
                hit_ratio,
                "min",
                run.estimate("caches", layer, "hit_ratio"),
                "ratio",
            )
            for layer in sorted(run.results["caches"])
            if _looked_up(run, layer)
        )

    for key, figure, label, bound in RATIO_TARGETS:
        target = _target(targets.get(key))
        if target is not None:
            checks.append(
                TargetCheck(
                    ".".join(figure),
                    label,
                    target,
                    bound,
                    run.estimate(*figure),
                    "ratio",
                )
            )

    error_rate = _target(targets.get("error_rate_max"))
    if error_rate is not None:
        checks.append(
            TargetCheck(
                "error_rate",
                "error rate",
                error_rate,
                "max",
                error_rate_of(run),
                "ratio",
            )
        )
    return checks


def _looked_up(run: Run, layer: str) -> bool:
    """Whether the layer had any look-up: one that had none has no hit
    ratio to judge (the matrix layer of a run whose travel times are
    computed outside the engine, say)."""
    hits = run.figure("caches", layer, "hits") or 0.0
    misses = run.figure("caches", layer, "misses") or 0.0
    return hits + misses > 0


def error_rate_of(run: Run) -> Estimate:
    """Errors over requests, summed over the endpoints."""
    endpoints = run.results["endpoints"].values()
    count = sum(e.get("count") or 0 for e in endpoints)
    errors = sum(e.get("errors") or 0 for e in endpoints)
    rate = errors / count if count else None
    return Estimate(rate, None, () if rate is None else (rate,))


def _endpoint_checks(run: Run, targets: dict[str, Any]) -> list[TargetCheck]:
    nested = targets.get("endpoints")
    per_endpoint = dict(nested) if isinstance(nested, dict) else {}
    for name in run.endpoints:
        if isinstance(targets.get(name), dict):
            per_endpoint.setdefault(name, targets[name])

    checks = []
    for name in sorted(per_endpoint):
        bounds = per_endpoint[name] or {}
        for percentile in ENDPOINT_PERCENTILES:
            target = _target(bounds.get(percentile))
            if target is None:
                continue
            checks.append(
                TargetCheck(
                    f"endpoints.{name}.{percentile}",
                    f"{name} {percentile}",
                    target,
                    "max",
                    run.estimate("endpoints", name, percentile),
                    "s",
                )
            )
    return checks


def _target(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
