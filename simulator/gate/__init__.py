"""The regression gate: does a candidate run hold against a baseline?

``barq gate BASELINE CANDIDATE [--config gate.yaml]`` runs
:func:`gate_command`, which exits 0 when the candidate holds, 1 on a
regression or a missed target, and 2 on bad input, and prints one line
per finding and a verdict. :func:`compare` is the same check as data.

How noise is kept from raising alarms is described in
:mod:`simulator.gate.statistics`; the settings and why they default as
they do, in :mod:`simulator.gate.config`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import InputError
from simulator.gate.compare import Finding, compare, threshold_findings
from simulator.gate.config import GateConfig, load_config
from simulator.runs import RESULTS, load_run

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "Finding",
    "GateConfig",
    "compare",
    "format_findings",
    "gate_command",
    "load_config",
    "threshold_findings",
]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2


def gate_command(
    baseline: Path,
    candidate: Path,
    config: Path | None,
    confirm: Callable[[], tuple[Path, Path]] | None = None,
    deterministic_only: bool = False,
) -> int:
    """Run the gate on two run directories, print why, return the exit code.

    Parameters
    ----------
    baseline, candidate
        Run directories.
    config
        A ``gate.yaml``; ``None`` takes the built-in defaults, which are
        those of the repository's ``gate.yaml``.
    confirm
        Re-runs both sides and returns the new baseline and candidate
        directories. Called once, when a statistical regression is
        suspected and the config asks for confirmation; a statistical
        regression then fails the gate only if the same figure regresses
        again. Thresholds and deterministic figures are not re-run: the
        first do not depend on a pairing, the second cannot change.
    deterministic_only
        Compare only the figures a seed fixes: no statistics, no
        thresholds, no re-run. Such a gate cannot be moved by a noisy or
        a different machine, which suits CI against a committed
        baseline; it is bad input (exit 2) when the runs' seeds or
        scenario files differ, since nothing would then be compared.
    """
    try:
        settings = GateConfig() if config is None else load_config(config)
        if deterministic_only:
            settings = replace(
                settings,
                thresholds=False,
                check_statistical=False,
                check_deterministic=True,
                confirm=False,
            )
        findings = _compare_paths(baseline, candidate, settings)
        if deterministic_only:
            _require_deterministic(candidate, findings)
        suspects = _statistical_failures(findings)
        if suspects and confirm is not None and settings.confirm:
            log.info(
                "suspected regression in %s; re-running both sides",
                ", ".join(sorted(suspects)),
            )
            findings = _confirmed(findings, suspects, confirm, settings)
    except InputError as error:
        sys.stderr.write(f"barq gate: error: {error}\n")
        return EXIT_BAD_INPUT

    sys.stdout.write(format_findings(findings) + "\n")
    failed = any(not finding.passed for finding in findings)
    return EXIT_REGRESSION if failed else EXIT_OK


def format_findings(findings: list[Finding]) -> str:
    """One line per finding, failures first, then the verdict."""
    ordered = sorted(findings, key=lambda f: (f.passed, f.kind != "warning"))
    lines = []
    for finding in ordered:
        if finding.kind == "warning":
            mark = "WARN"
        else:
            mark = "ok  " if finding.passed else "FAIL"
        lines.append(f"{mark} {finding.kind:<13} {finding.message}")

    failures = sum(not finding.passed for finding in findings)
    if failures:
        lines.append(f"verdict: FAIL ({failures} of {len(findings)} checks)")
    else:
        lines.append(f"verdict: PASS ({len(findings)} checks)")
    return "\n".join(lines)


def _compare_paths(
    baseline: Path, candidate: Path, settings: GateConfig
) -> list[Finding]:
    rng = np.random.default_rng(settings.seed)
    return compare(load_run(baseline), load_run(candidate), settings, rng)


def _require_deterministic(candidate: Path, findings: list[Finding]) -> None:
    if not any(f.kind == "deterministic" for f in findings):
        reasons = "; ".join(f.message for f in findings) or "no figures"
        raise InputError(
            candidate / RESULTS,
            "scenario",
            reasons,
            "a deterministic gate needs runs of the same scenario file "
            "and seeds",
        )


def _statistical_failures(findings: list[Finding]) -> set[str]:
    return {
        f.figure for f in findings if f.kind == "statistical" and not f.passed
    }


def _confirmed(
    first: list[Finding],
    suspects: set[str],
    confirm: Callable[[], tuple[Path, Path]],
    settings: GateConfig,
) -> list[Finding]:
    """The first findings, with each suspected regression replaced by its
    re-run: failing only where the re-run fails too."""
    again = _compare_paths(*confirm(), settings)
    rerun = {f.figure: f for f in again if f.kind == "statistical"}

    findings = []
    for finding in first:
        if finding.figure not in suspects or finding.kind != "statistical":
            findings.append(finding)
            continue
        second = rerun.get(finding.figure)
        if second is not None and not second.passed:
            findings.append(second)
        else:
            findings.append(
                Finding(
                    finding.figure,
                    "warning",
                    True,
                    f"{finding.message}; not confirmed on a re-run",
                )
            )
    return findings
