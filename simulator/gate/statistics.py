"""A paired block-permutation test of the ratio of two runs' statistics.

Latency samples within one run are autocorrelated: a request that queues
behind a slow one is slow too. A test that treats thousands of dependent
samples as independent (a Mann-Whitney test on raw samples, or a
bootstrap of single samples) calls tiny differences significant. So the
samples of each run are cut into blocks of simulated time (a minute by
default) and whole blocks are moved, the block idea of Künsch (1989),
"The jackknife and the bootstrap for general stationary observations",
Annals of Statistics 17(3).

Blocks are paired: the baseline's and the candidate's block of the same
replication and the same minute. If the candidate changed nothing, each
pair could as well be the other way round, so the test swaps a random
half of the pairs many times and sees how far the statistic's log ratio,
candidate over baseline, moves by chance (Good, "Permutation, Parametric
and Bootstrap Tests of Hypotheses", 2005, ch. 3). Pairing by minute keeps
the day's demand profile out of the noise when both sides ran the same
seeds, and blocks never mix replications.

The permutations' spread of the log ratio is its standard error; the
p-value and interval are read from Student's t with one degree of
freedom fewer than there are pairs, since a spread from a few dozen pairs
is itself uncertain. On synthetic runs this was better calibrated than a
block bootstrap, whose standard error of a percentile is too small on
short runs and which raised about twice the false alarms it promised.
Read this way a few hundred permutations suffice, where a p-value counted
from permutations would need thousands to resolve the small thresholds a
correction for many figures asks for.
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


@dataclass(frozen=True)
class Blocks:
    """Values, each with the number of its block, and how many blocks."""

    values: np.ndarray
    block: np.ndarray
    count: int


class Pairing:
    """Two :class:`Series` cut into blocks, and the blocks paired.

    Blocks pair by replication (in order) and by block of simulated time;
    a block without a partner always stays on its own side.

    Parameters
    ----------
    baseline, candidate
        The two runs' values and times.
    block_s
        The length of a block in simulated seconds.
    """

    def __init__(
        self, baseline: Series, candidate: Series, block_s: float
    ) -> None:
        ids: dict[tuple[int, int, int], int] = {}
        values, blocks = [], []
        for side, series in enumerate((baseline, candidate)):
            for index, (set_values, times) in enumerate(series.sets):
                keys = np.floor(np.asarray(times, dtype=float) / block_s)
                block = np.array(
                    [
                        ids.setdefault((side, index, key), len(ids))
                        for key in keys.astype(int).tolist()
                    ],
                    dtype=int,
                )
                values.append(np.asarray(set_values, dtype=float))
                blocks.append(block)

        self.blocks = Blocks(
            np.concatenate(values) if values else np.empty(0),
            np.concatenate(blocks) if blocks else np.empty(0, int),
            len(ids),
        )
        """Both runs' values, pooled."""
        self._sides = np.array([side for side, _, _ in ids])
        pairs = [
            (block, ids[(1, index, key)])
            for (side, index, key), block in ids.items()
            if side == 0 and (1, index, key) in ids
        ]
        self._pairs = np.array(pairs, dtype=int).reshape(-1, 2)

    @property
    def pairs(self) -> int:
        """The number of paired blocks."""
        return len(self._pairs)

    def observed(self) -> tuple[np.ndarray, np.ndarray]:
        """Block weights of the baseline and of the candidate as run."""
        base = (self._sides == 0).astype(float)[None, :]
        return base, 1.0 - base

    def permutations(
        self, rng: np.random.Generator, count: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Block weights of each side, one row per permutation, in which
        each pair is swapped with probability one half."""
        base, _ = self.observed()
        base = np.repeat(base, count, axis=0)
        swap = rng.integers(0, 2, (count, self.pairs)).astype(float)
        base[:, self._pairs[:, 0]] = 1.0 - swap
        base[:, self._pairs[:, 1]] = swap
        cand = np.repeat(1.0 - self.observed()[0], count, axis=0)
        cand[:, self._pairs[:, 0]] = swap
        cand[:, self._pairs[:, 1]] = 1.0 - swap
        return base, cand


class Statistic(Protocol):
    """Numbers computed from the values of blocks weighted by ``counts``
    (one row of weights per sample; 0 leaves a block out)."""

    def __call__(self, blocks: Blocks, counts: np.ndarray) -> np.ndarray:
        """An array of shape ``(rows of counts, numbers)``."""
        ...


def percentiles(qs: Sequence[float]) -> Statistic:
    """Percentiles, by numpy's linear rule, of each weighted sample.

    A sample's sorted values are the pooled sorted values, each repeated
    as often as its block's weight says; the ``k``-th of them is found by
    counting how many cumulated repeats do not exceed ``k``.
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
    """The mean of each weighted sample."""
    sums = np.bincount(blocks.block, blocks.values, blocks.count)
    sizes = np.bincount(blocks.block, minlength=blocks.count)
    return np.asarray((counts @ sums) / (counts @ sizes))[:, None]


def _value_at(
    ordered: np.ndarray, repeats: np.ndarray, rank: np.ndarray
) -> np.ndarray:
    """The value at each 0-based ``rank`` of each row's repeated sample."""
    index = np.array(
        [
            np.searchsorted(row, ranks, side="right")
            for row, ranks in zip(repeats, rank, strict=True)
        ]
    )
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

    ``resamples`` is the number of permutations.
    """
    pairing = Pairing(baseline, candidate, block_s)
    base_weights, cand_weights = pairing.observed()
    observed_base = statistic(pairing.blocks, base_weights)[0]
    observed_cand = statistic(pairing.blocks, cand_weights)[0]
    base_weights, cand_weights = pairing.permutations(rng, resamples)
    base = statistic(pairing.blocks, base_weights)
    cand = statistic(pairing.blocks, cand_weights)

    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.log(cand) - np.log(base)
    df = max(pairing.pairs - 1, 1)
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
        # No spread at all (constant samples, or no pairs to swap): a
        # change is taken as certain and no change as no evidence.
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
