"""A t-test of the ratio of two runs' statistics across replications.

Latencies measured on one machine move between runs of the same code:
the machine is busier, its caches and clock speed differ, a process was
placed on another core. Within one run every request shares that state,
so no test within a run, however careful with its blocks, can tell a
slower machine from slower code. Kalibera and Jones ("Rigorous
Benchmarking in Reasonable Time", ISMM 2013) measured that this
run-level variation dominates, and that only repeated runs estimate it.

So where both sides have replications, the unit of comparison is the
replication: each replication's statistic (a latency percentile, the
mean throughput) on the log scale, and the candidate's against the
baseline's by Student's t. When both sides ran the same seeds, the
replications are paired by seed and the test is on the differences,
which takes the day's own variation (one seed's demand against
another's) out of the noise; otherwise Welch's test compares the two
groups. The run-to-run noise of the machine is then in the spread, and
a difference must stand out from it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from simulator.gate.statistics import RatioTest

if TYPE_CHECKING:
    from collections.abc import Sequence

    from simulator.gate.statistics import Worse

PAIRED_TEST = "paired t-test on per-replication log ratios"
WELCH_TEST = "Welch t-test on per-replication log values"


def replication_test(
    baseline: Sequence[float],
    candidate: Sequence[float],
    worse: Worse,
    alpha: float,
    paired: bool,
) -> RatioTest:
    """Compare one statistic measured once per replication on each side.

    ``ratio`` is the ratio of the geometric means, candidate over
    baseline; ``p_value`` is one-sided in the harmful direction;
    ``interval`` is the two-sided ``1 - 2 * alpha`` interval of the
    ratio. ``paired`` pairs the values by position (replications of
    the same seeds), which needs equal counts.

    Raises
    ------
    ValueError
        With fewer than two values on a side, or unequal counts when
        ``paired``.
    """
    base = np.asarray(baseline, dtype=float)
    cand = np.asarray(candidate, dtype=float)
    if len(base) < 2 or len(cand) < 2:
        raise ValueError(
            f"replication_test needs two values a side, got "
            f"{len(base)} and {len(cand)}"
        )
    if paired and len(base) != len(cand):
        raise ValueError(
            f"paired replication_test needs equal counts, got "
            f"{len(base)} and {len(cand)}"
        )
    if not ((base > 0).all() and (cand > 0).all()):
        # A ratio of zeros means nothing: no evidence either way.
        ratio = math.nan
        groups = len(base) - 1 if paired else len(base) + len(cand) - 2
        return RatioTest(
            float(base.mean()),
            float(cand.mean()),
            ratio,
            (ratio, ratio),
            1.0,
            groups,
        )

    log_base, log_cand = np.log(base), np.log(cand)
    log_ratio = float(log_cand.mean() - log_base.mean())
    if paired:
        differences = log_cand - log_base
        se = float(differences.std(ddof=1)) / math.sqrt(len(differences))
        df = float(len(differences) - 1)
    else:
        var_b = float(log_base.var(ddof=1)) / len(log_base)
        var_c = float(log_cand.var(ddof=1)) / len(log_cand)
        se = math.sqrt(var_b + var_c)
        df = _welch_df(var_b, len(log_base), var_c, len(log_cand))

    shown_base = math.exp(float(log_base.mean()))
    shown_cand = math.exp(float(log_cand.mean()))
    ratio = math.exp(log_ratio)
    harmful = log_ratio > 0 if worse == "higher" else log_ratio < 0
    if not se > 0:
        # Every replication agrees exactly: a change is certain.
        p_value = 0.0 if harmful else 1.0
        return RatioTest(
            shown_base, shown_cand, ratio, (ratio, ratio), p_value, int(df)
        )

    law = stats.t(df)
    t = log_ratio / se
    p_value = float(law.sf(t) if worse == "higher" else law.cdf(t))
    reach = float(law.isf(alpha)) * se
    interval = (math.exp(log_ratio - reach), math.exp(log_ratio + reach))
    return RatioTest(
        shown_base, shown_cand, ratio, interval, p_value, round(df)
    )


def _welch_df(var_b: float, n_b: int, var_c: float, n_c: int) -> float:
    """Welch and Satterthwaite's degrees of freedom of two variances of
    means, at least one."""
    total = var_b + var_c
    if not total > 0:
        return float(n_b + n_c - 2)
    parts = var_b**2 / (n_b - 1) + var_c**2 / (n_c - 1)
    return max(total**2 / parts, 1.0)
