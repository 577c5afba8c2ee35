"""Confidence intervals, p-values and verdicts for metrics given as per-item sufficient statistics.

A metric is an (n, k) array of per-item statistics and a function of their column sums (a mean:
[v, 1] per item and s0 / s1; perplexity: [nll, tokens] and exp(s0 / s1); chrF++ and BLEU:
sacrebleu's sentence statistics and its corpus formula). Items whose statistics are all zero (an
item without a value) change no sum and are left out; `n` is the number of the others.

Clusters. Items that share a source (a Samanantar pair's two directions, the questions of one
context) are not independent. Every computation here works on clusters: the statistics of a
cluster's items are summed into one row (the metric is a function of column sums, so its value is
unchanged), and the jackknife and the permutation test treat that row as one unit. Without cluster
ids each item is its own cluster.

The interval is the jackknife-t over clusters (Tukey 1958; Miller 1974; Efron & Tibshirani 1993,
ch. 11): theta +/- t(G-1, (1+c)/2) * se_jack, with se_jack^2 = (G-1)/G * sum_g (theta_(g) -
theta_(.))^2 from the G leave-one-cluster-out values. For a paired difference (a fine-tuned model
against its base on the same items) each leave-one-out drops the cluster from both systems; for a
mean metric with one item per cluster this is exactly the paired t interval. This jackknife over
clusters of sufficient statistics is the one part no library does; the t distribution and
Benjamini-Hochberg are scipy.stats'.

The p-value of a paired difference is a permutation test (Fisher; sign flips): under the null the
two systems' statistics are exchangeable within each cluster, so swapping them in any subset of
clusters gives an equally likely difference. With at most `EXACT_UP_TO` clusters every one of the
2^G swaps is enumerated (half of them: a swap and its complement give the same |difference|; the
p-value is exact, and its floor is 2 / 2^G: 0.031 at 6 clusters); above
that, `RESAMPLES` random swaps with a fixed seed, p = (1 + hits) / (1 + RESAMPLES), which is a valid
p-value. Benjamini-Hochberg then gets valid p-values. Below `MIN_ITEMS` no verdict is given: no
two-sided 5 % test exists below 6 clusters (the floor 2 / 2^5 = 0.0625).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
from scipy import stats as sps

METHOD = "jackknife-t over clusters; permutation p-values"
MIN_ITEMS = 6  # the default of intervals.min_items: the smallest group that gets a verdict
EXACT_UP_TO = 16  # clusters; above this the permutation p-value is Monte Carlo
RESAMPLES = 9999
SEED = 0
CHUNK = 1 << 20  # swap indicators held at once (8 MiB)
VERDICTS = ("better", "worse", "inconclusive", "equivalent", "too few items")


@dataclass
class Intervals:
    """The config's `intervals` section. `equivalence`: per metric, the margin (in the metric's
    units) inside which a difference whose whole interval lies is `equivalent`."""

    confidence: float
    min_items: int
    equivalence: dict[str, float]


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t (scipy.stats.t)."""
    return float(sps.t.ppf(p, df))


def _informative(rows: np.ndarray) -> np.ndarray:
    return np.any(rows != 0, axis=1) if len(rows) else np.zeros(0, dtype=bool)


def informative(stats) -> int:
    """The number of items with a value (a row of statistics that is not all zero)."""
    return int(_informative(np.asarray(stats, dtype=float)).sum())


def _cluster_ids(clusters, n: int, keep: np.ndarray):
    if clusters is None:
        return None
    clusters = np.asarray(clusters)
    if len(clusters) != n:
        raise ValueError(f"{len(clusters)} cluster ids for {n} items")
    return clusters[keep]


def by_cluster(stats: np.ndarray, clusters) -> np.ndarray:
    """The statistics summed within each cluster (rows in order of first appearance); the rows
    themselves where `clusters` is None (each item its own cluster)."""
    stats = np.asarray(stats, dtype=float)
    if clusters is None:
        return stats
    clusters = np.asarray(clusters)
    if len(clusters) != len(stats):
        raise ValueError(f"{len(clusters)} cluster ids for {len(stats)} items")
    _, first, inverse = np.unique(clusters, return_index=True, return_inverse=True)
    summed = np.zeros((len(first), stats.shape[1]))
    np.add.at(summed, inverse, stats)
    return summed[np.argsort(np.argsort(first))] if len(first) else summed


def _values(value: Callable[[np.ndarray], float], sums: np.ndarray) -> np.ndarray:
    """value() of each row of sums: one call on the columns where `value` takes arrays (s[0] / s[1]),
    else one call per row (sacrebleu's formulas take one list)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        try:
            out = np.asarray(value(sums.T), dtype=float)
            if out.shape == (len(sums),):
                return out
        except (TypeError, ValueError, AttributeError):
            pass
        return np.array([float(value(row)) for row in sums])


def _jackknife(rows: np.ndarray, value: Callable[[np.ndarray], float]) -> tuple[float, np.ndarray]:
    total = rows.sum(axis=0)
    values = _values(value, np.vstack([total, total - rows]))
    return float(values[0]), values[1:]


def _t_interval(theta: float, leave_one_out: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(low, high, standard error); a degenerate (theta, theta) where the clusters show no spread."""
    g = len(leave_one_out)
    if g < 2 or not math.isfinite(theta) or not np.all(np.isfinite(leave_one_out)):
        return math.nan, math.nan, math.nan
    se = math.sqrt((g - 1) / g * float(np.sum((leave_one_out - leave_one_out.mean()) ** 2)))
    if se <= 1e-12 * max(1.0, abs(theta)):
        return theta, theta, 0.0
    half = t_quantile(0.5 + confidence / 2, g - 1) * se
    return theta - half, theta + half, se


SCALES = {  # (to the scale, back); the interval is computed on the first and mapped back
    "logit": (lambda v: math.log(v) - math.log1p(-v), lambda x: 1 / (1 + math.exp(-x))),
    "log": (math.log, math.exp),
}


def jackknife_t(stats, value: Callable[[np.ndarray], float], confidence: float, clusters=None,
                scale: str | None = None) -> tuple[float, float]:
    """The interval of one system's value over its clusters; (nan, nan) with fewer than 2. `scale`
    ("logit" for a rate in [0, 1], "log" for a positive value such as perplexity): the interval is
    computed on that scale and mapped back, so it cannot leave the metric's range; where the value
    sits on the range's edge (a rate of 0 or 1) the raw interval is clipped to the range."""
    stats = np.asarray(stats, dtype=float)
    keep = _informative(stats)
    rows = by_cluster(stats[keep], _cluster_ids(clusters, len(stats), keep))
    if len(rows) < 2:
        return math.nan, math.nan
    theta, leave_one_out = _jackknife(rows, value)
    if scale is not None:
        to, back = SCALES[scale]
        try:
            low, high, _ = _t_interval(to(theta), np.array([to(v) for v in leave_one_out]), confidence)
            if math.isfinite(low):
                return back(low), back(high)
        except (ValueError, ZeroDivisionError):
            pass  # on the edge of the range: the raw interval, clipped
        low, high, _ = _t_interval(theta, leave_one_out, confidence)
        return (max(low, 0.0), min(high, 1.0)) if scale == "logit" else (max(low, 0.0), high)
    low, high, _ = _t_interval(theta, leave_one_out, confidence)
    return low, high


@lru_cache(maxsize=32)
def _all_swaps(g: int) -> np.ndarray:
    """Every swap that leaves the first cluster in place (2^(g-1) rows): swapping a set of clusters
    or its complement gives the same difference with the opposite sign, so half the 2^g swaps give
    the whole two-sided distribution."""
    half = max(g - 1, 0)
    rest = np.array(list(product((0.0, 1.0), repeat=half))).reshape(2**half, half)
    out = np.hstack([np.zeros((2**half, min(g, 1))), rest])
    out.setflags(write=False)
    return out


def swaps(g: int, *, exact_up_to: int = EXACT_UP_TO, resamples: int = RESAMPLES, seed: int = SEED):
    """Which clusters swap their two systems, in blocks of rows (one row per permutation) that hold
    at most CHUNK values: up to `exact_up_to` clusters the 2^(g-1) rows that keep the first cluster
    in place (each stands for itself and its complement; the first row swaps none), else none plus
    `resamples` random rows drawn with `seed`."""
    rows = max(1, CHUNK // max(g, 1))
    if g <= exact_up_to:
        every = _all_swaps(g)
        for start in range(0, len(every), rows):
            yield every[start:start + rows]
        return
    drawn = _random_swaps(g, resamples, seed)
    yield np.zeros((1, g))
    for start in range(0, resamples, rows):
        yield drawn[start:start + rows]


@lru_cache(maxsize=4)  # the comparisons of a group share their number of clusters: drawn once (16 MB at 200)
def _random_swaps(g: int, resamples: int, seed: int) -> np.ndarray:
    out = np.random.default_rng(seed).integers(0, 2, size=(resamples, g)).astype(float)
    out.setflags(write=False)
    return out


def permutation_p(base_rows: np.ndarray, tuned_rows: np.ndarray, difference: Callable[[np.ndarray], float],
                  observed: float, **kwargs) -> tuple[float, float]:
    """(p, floor): the two-sided permutation p-value of `observed` (difference of the summed [base,
    tuned] statistics) over cluster swaps, and the smallest p-value this many clusters can give."""
    g = len(base_rows)
    delta = tuned_rows - base_rows
    tolerance = 1e-9 * max(1.0, abs(observed))
    hits = total = 0
    for block in swaps(g, **kwargs):
        moved = block @ delta
        diffs = _values(difference, np.hstack([base_rows.sum(axis=0) + moved, tuned_rows.sum(axis=0) - moved]))
        hits += int(np.sum(np.abs(diffs) >= abs(observed) - tolerance))
        total += len(block)
    # exact: half the swaps, each for itself and its complement (the same |difference|); row 0 (no
    # swap) is the observed value, so the floor is 1 / 2^(g-1) = 2 / 2^g. Monte Carlo: hits / total
    # is (1 + hits among the random) / (1 + resamples)
    return hits / total, 1 / total


def paired_jackknife_t(base, tuned, value: Callable[[np.ndarray], float], confidence: float, clusters=None, *,
                       p_value: bool = True) -> dict:
    """tuned - base on the same items (rows aligned), over the items that have a value in both
    systems (an item scored on one side only is not a pair), with items grouped into `clusters`
    (one id per row; None: each item its own): the base and tuned values, the difference, its
    jackknife-t interval, the two-sided permutation p-value and its floor, n (pairs) and the number
    of clusters. `p_value=False` skips the permutation test (p stays NaN)."""
    base, tuned = np.asarray(base, dtype=float), np.asarray(tuned, dtype=float)
    if base.shape != tuned.shape:
        raise ValueError("a paired comparison needs the same items, with the same statistics, for both systems")
    k = base.shape[1] if base.ndim == 2 else 0
    paired = _informative(base) & _informative(tuned) if len(base) else np.zeros(0, dtype=bool)
    ids = _cluster_ids(clusters, len(base), paired)
    both = by_cluster(np.hstack([base, tuned])[paired], ids) if len(base) else np.zeros((0, 2 * k))
    n, g = int(paired.sum()), len(both)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base_value = float(value(both[:, :k].sum(axis=0))) if g else math.nan
        tuned_value = float(value(both[:, k:].sum(axis=0))) if g else math.nan
    out = {"base": base_value, "tuned": tuned_value, "diff": tuned_value - base_value, "ci_low": math.nan,
           "ci_high": math.nan, "p": math.nan, "p_floor": math.nan, "n": n, "clusters": g}
    if g < 2:
        return out

    def difference(sums: np.ndarray) -> float:
        return value(sums[k:]) - value(sums[:k])

    theta, leave_one_out = _jackknife(both, difference)
    low, high, _ = _t_interval(theta, leave_one_out, confidence)
    p, floor = (math.nan, math.nan) if not (p_value and math.isfinite(theta)) else \
        permutation_p(both[:, :k], both[:, k:], difference, theta)
    return {**out, "diff": theta, "ci_low": low, "ci_high": high, "p": p, "p_floor": floor}


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control); NaN stays NaN
    and is not counted among the hypotheses."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    valid = ~np.isnan(p)
    if valid.any():
        out[valid] = sps.false_discovery_control(p[valid], method="bh")
    return out


def verdict(diff: float, p_adjusted: float, n: int, *, min_items: int, alpha: float, higher_is_better: bool,
            interval: tuple[float, float] | None = None, margin: float | None = None) -> str:
    """better / worse (the adjusted p below alpha, in the metric's good or bad direction);
    equivalent (not better or worse, and the whole interval inside +/- `margin`); else inconclusive;
    too few items below `min_items` (never any of the others)."""
    if n < min_items:
        return "too few items"
    if not (math.isnan(p_adjusted) or p_adjusted >= alpha or math.isnan(diff) or diff == 0):
        return "better" if (diff > 0) == higher_is_better else "worse"
    if margin is not None and interval is not None and -margin <= interval[0] and interval[1] <= margin:
        return "equivalent"
    return "inconclusive"


def across_seeds(reference: list, tuned: list, value: Callable[[np.ndarray], float], confidence: float,
                 clusters=None) -> dict:
    """The change of a training run over its k seeds: mean_s value(tuned_s) - mean_s value(reference_s)
    on the same items (rows aligned; `reference` one system, the base, or k, a contrast's other run
    with the same seeds), with an interval that holds both sources of noise: the item sample, which
    every seed shares (the jackknife over clusters of the seed-averaged change), and seed to seed
    (the variance of the k per-seed changes over k). The half-width is sqrt((t(G-1) se_items)^2 +
    (t(k-1) se_seeds)^2): at least each source's own t interval (Welch-Satterthwaite degrees of
    freedom were anti-conservative at k = 3: 6.6 % false calls). No interval below 2 seeds (the
    seed variance is unknown) or 2 clusters."""
    k, r = len(tuned), len(reference)
    stats = [np.asarray(s, dtype=float) for s in (*reference, *tuned)]
    width = stats[0].shape[1]
    keep = np.logical_and.reduce([_informative(s) for s in stats]) if len(stats[0]) else np.zeros(0, dtype=bool)
    rows = by_cluster(np.hstack(stats)[keep], _cluster_ids(clusters, len(stats[0]), keep))
    n, g = int(keep.sum()), len(rows)

    def per_seed(sums: np.ndarray) -> np.ndarray:
        values = [value(sums[i * width:(i + 1) * width]) for i in range(r + k)]
        ref = np.asarray(values[:r]) if r == k else np.full(k, values[0])
        return np.asarray(values[r:]) - ref

    out = {"diff": math.nan, "ci_low": math.nan, "ci_high": math.nan, "seed_sd": math.nan, "n": n, "clusters": g,
           "seeds": k}
    if not g:
        return out
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        changes = per_seed(rows.sum(axis=0))
    out.update(diff=float(changes.mean()), seed_sd=float(changes.std(ddof=1)) if k > 1 else math.nan)
    if k < 2 or g < 2:
        return out
    theta, leave_one_out = _jackknife(rows, lambda s: float(per_seed(s).mean()))
    if not (math.isfinite(theta) and np.all(np.isfinite(leave_one_out))):
        return out
    item_var = (g - 1) / g * float(np.sum((leave_one_out - leave_one_out.mean()) ** 2))
    seed_var = float(changes.var(ddof=1)) / k
    level = 0.5 + confidence / 2
    half = math.hypot(t_quantile(level, g - 1) * math.sqrt(item_var), t_quantile(level, k - 1) * math.sqrt(seed_var))
    if half <= 1e-12 * max(1.0, abs(theta)):
        half = 0.0
    return {**out, "ci_low": theta - half, "ci_high": theta + half}


def seed_verdict(low: float, high: float, n: int, seeds: int, *, min_items: int, higher_is_better: bool,
                 margin: float | None = None) -> str:
    """A change across seeds: better / worse only where the interval excludes 0; equivalent inside
    +/- margin; too few seeds (one: the seed variance is unknown) or too few items; else inconclusive."""
    if n < min_items:
        return "too few items"
    if seeds < 2:
        return "too few seeds"
    if low > 0 or high < 0:
        return "better" if (low > 0) == higher_is_better else "worse"
    if margin is not None and -margin <= low and high <= margin:
        return "equivalent"
    return "inconclusive"
