"""A block bootstrap of the ratio of two runs' statistics.

Latency samples within one run are autocorrelated: a request that queues
behind a slow one is slow too. Resampling single samples would treat
thousands of dependent samples as independent and call tiny differences
significant, which is also why a Mann-Whitney test on raw samples is not
used. Instead the samples of each run are cut into blocks of simulated
time (a minute by default) and whole blocks are resampled, the moving-
block idea of Künsch (1989), "The jackknife and the bootstrap for general
stationary observations", Annals of Statistics 17(3). Blocks never mix
replications: each replication is resampled from its own blocks, so
differences between seeds, which both sides share when they ran the same
seeds, do not count as noise.

The test is on the logarithm of the ratio, candidate over baseline: its
spread over the resamples gives a standard error, from which come a
one-sided p-value and an interval (Efron and Tibshirani, "An Introduction
to the Bootstrap", 1993, ch. 12 and 16). Student's t with one degree of
freedom fewer than the blocks of the thinner side stands in for the
normal law: a standard error read off a few dozen blocks is itself
uncertain, and on short runs the normal tails raised about twice the
false alarms they promise. Read this way, a few hundred resamples suffice,
where a p-value counted from resamples would need thousands to resolve
the small thresholds a correction for many figures asks for.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from collections.abc import Sequence

log = logging.getLogger(__name__)

Worse: TypeAlias = Literal["higher", "lower"]
"""Which direction of change is a regression."""


@dataclass(frozen=True)
class Series:
    """Values with the simulated time of each, in independent sets.

    ``sets`` holds one ``(values, times)`` pair per replication (or one
    for a single run).
    """

    sets: tuple[tuple[np.ndarray, np.ndarray], ...]

    @property
    def size(self) -> int:
        """The number of values over all sets."""
        return sum(len(values) for values, _ in self.sets)


@dataclass(frozen=True)
class RatioTest:
    """One statistic compared between two runs.

    ``ratio`` is candidate over baseline; ``p_value`` is one-sided, for a
    change in the harmful direction; ``interval`` is the two-sided
    ``1 - 2 * alpha`` interval of the ratio, whose bound on the harmful
    side excludes 1 exactly when ``p_value < alpha``; ``df`` are the
    degrees of freedom of the t law both are read from.
    """

    baseline: float
    candidate: float
    ratio: float
    interval: tuple[float, float]
    p_value: float
    df: int


class Blocks:
    """A :class:`Series` cut into blocks of simulated time.

    A resample is a count per block of how often it was drawn, so a
    statistic of many resamples is computed at once from a matrix of
    counts (one row per resample) instead of from copies of the values.

    Parameters
    ----------
    series
        The values and their times.
    block_s
        The length of a block in simulated seconds.
    """

    def __init__(self, series: Series, block_s: float) -> None:
        values, blocks, sets = [], [], []
        offset = 0
        for index, (set_values, times) in enumerate(series.sets):
            if len(set_values) == 0:
                continue
            _, block = np.unique(
                np.floor(np.asarray(times, dtype=float) / block_s),
                return_inverse=True,
            )
            values.append(np.asarray(set_values, dtype=float))
            blocks.append(block + offset)
            count = int(block.max()) + 1
            sets.append(np.full(count, index))
            offset += count

        self.values: np.ndarray = (
            np.concatenate(values) if values else np.empty(0)
        )
        """Every value, set after set."""
        self.block: np.ndarray = (
            np.concatenate(blocks) if blocks else np.empty(0, int)
        )
        """The block of each value."""
        owner = np.concatenate(sets) if sets else np.empty(0, int)
        self._sets = [np.flatnonzero(owner == i) for i in np.unique(owner)]

    @property
    def count(self) -> int:
        """The number of blocks over all sets."""
        return int(sum(len(blocks) for blocks in self._sets))

    def draws(self, rng: np.random.Generator, resamples: int) -> np.ndarray:
        """How often each block is drawn, one row per resample; each
        set's blocks are drawn, with replacement, as often as it has."""
        counts = np.zeros((resamples, self.count))
        for blocks in self._sets:
            size = len(blocks)
            counts[:, blocks] = rng.multinomial(
                size, np.full(size, 1 / size), resamples
            )
        return counts

    def observed(self) -> np.ndarray:
        """The counts of the sample itself: every block once."""
        return np.ones((1, self.count))


class Statistic(Protocol):
    """Numbers computed from blocks drawn as often as ``counts`` say."""

    def __call__(self, blocks: Blocks, counts: np.ndarray) -> np.ndarray:
        """An array of shape ``(rows of counts, numbers)``."""
        ...


def percentiles(qs: Sequence[float]) -> Statistic:
    """Percentiles, by numpy's linear rule, of each resample.

    A resample's sorted values are the sample's sorted values, each
    repeated as often as its block was drawn; the ``k``-th of them is
    found by counting how many cumulated repeats do not exceed ``k``.
    """
    points = np.asarray(qs, dtype=float) / 100

    def statistic(blocks: Blocks, counts: np.ndarray) -> np.ndarray:
        order = np.argsort(blocks.values, kind="stable")
        ordered = blocks.values[order]
        result = np.empty((len(counts), len(points)))
        # Rows in chunks, to bound the repeats matrix to a few million.
        step = max(1, 4_000_000 // max(len(ordered), 1))
        for first in range(0, len(counts), step):
            repeats = np.cumsum(
                counts[first : first + step][:, blocks.block[order]], axis=1
            )
            total = repeats[:, -1:]
            rank = (total - 1) * points
            low = np.floor(rank)
            high = np.minimum(low + 1, total - 1)
            below = _value_at(ordered, repeats, low)
            above = _value_at(ordered, repeats, high)
            result[first : first + step] = below + (rank - low) * (
                above - below
            )
        return result

    return statistic


def mean(blocks: Blocks, counts: np.ndarray) -> np.ndarray:
    """The mean of each resample."""
    sums = np.bincount(blocks.block, blocks.values, blocks.count)
    sizes = np.bincount(blocks.block, minlength=blocks.count)
    return np.asarray((counts @ sums) / (counts @ sizes))[:, None]


def _value_at(
    ordered: np.ndarray, repeats: np.ndarray, rank: np.ndarray
) -> np.ndarray:
    """The value at each 0-based ``rank`` of each row's repeated sample."""
    index = (repeats[:, None, :] <= rank[:, :, None]).sum(axis=2)
    return np.asarray(ordered[np.minimum(index, len(ordered) - 1)])


def ratio_tests(
    baseline: Series,
    candidate: Series,
    statistic: Statistic,
    worse: Worse,
    *,
    block_s: float,
    resamples: int,
    alpha: float,
    rng: np.random.Generator,
) -> list[RatioTest]:
    """Compare each number the statistic gives between two runs.

    Both sides are resampled independently, which is conservative when
    they ran the same seeds and so share their arrivals.
    """
    base_blocks = Blocks(baseline, block_s)
    cand_blocks = Blocks(candidate, block_s)
    observed_base = statistic(base_blocks, base_blocks.observed())[0]
    observed_cand = statistic(cand_blocks, cand_blocks.observed())[0]
    base = statistic(base_blocks, base_blocks.draws(rng, resamples))
    cand = statistic(cand_blocks, cand_blocks.draws(rng, resamples))

    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.log(cand) - np.log(base)
    df = max(min(base_blocks.count, cand_blocks.count) - 1, 1)
    law = stats.t(df)

    tests = []
    for k, (b, c) in enumerate(zip(observed_base, observed_cand, strict=True)):
        ratio = float(c / b) if b > 0 else math.inf
        se = float(np.nanstd(spread[:, k], ddof=1))
        tests.append(
            _ratio_test(float(b), float(c), ratio, se, worse, law, alpha, df)
        )
    return tests


def _ratio_test(
    baseline: float,
    candidate: float,
    ratio: float,
    se: float,
    worse: Worse,
    law: Any,
    alpha: float,
    df: int,
) -> RatioTest:
    if not (math.isfinite(ratio) and ratio > 0):
        return RatioTest(baseline, candidate, ratio, (ratio, ratio), 1.0, df)

    log_ratio = math.log(ratio)
    if not (math.isfinite(se) and se > 0):
        # No spread at all: the samples are constant, so any change is
        # certain and no change is no evidence.
        harmful = log_ratio > 0 if worse == "higher" else log_ratio < 0
        p_value = 0.0 if harmful else 1.0
        interval = (ratio, ratio)
        return RatioTest(baseline, candidate, ratio, interval, p_value, df)

    t = log_ratio / se
    p_value = float(law.sf(t) if worse == "higher" else law.cdf(t))
    reach = float(law.isf(alpha)) * se
    interval = (math.exp(log_ratio - reach), math.exp(log_ratio + reach))
    return RatioTest(baseline, candidate, ratio, interval, p_value, df)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values for many comparisons.

    Controls the chance of any false alarm among all figures at the
    nominal level under any dependence between them (Holm, 1979, "A
    simple sequentially rejective multiple test procedure", Scandinavian
    Journal of Statistics 6(2)); percentiles of one endpoint are strongly
    dependent, which rules out corrections that assume independence.
    """
    count = len(p_values)
    order = sorted(range(count), key=lambda i: p_values[i])
    adjusted = [1.0] * count
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
