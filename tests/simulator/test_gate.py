"""Tests of the regression gate: its settings, statistics and verdicts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from runfixtures import (
    Shape,
    Traffic,
    fixture_run,
    replicated_fixture_run,
    write_fixture_run,
)

from simulator.errors import InputError
from simulator.gate import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_REGRESSION,
    GateConfig,
    compare,
    gate_command,
    load_config,
)
from simulator.gate.statistics import (
    Pairing,
    Series,
    holm,
    mean,
    percentiles,
)

ROOT = Path(__file__).resolve().parents[2]

QUIET = GateConfig(thresholds=False, check_deterministic=False)
"""Only the statistical checks."""

BUSY = Shape(
    endpoints={
        "eta": Traffic(rate=6.0, service_s=0.1),
        "plan": Traffic(rate=1.0, service_s=0.2),
    }
)
"""A queue at about 70% utilisation: strongly autocorrelated latency."""


def _write(path: Path, seed: int, **changes: object) -> Path:
    return write_fixture_run(
        path, np.random.default_rng(seed), Shape(**changes)
    )


def test_repository_gate_yaml_holds_the_defaults() -> None:
    """gate.yaml at the repository root and GateConfig() agree."""
    assert load_config(ROOT / "gate.yaml") == GateConfig()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("statistical:\n  alpha: 0.7\n", "statistical.alpha"),
        ("statistical:\n  permutations: many\n", "statistical.permutations"),
        (
            "statistical:\n  percentiles: [50, 100]\n",
            "statistical.percentiles",
        ),
        ("checks:\n  thresholds: 1\n", "checks.thresholds"),
        ("checks:\n  speed: true\n", "checks.speed"),
        ("colour: red\n", "colour"),
        ("schema: barq.gate/2\n", "schema"),
        ("deterministic:\n  tolerances: {kpis.*: -1}\n", None),
    ],
)
def test_bad_config_names_file_and_key(
    tmp_path: Path, text: str, where: str | None
) -> None:
    """Each bad setting is refused with the file and the key's path."""
    file = tmp_path / "gate.yaml"
    file.write_text(text)

    with pytest.raises(InputError) as caught:
        load_config(file)

    assert caught.value.source == str(file)
    if where is not None:
        assert caught.value.path == where


def test_partial_config_keeps_defaults(tmp_path: Path) -> None:
    """Keys left out of gate.yaml keep their defaults."""
    file = tmp_path / "gate.yaml"
    file.write_text(
        "statistical:\n  min_effect: 0.2\n"
        "deterministic:\n  tolerances:\n    kpis.*: 0.01\n"
    )

    config = load_config(file)

    assert config.min_effect == 0.2
    assert config.tolerances == (("kpis.*", 0.01),)
    assert config.alpha == GateConfig().alpha


def test_holm_adjustment() -> None:
    """Holm's step-down: sorted p-values times m, m-1, ..., kept monotone
    and capped at 1."""
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx(
        [0.04, 0.09, 0.09, 0.5]
    )
    assert holm([]) == []


def test_weighted_percentiles_match_numpy() -> None:
    """The weighted percentile of each side, as run, is numpy's."""
    rng = np.random.default_rng(3)
    base = rng.lognormal(size=500), np.sort(rng.uniform(0, 600, 500))
    cand = rng.lognormal(size=300), np.sort(rng.uniform(0, 600, 300))
    pairing = Pairing(Series((base,)), Series((cand,)), 60.0)

    weights_base, weights_cand = pairing.observed()
    got_base = percentiles([50, 95, 99])(pairing.blocks, weights_base)
    got_cand = percentiles([50, 95, 99])(pairing.blocks, weights_cand)

    assert got_base[0] == pytest.approx(np.percentile(base[0], [50, 95, 99]))
    assert got_cand[0] == pytest.approx(np.percentile(cand[0], [50, 95, 99]))
    assert mean(pairing.blocks, weights_cand)[0, 0] == pytest.approx(
        cand[0].mean()
    )


def test_permutations_swap_whole_paired_blocks() -> None:
    """Each permutation gives every paired block to exactly one side, and
    the percentile of a permuted side is that of its blocks' values."""
    rng = np.random.default_rng(4)
    times = np.arange(0.0, 600.0, 2.0)
    base = Series(((rng.normal(10, 1, len(times)), times),))
    cand = Series(((rng.normal(20, 1, len(times)), times),))
    pairing = Pairing(base, cand, 60.0)

    weights_base, weights_cand = pairing.permutations(rng, 50)

    assert pairing.pairs == 10
    assert np.all(weights_base + weights_cand == 1.0)
    assert set(np.unique(weights_base)) <= {0.0, 1.0}
    row = weights_base[0]
    chosen = pairing.blocks.values[row[pairing.blocks.block] == 1.0]
    assert percentiles([50])(pairing.blocks, weights_base[:1])[0, 0] == (
        pytest.approx(np.percentile(chosen, 50))
    )


def test_run_against_itself_passes() -> None:
    """A run compared with itself passes every check, with no change."""
    run = fixture_run(np.random.default_rng(5))

    findings = compare(run, run, GateConfig(), np.random.default_rng(0))

    assert findings
    assert all(f.passed for f in findings)
    statistical = [f for f in findings if f.kind == "statistical"]
    assert statistical
    assert all(f.effect == 0 for f in statistical)
    assert all(
        f.test is not None and f.p_value is not None for f in statistical
    )


def test_statistical_regression_names_test_p_interval_effect() -> None:
    """A 30% slower service fails, and the finding says how it knows."""
    rng = np.random.default_rng(6)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(service_scale=1.3))

    findings = compare(base, cand, QUIET, np.random.default_rng(0))

    failed = [f for f in findings if not f.passed]
    assert {f.figure for f in failed} >= {"endpoints.eta.p50"}
    eta = next(f for f in failed if f.figure == "endpoints.eta.p50")
    assert eta.kind == "statistical"
    assert eta.p_value is not None
    assert eta.p_value <= QUIET.alpha
    assert eta.interval is not None
    assert eta.interval[0] > 1.0
    assert eta.effect is not None
    assert eta.effect >= QUIET.min_effect
    assert "permutation" in eta.message
    assert "regression" in eta.message


def test_faster_candidate_is_no_regression() -> None:
    """A faster candidate passes: only the harmful direction fails."""
    rng = np.random.default_rng(7)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(service_scale=0.7))

    findings = compare(base, cand, QUIET, np.random.default_rng(0))

    assert all(f.passed for f in findings)


def test_small_significant_change_passes_below_min_effect() -> None:
    """A change that is significant but below the minimum effect passes,
    and the message says why."""
    rng = np.random.default_rng(8)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(service_scale=1.3))
    lenient = dataclasses.replace(QUIET, min_effect=0.9)

    findings = compare(base, cand, lenient, np.random.default_rng(0))

    assert all(f.passed for f in findings)
    assert any("minimum effect" in f.message for f in findings)


def test_microsecond_change_passes_below_the_absolute_floor() -> None:
    """A significant +50% on an endpoint answering in 20 microseconds is
    below ``min_effect_s`` and passes, saying so; without the floor the
    same comparison fails."""
    tiny = Shape(endpoints={"eta": Traffic(rate=2.0, service_s=2e-5)})
    rng = np.random.default_rng(81)
    base = fixture_run(rng, tiny)
    cand = fixture_run(rng, dataclasses.replace(tiny, service_scale=1.5))

    floored = compare(base, cand, QUIET, np.random.default_rng(0))
    unfloored = compare(
        base,
        cand,
        dataclasses.replace(QUIET, min_effect_s=0.0),
        np.random.default_rng(0),
    )

    assert all(f.passed for f in floored)
    assert any("0.001 s" in f.message for f in floored)
    assert not all(f.passed for f in unfloored)


def test_deterministic_change_fails_unless_tolerated() -> None:
    """A changed KPI fails exactly, and passes within its tolerance."""
    rng = np.random.default_rng(9)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(kpis={"on_time_ratio": 0.92}))
    exact = dataclasses.replace(GateConfig(), check_statistical=False)

    findings = compare(base, cand, exact, np.random.default_rng(0))
    failed = [f for f in findings if not f.passed]

    assert [f.figure for f in failed] == ["kpis.on_time_ratio"]
    assert "0.93 -> 0.92" in failed[0].message

    tolerant = dataclasses.replace(
        exact, tolerances=(("kpis.on_time_*", 0.02),)
    )
    findings = compare(base, cand, tolerant, np.random.default_rng(0))
    assert all(f.passed for f in findings)


def test_changed_advisor_outcomes_fail() -> None:
    """Advisor outcome counts for a seed are compared exactly."""
    rng = np.random.default_rng(10)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(advisor_outcomes={"timeout": 9}))
    config = dataclasses.replace(GateConfig(), check_statistical=False)

    failed = [
        f.figure
        for f in compare(base, cand, config, np.random.default_rng(0))
        if not f.passed
    ]

    assert "advisor.outcomes.timeout" in failed
    assert "advisor.calls" in failed


def test_different_seeds_skip_deterministic_with_warning() -> None:
    """Runs of different seeds are not compared figure by figure."""
    rng = np.random.default_rng(11)
    base = fixture_run(rng, seed=1)
    cand = fixture_run(rng, Shape(kpis={"orders_created": 999}), seed=2)

    findings = compare(base, cand, GateConfig(), np.random.default_rng(0))

    assert not any(f.kind == "deterministic" for f in findings)
    assert any(
        f.kind == "warning" and f.figure == "scenario.seed" for f in findings
    )


def test_different_machines_warn() -> None:
    """Runs on different machines are compared, with a warning."""
    rng = np.random.default_rng(12)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(fingerprint="machine-b"))

    findings = compare(base, cand, GateConfig(), np.random.default_rng(0))

    warning = next(f for f in findings if f.figure.startswith("run.machine"))
    assert warning.kind == "warning"
    assert warning.passed
    assert "machine-a vs machine-b" in warning.message


def test_missed_target_fails_as_threshold() -> None:
    """A target the candidate misses fails the gate like a k6 threshold."""
    rng = np.random.default_rng(13)
    targets = {
        "endpoints": {"eta": {"p95": 0.001, "p50": 10.0}},
        "on_time_ratio_min": 0.9,
        "throughput_min": None,
    }
    run = fixture_run(rng, Shape(targets=targets))

    findings = compare(run, run, GateConfig(), np.random.default_rng(0))
    thresholds = {f.figure: f for f in findings if f.kind == "threshold"}

    assert set(thresholds) == {
        "endpoints.eta.p95",
        "endpoints.eta.p50",
        "kpis.on_time_ratio",
    }
    assert not thresholds["endpoints.eta.p95"].passed
    assert thresholds["endpoints.eta.p50"].passed
    assert thresholds["kpis.on_time_ratio"].passed


def test_hit_ratio_target_judges_only_layers_looked_up() -> None:
    """A hit-ratio target fails a layer below it, and says nothing of a
    layer that had no look-up at all, which has no ratio."""
    rng = np.random.default_rng(131)
    caches = {
        "cold": {"hits": 1, "misses": 9, "hit_ratio": 0.1},
        "unused": {"hits": 0, "misses": 0, "hit_ratio": 0.0},
    }
    run = fixture_run(
        rng, Shape(caches=caches, targets={"cache_hit_ratio_min": 0.5})
    )

    findings = compare(run, run, GateConfig(), np.random.default_rng(0))
    thresholds = {f.figure: f for f in findings if f.kind == "threshold"}

    assert set(thresholds) == {
        "caches.plan.hit_ratio",
        "caches.cold.hit_ratio",
    }
    assert thresholds["caches.plan.hit_ratio"].passed
    assert not thresholds["caches.cold.hit_ratio"].passed


def test_other_scenario_is_bad_input() -> None:
    """Comparing runs of different scenarios is refused."""
    rng = np.random.default_rng(14)
    base = fixture_run(rng)
    cand = fixture_run(rng, Shape(scenario="other-city"))

    with pytest.raises(InputError, match="other-city"):
        compare(base, cand, GateConfig(), np.random.default_rng(0))


def test_replicated_runs_compare_per_replication(tmp_path: Path) -> None:
    """Replicated runs are compared with blocks paired per replication."""
    tmp = tmp_path
    base = write_fixture_run(
        tmp / "a", np.random.default_rng(15), replications=(1, 2, 3)
    )
    cand = write_fixture_run(
        tmp / "b",
        np.random.default_rng(16),
        Shape(service_scale=1.4),
        replications=(1, 2, 3),
    )

    code = gate_command(base, cand, None)

    assert code == EXIT_REGRESSION


def test_gate_command_exit_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 when the candidate holds, 1 on a regression, 2 on bad input; the
    verdict and reasons are printed."""
    base = _write(tmp_path / "base", 20)
    same = _write(tmp_path / "same", 21)
    slow = _write(tmp_path / "slow", 22, service_scale=1.5)

    assert gate_command(base, same, None) == EXIT_OK
    assert "verdict: PASS" in capsys.readouterr().out

    assert gate_command(base, slow, ROOT / "gate.yaml") == EXIT_REGRESSION
    out = capsys.readouterr().out
    assert "verdict: FAIL" in out
    assert out.splitlines()[0].startswith("FAIL statistical")

    assert gate_command(base, tmp_path / "absent", None) == EXIT_BAD_INPUT
    assert "absent" in capsys.readouterr().err

    bad = tmp_path / "gate.yaml"
    bad.write_text("statistical:\n  alpha: 2\n")
    assert gate_command(base, same, bad) == EXIT_BAD_INPUT


def test_unconfirmed_regression_passes(tmp_path: Path) -> None:
    """A suspected regression that does not hold on a re-run passes."""
    base = _write(tmp_path / "base", 30)
    slow = _write(tmp_path / "slow", 31, service_scale=1.5)
    again = _write(tmp_path / "again", 32)
    calls = []

    def rerun() -> tuple[Path, Path]:
        calls.append(1)
        return base, again

    assert gate_command(base, slow, None, confirm=rerun) == EXIT_OK
    assert calls == [1]


def test_confirmed_regression_fails(tmp_path: Path) -> None:
    """A regression that holds on the re-run fails the gate."""
    base = _write(tmp_path / "base", 40)
    slow = _write(tmp_path / "slow", 41, service_scale=1.5)
    slow_again = _write(tmp_path / "slow-again", 42, service_scale=1.5)

    code = gate_command(base, slow, None, confirm=lambda: (base, slow_again))

    assert code == EXIT_REGRESSION


def _alarm_rate(
    shapes: list[tuple[Shape, Shape]], pairs: int, seed: int
) -> float:
    rng = np.random.default_rng(seed)
    config = dataclasses.replace(QUIET, permutations=200)
    alarms = 0
    for index in range(pairs):
        base_shape, cand_shape = shapes[index % len(shapes)]
        findings = compare(
            fixture_run(rng, base_shape),
            fixture_run(rng, cand_shape),
            config,
            rng,
        )
        alarms += any(not f.passed for f in findings)
    return alarms / pairs


@pytest.mark.timeout(300)
def test_false_alarms_at_most_one_percent() -> None:
    """Of 200 A/A comparisons (half with strongly autocorrelated latency)
    at most 1% raise an alarm."""
    rate = _alarm_rate([(Shape(), Shape()), (BUSY, BUSY)], 200, seed=100)

    assert rate <= 0.01


@pytest.mark.timeout(300)
def test_ten_percent_slower_service_is_caught() -> None:
    """A candidate with +10% service time fails at least 95% of the time
    (half of the pairs with strongly autocorrelated latency)."""
    slower = dataclasses.replace(Shape(), service_scale=1.1)
    busy_slower = dataclasses.replace(BUSY, service_scale=1.1)

    rate = _alarm_rate([(Shape(), slower), (BUSY, busy_slower)], 100, 200)

    assert rate >= 0.95


def _replicated_alarm_rate(
    base_shape: Shape,
    cand_shape: Shape,
    pairs: int,
    seed: int,
    replications: int = 5,
) -> float:
    rng = np.random.default_rng(seed)
    seeds = tuple(range(1, replications + 1))
    alarms = 0
    for _ in range(pairs):
        findings = compare(
            replicated_fixture_run(rng, base_shape, seeds=seeds),
            replicated_fixture_run(rng, cand_shape, seeds=seeds),
            QUIET,
            rng,
        )
        alarms += any(not f.passed for f in findings)
    return alarms / pairs


@pytest.mark.timeout(300)
def test_machine_noise_between_replications_raises_no_alarm() -> None:
    """Runs of five replications, each replication on a machine 20%
    faster or slower at random: of 200 A/A comparisons at most 1% raise
    an alarm, because replications are compared with one another."""
    noisy = Shape(machine_noise=0.2)

    assert _replicated_alarm_rate(noisy, noisy, 200, seed=300) <= 0.01


@pytest.mark.timeout(300)
def test_replicated_ten_percent_slower_service_is_caught() -> None:
    """With ten replications on a steady machine (2% run-to-run noise)
    a candidate with +10% service time fails at least 95% of the time,
    though each replication draws a day of its own."""
    steady = Shape(machine_noise=0.02)
    slower = dataclasses.replace(steady, service_scale=1.1)

    rate = _replicated_alarm_rate(steady, slower, 100, 400, replications=10)

    assert rate >= 0.95
