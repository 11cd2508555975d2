"""What a report says, before it is rendered as HTML or Markdown.

Every number here is read from ``results.json`` (through
:class:`~simulator.runs.Run`) or, for a comparison with a baseline, from
the gate's findings on the raw samples; nothing is re-derived. Cells are
formatted once, here, so the page and the summary agree to the digit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from simulator.gate.compare import compare
from simulator.gate.config import GateConfig
from simulator.gate.targets import check_targets, error_rate_of

if TYPE_CHECKING:
    from simulator.gate.compare import Finding
    from simulator.runs import Estimate, Run


NO_STORAGE = "not attached in this run"
"""What the report shows for the storage figures of a run whose
``results.json`` holds ``storage: null``."""


@dataclass(frozen=True)
class Table:
    """A titled table of formatted cells.

    ``status`` holds, per row, ``True`` for a pass, ``False`` for a fail
    and ``None`` where the row is not a check.
    """

    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    status: list[bool | None] = field(default_factory=list)

    def add(self, *cells: str, status: bool | None = None) -> None:
        """Append a row."""
        self.rows.append(cells)
        self.status.append(status)


@dataclass(frozen=True)
class Content:
    """The whole report as tables, with its verdict."""

    title: str
    passed: bool | None
    verdict: str
    targets: Table
    comparison: Table | None
    endpoints: Table
    kpis: Table
    systems: Table
    metadata: Table
    notes: list[str]


def build_content(run: Run, baseline: Run | None = None) -> Content:
    """The report of a run, against its baseline if one is given."""
    targets = _targets(run)
    findings = _findings(run, baseline)
    comparison = _comparison(findings) if baseline is not None else None

    missed = sum(s is False for s in targets.status)
    regressions = [
        f for f in findings if not f.passed and f.kind != "threshold"
    ]
    checked = len(targets.rows) + (len(findings) if baseline else 0)
    if not checked:
        passed, verdict = None, "No targets set and no baseline given"
    elif missed or regressions:
        parts = []
        if missed:
            parts.append(f"{missed} of {len(targets.rows)} targets missed")
        if regressions:
            names = ", ".join(f.figure for f in regressions[:4])
            more = "" if len(regressions) <= 4 else ", ..."
            parts.append(
                f"{len(regressions)} regressions against the baseline "
                f"({names}{more})"
            )
        passed, verdict = False, "FAIL: " + "; ".join(parts)
    else:
        parts = [f"all {len(targets.rows)} targets met"]
        if baseline is not None:
            parts.append("no regression against the baseline")
        passed, verdict = True, "PASS: " + "; ".join(parts)

    notes = [f.message for f in findings if f.kind == "warning"]
    return Content(
        title=f"Barq run report: {run.scenario}",
        passed=passed,
        verdict=verdict,
        targets=targets,
        comparison=comparison,
        endpoints=_endpoints(run, baseline),
        kpis=_kpis(run, baseline),
        systems=_systems(run, baseline),
        metadata=_metadata(run, baseline),
        notes=notes,
    )


def _findings(run: Run, baseline: Run | None) -> list[Finding]:
    if baseline is None:
        return []
    config = GateConfig(thresholds=False)
    rng = np.random.default_rng(config.seed)
    return compare(baseline, run, config, rng)


def _targets(run: Run) -> Table:
    table = Table("Targets", ("figure", "target", "actual", "result"))
    for check in check_targets(run):
        sign = "≤" if check.bound == "max" else "≥"
        table.add(
            check.label,
            f"{sign} {_value(check.target, check.unit)}",
            _estimate(check.actual, check.unit),
            "pass" if check.passed else "FAIL",
            status=check.passed,
        )
    return table


def _comparison(findings: list[Finding]) -> Table:
    table = Table(
        "Against the baseline",
        ("figure", "baseline", "candidate", "change", "interval", "verdict"),
    )
    shown = sorted(
        (f for f in findings if f.kind != "warning"),
        key=lambda f: (f.passed, f.kind != "statistical"),
    )
    for finding in shown:
        unit = _unit_of(finding.figure)
        interval = (
            f"{finding.interval[0] - 1:+.1%} to {finding.interval[1] - 1:+.1%}"
            if finding.interval is not None
            else ""
        )
        if finding.kind == "statistical":
            verdict = "REGRESSION" if not finding.passed else "holds"
            verdict += f" (p={finding.p_value:.2g})"
        else:
            verdict = "CHANGED" if not finding.passed else "same"
        table.add(
            finding.figure,
            _value(finding.baseline, unit),
            _value(finding.candidate, unit),
            "" if finding.effect is None else f"{finding.effect:+.1%}",
            interval,
            verdict,
            status=finding.passed,
        )
    return table


def _endpoints(run: Run, baseline: Run | None) -> Table:
    figures = ("count", "errors", "mean", "p50", "p95", "p99", "max")
    table = Table("Endpoints", ("endpoint", *figures))
    for name in run.endpoints:
        cells = [
            _estimate(
                run.estimate("endpoints", name, f),
                "" if f in ("count", "errors") else "s",
            )
            for f in figures
        ]
        table.add(name, *cells)
        if baseline is not None and name in baseline.endpoints:
            base = [
                _estimate(
                    baseline.estimate("endpoints", name, f),
                    "" if f in ("count", "errors") else "s",
                )
                for f in figures
            ]
            table.add(f"{name} (baseline)", *base)
    return table


def _kpis(run: Run, baseline: Run | None) -> Table:
    rows: list[tuple[str, tuple[str, ...], str]] = [
        ("orders created", ("kpis", "orders_created"), ""),
        ("orders delivered", ("kpis", "orders_delivered"), ""),
        ("orders cancelled", ("kpis", "orders_cancelled"), ""),
        ("orders open at the end", ("kpis", "orders_open"), ""),
        ("on-time ratio", ("kpis", "on_time_ratio"), "ratio"),
        ("delivery minutes p50", ("kpis", "delivery_minutes", "p50"), "min"),
        ("delivery minutes p90", ("kpis", "delivery_minutes", "p90"), "min"),
        ("driver utilization", ("kpis", "driver_utilization"), "ratio"),
        ("throughput mean", ("throughput", "mean"), "req/s"),
        ("throughput peak (1 min)", ("throughput", "peak"), "req/s"),
    ]
    replay = run.results.get("replay")
    if isinstance(replay, dict):
        rows += [(f"replay: {k}", ("replay", k), "") for k in sorted(replay)]
    return _figure_table("Business figures", rows, run, baseline)


def _systems(run: Run, baseline: Run | None) -> Table:
    rows: list[tuple[str, tuple[str, ...], str]] = []
    for layer in sorted(run.results["caches"]):
        for key, unit in (
            ("hit_ratio", "ratio"),
            ("hits", ""),
            ("misses", ""),
            ("evictions", ""),
            ("bytes", "B"),
        ):
            rows.append(
                (f"cache {layer}: {key}", ("caches", layer, key), unit)
            )
    rows.append(("advisor calls", ("advisor", "calls"), ""))
    for outcome in sorted(run.results["advisor"]["outcomes"]):
        rows.append(
            (f"advisor {outcome}", ("advisor", "outcomes", outcome), "")
        )
    rows.append(
        ("advisor fallback share", ("advisor", "fallback_share"), "ratio")
    )
    for q in ("p50", "p95", "p99"):
        rows.append((f"advisor latency {q}", ("advisor", "latency", q), "s"))
    if run.has_storage:
        rows += [
            ("storage writes", ("storage", "writes"), ""),
            ("storage batches", ("storage", "batches"), ""),
            ("storage errors", ("storage", "errors"), ""),
        ]
        for q in ("p50", "p95", "p99"):
            rows.append((f"storage query {q}", ("storage", "query", q), "s"))
    table = _figure_table("Caches, advisor, storage", rows, run, baseline)
    if not run.has_storage:
        cells = ["storage", NO_STORAGE]
        if baseline is not None:
            base = "" if baseline.has_storage else NO_STORAGE
            cells += [base, ""]
        table.add(*cells)
    rate = error_rate_of(run)
    cells = ["request error rate", _estimate(rate, "ratio")]
    if baseline is not None:
        base_rate = error_rate_of(baseline)
        cells += [_estimate(base_rate, "ratio"), _change(rate, base_rate)]
    table.add(*cells)
    return table


def _figure_table(
    title: str,
    rows: list[tuple[str, tuple[str, ...], str]],
    run: Run,
    baseline: Run | None,
) -> Table:
    header: tuple[str, ...] = ("figure", "value")
    if baseline is not None:
        header += ("baseline", "change")
    table = Table(title, header)
    for label, keys, unit in rows:
        value = run.estimate(*keys)
        cells = [label, _estimate(value, unit)]
        if baseline is not None:
            base = baseline.estimate(*keys)
            cells += [_estimate(base, unit), _change(value, base)]
        table.add(*cells)
    return table


def _metadata(run: Run, baseline: Run | None) -> Table:
    runs = [run] if baseline is None else [run, baseline]
    header = ("", "this run") if baseline is None else ("", "run", "baseline")
    table = Table("Scenario and run", header)

    def row(label: str, values: list[object]) -> None:
        table.add(label, *(str(value) for value in values))

    row("scenario", [r.scenario for r in runs])
    row("scenario file", [r.results["scenario"]["file_hash"] for r in runs])
    row("seed", [", ".join(str(s) for s in r.seeds) for r in runs])
    for key in (
        "started_at",
        "git_revision",
        "wall_s",
        "simulated_s",
        "speed",
    ):
        row(key.replace("_", " "), [r.results["run"][key] for r in runs])
    machines = [r.results["run"]["machine"] for r in runs]
    for key in sorted({k for machine in machines for k in machine}):
        row(f"machine {key}", [machine.get(key, "") for machine in machines])
    row("path", [r.path for r in runs])
    return table


def _unit_of(figure: str) -> str:
    if figure.startswith("endpoints."):
        return "s"
    if figure.startswith("throughput"):
        return "req/s"
    if figure.endswith(("ratio", "share")):
        return "ratio"
    return ""


def _estimate(estimate: Estimate, unit: str) -> str:
    text = _value(estimate.mean, unit)
    if estimate.ci95 is not None:
        low, high = estimate.ci95
        text += f" [{_value(low, unit)}, {_value(high, unit)}]"
    return text


def _change(value: Estimate, base: Estimate) -> str:
    if value.mean is None or base.mean is None:
        return ""
    if base.mean == 0:
        return "same" if value.mean == 0 else "new"
    return f"{value.mean / base.mean - 1:+.1%}"


def _value(value: float | None, unit: str) -> str:
    """A number in its unit, as a reader expects it."""
    if value is None:
        return "-"
    if unit == "s":
        if abs(value) >= 1:
            return f"{value:.3g} s"
        if abs(value) >= 1e-3 or value == 0:
            return f"{value * 1000:.1f} ms"
        return f"{value * 1e6:.1f} µs"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "B":
        return f"{value / 1024:,.1f} KiB"
    whole = float(value).is_integer()
    text = f"{int(value):,}" if whole else f"{value:,.4g}"
    return f"{text} {unit}" if unit else text
