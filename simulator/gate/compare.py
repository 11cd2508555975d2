"""A candidate run against a baseline: the gate's findings.

Three kinds of check, each a list of :class:`Finding`:

- *threshold*: the candidate's figures against its scenario's targets;
- *deterministic*: figures a seed fixes (business KPIs, cache and advisor
  counts), equal within a configured tolerance, compared only when both
  runs share scenario file and seeds;
- *statistical*: latency percentiles per endpoint and throughput, where a
  regression needs a significant change (Holm-adjusted) *and* a change
  of at least the minimum effect. Runs with ``min_replications`` or more
  replications on both sides are compared replication against
  replication, so that the machine's run-to-run noise is in the test
  (:mod:`simulator.gate.replicated`); single runs by paired block
  permutations within them, which see sampling noise only
  (:mod:`simulator.gate.statistics`).

Warnings (differing machines, figures too thin to compare) pass, and say
so.
"""

from __future__ import annotations

import fnmatch
import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

import numpy as np

from simulator.errors import InputError
from simulator.gate.replicated import (
    PAIRED_TEST,
    WELCH_TEST,
    replication_test,
)
from simulator.gate.statistics import (
    RatioTest,
    Series,
    holm,
    mean,
    percentiles,
    ratio_tests,
)
from simulator.gate.targets import check_targets
from simulator.runs import RESULTS

if TYPE_CHECKING:
    from simulator.gate.config import GateConfig
    from simulator.gate.statistics import Worse
    from simulator.runs import Run

log = logging.getLogger(__name__)

Kind = Literal["deterministic", "statistical", "threshold", "warning"]

TEST_NAME = "paired block-permutation t-test on the log ratio"


@dataclass(frozen=True)
class Finding:
    """One thing the gate checked, and what it found.

    Parameters
    ----------
    figure
        Dotted path of the figure, e.g. ``endpoints.eta.p95``.
    kind
        ``deterministic``, ``statistical``, ``threshold`` or ``warning``.
    passed
        False for a regression or a missed target.
    message
        One line saying what was compared and why it passed or failed.
    test, p_value, interval, effect
        For statistical findings: the test's name, its Holm-adjusted
        one-sided p-value, the interval of the ratio candidate/baseline,
        and the relative change (``ratio - 1``).
    baseline, candidate
        The two values compared, where there are two.
    """

    figure: str
    kind: Kind
    passed: bool
    message: str
    test: str | None = None
    p_value: float | None = None
    interval: tuple[float, float] | None = None
    effect: float | None = None
    baseline: float | None = None
    candidate: float | None = None


def compare(
    baseline: Run,
    candidate: Run,
    config: GateConfig,
    rng: np.random.Generator,
) -> list[Finding]:
    """Every finding of the gate for a candidate against a baseline.

    Raises
    ------
    InputError
        When the two runs are of different scenarios.
    """
    if baseline.scenario != candidate.scenario:
        raise InputError(
            candidate.path / RESULTS,
            "scenario.name",
            candidate.scenario,
            f"must match the baseline's {baseline.scenario!r}",
        )

    findings = _warnings(baseline, candidate)
    if config.thresholds:
        findings += threshold_findings(candidate)
    if config.check_deterministic:
        findings += _deterministic(baseline, candidate, config)
    if config.check_statistical:
        findings += _statistical(baseline, candidate, config, rng)
    return findings


def threshold_findings(run: Run) -> list[Finding]:
    """The run's figures against its targets, as findings."""
    findings = []
    for check in check_targets(run):
        sign = "<=" if check.bound == "max" else ">="
        actual = check.actual.mean
        shown = "not measured" if actual is None else f"{actual:.4g}"
        verdict = "met" if check.passed else "missed"
        findings.append(
            Finding(
                figure=check.figure,
                kind="threshold",
                passed=check.passed,
                message=f"{check.label} {shown} {check.unit}, target "
                f"{sign} {check.target:.4g}: {verdict}",
                candidate=actual,
            )
        )
    return findings


def _warnings(baseline: Run, candidate: Run) -> list[Finding]:
    findings = []
    if baseline.fingerprint != candidate.fingerprint:
        findings.append(
            Finding(
                "run.machine.fingerprint",
                "warning",
                True,
                f"machines differ ({baseline.fingerprint} vs "
                f"{candidate.fingerprint}): latency and throughput "
                "changes may be the hardware's",
            )
        )
    if baseline.seeds != candidate.seeds:
        findings.append(
            Finding(
                "scenario.seed",
                "warning",
                True,
                f"seeds differ ({_seeds(baseline)} vs {_seeds(candidate)}): "
                "deterministic figures are not compared, and intervals "
                "leave out the variation between seeds",
            )
        )
    return findings


def _deterministic(
    baseline: Run, candidate: Run, config: GateConfig
) -> list[Finding]:
    base_hash = baseline.results["scenario"]["file_hash"]
    cand_hash = candidate.results["scenario"]["file_hash"]
    if baseline.seeds != candidate.seeds:
        return []
    if base_hash != cand_hash:
        return [
            Finding(
                "scenario.file_hash",
                "warning",
                True,
                "scenario files differ: deterministic figures not compared",
            )
        ]

    base, cand = baseline.figures(), candidate.figures()
    names = sorted(
        name
        for name in set(base) | set(cand)
        if any(fnmatch.fnmatchcase(name, p) for p in config.deterministic)
    )
    return [
        _exact(name, base.get(name), cand.get(name), _tolerance(name, config))
        for name in names
    ]


def _exact(
    name: str, base: float | None, cand: float | None, tolerance: float
) -> Finding:
    if cand is None:
        return Finding(
            name, "deterministic", False, f"{name}: absent from candidate"
        )
    if base is None:
        return Finding(
            name,
            "warning",
            True,
            f"{name}: new in candidate ({cand:.6g})",
            candidate=cand,
        )

    allowed = tolerance * max(abs(base), abs(cand))
    passed = abs(cand - base) <= allowed
    if base == cand:
        detail = "unchanged"
    else:
        change = f" ({cand / base - 1:+.2%})" if base else ""
        limit = f"tolerance {tolerance:g}" if tolerance else "exact"
        detail = f"changed {base:.6g} -> {cand:.6g}{change}, {limit}"
    return Finding(
        name,
        "deterministic",
        passed,
        f"{name}: {detail}",
        effect=cand / base - 1 if base else None,
        baseline=base,
        candidate=cand,
    )


def _tolerance(name: str, config: GateConfig) -> float:
    for pattern, tolerance in config.tolerances:
        if fnmatch.fnmatchcase(name, pattern):
            return tolerance
    return config.default_tolerance


def _statistical(
    baseline: Run,
    candidate: Run,
    config: GateConfig,
    rng: np.random.Generator,
) -> list[Finding]:
    replicated = (
        min(len(baseline.replications), len(candidate.replications))
        >= config.min_replications
    )
    compare_figures = _across_replications if replicated else _within_runs
    warnings, figures = compare_figures(baseline, candidate, config, rng)
    adjusted = holm([test.p_value for *_, test in figures])
    return warnings + [
        _verdict(figure, label, worse, name, test, p, config)
        for (figure, label, worse, name, test), p in zip(
            figures, adjusted, strict=True
        )
    ]


Compared: TypeAlias = tuple[str, str, "Worse", str, RatioTest]
"""A statistical figure: dotted path, label, harmful direction, the
test's name and its result."""


def _within_runs(
    baseline: Run,
    candidate: Run,
    config: GateConfig,
    rng: np.random.Generator,
) -> tuple[list[Finding], list[Compared]]:
    """Blocks of samples permuted between the two runs: sampling noise
    only (:mod:`simulator.gate.statistics`)."""
    warnings: list[Finding] = [
        Finding(
            "replications",
            "warning",
            True,
            f"fewer than {config.min_replications} replications a side: "
            "latency is compared within the runs, which cannot tell a "
            "busier machine from slower code; for a verdict that can, "
            f"run both sides with --replications {config.min_replications}"
            " or more",
        )
    ]
    figures: list[Compared] = []

    for endpoint in sorted(set(baseline.endpoints) | set(candidate.endpoints)):
        base = _latency(baseline, endpoint)
        cand = _latency(candidate, endpoint)
        thin = _too_thin(endpoint, base, cand, config.block_s, config)
        if thin is not None:
            warnings.append(thin)
            continue
        size = min(base.size, cand.size)
        compared = _percentiles_to_compare(endpoint, size, config, warnings)
        if not compared:
            continue
        tests = ratio_tests(
            base,
            cand,
            percentiles(compared),
            "higher",
            block_s=config.block_s,
            resamples=config.permutations,
            alpha=config.alpha,
            rng=rng,
        )
        for q, test in zip(compared, tests, strict=True):
            label = f"p{q:g}"
            figures.append(
                (
                    f"endpoints.{endpoint}.{label}",
                    f"{endpoint} {label}",
                    "higher",
                    TEST_NAME,
                    test,
                )
            )

    base, cand = _throughput(baseline), _throughput(candidate)
    thin = _too_thin(
        "throughput", base, cand, config.throughput_block_s, config, 1
    )
    if thin is None:
        (test,) = ratio_tests(
            base,
            cand,
            mean,
            "lower",
            block_s=config.throughput_block_s,
            resamples=config.permutations,
            alpha=config.alpha,
            rng=rng,
        )
        figures.append(
            ("throughput.mean", "throughput", "lower", TEST_NAME, test)
        )
    else:
        warnings.append(thin)
    return warnings, figures


def _across_replications(
    baseline: Run,
    candidate: Run,
    config: GateConfig,
    rng: np.random.Generator,
) -> tuple[list[Finding], list[Compared]]:
    """Each replication's statistic, replication against replication:
    run-to-run noise of the machine included
    (:mod:`simulator.gate.replicated`)."""
    paired = baseline.seeds == candidate.seeds
    name = PAIRED_TEST if paired else WELCH_TEST
    warnings: list[Finding] = []
    figures: list[Compared] = []

    for endpoint in sorted(set(baseline.endpoints) | set(candidate.endpoints)):
        base = _latency(baseline, endpoint)
        cand = _latency(candidate, endpoint)
        smallest = min(len(values) for values, _ in base.sets + cand.sets)
        if smallest < config.min_samples:
            warnings.append(
                Finding(
                    endpoint,
                    "warning",
                    True,
                    f"{endpoint}: not compared, a replication has "
                    f"{smallest} values (needs {config.min_samples})",
                )
            )
            continue
        compared = _percentiles_to_compare(
            endpoint, smallest, config, warnings
        )
        for q in compared:
            label = f"p{q:g}"
            test = replication_test(
                [_percentile(values, q) for values, _ in base.sets],
                [_percentile(values, q) for values, _ in cand.sets],
                "higher",
                config.alpha,
                paired,
            )
            figures.append(
                (
                    f"endpoints.{endpoint}.{label}",
                    f"{endpoint} {label}",
                    "higher",
                    name,
                    test,
                )
            )

    test = replication_test(
        [float(values.mean()) for values, _ in _throughput(baseline).sets],
        [float(values.mean()) for values, _ in _throughput(candidate).sets],
        "lower",
        config.alpha,
        paired,
    )
    figures.append(("throughput.mean", "throughput", "lower", name, test))
    return warnings, figures


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q))


def _verdict(
    figure: str,
    label: str,
    worse: Worse,
    name: str,
    test: RatioTest,
    p_value: float,
    config: GateConfig,
) -> Finding:
    effect = test.ratio - 1
    harmful = effect if worse == "higher" else -effect
    significant = p_value <= config.alpha
    # Throughput is compared as requests per minute, shown per second.
    per_minute = figure == "throughput.mean"
    large = harmful >= config.min_effect and (
        per_minute or test.candidate - test.baseline >= config.min_effect_s
    )
    passed = not (significant and large)

    scale, unit = (1 / 60, "req/s") if per_minute else (1.0, "s")
    low, high = test.interval
    level = 1 - 2 * config.alpha
    if passed and significant:
        floor = "" if per_minute else f" and {config.min_effect_s:g} s"
        why = f"smaller than the minimum effect {config.min_effect:.0%}{floor}"
    elif passed:
        why = f"not significant at {config.alpha:g}"
    else:
        why = "regression"
    message = (
        f"{label}: {test.baseline * scale:.4g} -> "
        f"{test.candidate * scale:.4g} {unit} ({effect:+.1%}, "
        f"{level:.0%} CI {low - 1:+.1%} to {high - 1:+.1%}), "
        f"{name} (df {test.df}) p={p_value:.2g} (Holm): {why}"
    )
    return Finding(
        figure=figure,
        kind="statistical",
        passed=passed,
        message=message,
        test=name,
        p_value=p_value,
        interval=test.interval,
        effect=effect,
        baseline=test.baseline * scale,
        candidate=test.candidate * scale,
    )


def _percentiles_to_compare(
    endpoint: str, size: int, config: GateConfig, warnings: list[Finding]
) -> list[float]:
    """The percentiles with at least ``min_tail`` of ``size`` requests
    beyond them; a warning for the others."""
    compared: list[float] = []
    skipped: list[float] = []
    for q in config.percentiles:
        beyond = size * (1 - q / 100)
        (compared if beyond >= config.min_tail else skipped).append(q)
    if skipped:
        shown = ", ".join(f"p{q:g}" for q in skipped)
        warnings.append(
            Finding(
                f"endpoints.{endpoint}",
                "warning",
                True,
                f"{endpoint} {shown}: not compared, fewer than "
                f"{config.min_tail} requests beyond it on a side",
            )
        )
    return compared


def _latency(run: Run, endpoint: str) -> Series:
    sets = []
    for samples in run.sample_sets():
        rows = samples[samples["endpoint"] == endpoint]
        sets.append(
            (
                rows["latency_s"].to_numpy(dtype=float),
                rows["arrival_s"].to_numpy(dtype=float),
            )
        )
    return Series(tuple(sets))


def _throughput(run: Run) -> Series:
    """Requests per simulated minute, every minute of each replication."""
    sets = []
    for rep in run.replications or (run,):
        arrivals = rep.samples["arrival_s"].to_numpy(dtype=float)
        simulated = rep.figure("run", "simulated_s") or 0.0
        minutes = max(math.ceil(simulated / 60), 1)
        counts = np.bincount(
            np.clip(arrivals // 60, 0, minutes - 1).astype(int),
            minlength=minutes,
        ).astype(float)
        sets.append((counts, np.arange(minutes) * 60.0))
    return Series(tuple(sets))


def _too_thin(
    name: str,
    base: Series,
    cand: Series,
    block_s: float,
    config: GateConfig,
    min_samples: int | None = None,
) -> Finding | None:
    need = config.min_samples if min_samples is None else min_samples
    for side, series in (("baseline", base), ("candidate", cand)):
        blocks = sum(
            len(np.unique(np.floor(times / block_s)))
            for _, times in series.sets
        )
        if series.size < need or blocks < config.min_blocks:
            return Finding(
                name,
                "warning",
                True,
                f"{name}: not compared, {side} has {series.size} values in "
                f"{blocks} blocks (needs {need} in {config.min_blocks})",
            )
    return None


def _seeds(run: Run) -> str:
    return ",".join(str(seed) for seed in run.seeds)
