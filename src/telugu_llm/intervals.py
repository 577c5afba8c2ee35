"""Confidence intervals and verdicts for metrics given as per-item sufficient statistics.

A metric is an (n, k) array of per-item statistics and a function of their column sums (a mean:
[v, 1] per item and s0 / s1; perplexity: [nll, tokens] and exp(s0 / s1); chrF++ and BLEU:
sacrebleu's sentence statistics and its corpus formula). Items whose statistics are all zero (an
item without a value) change no sum and are left out; `n` is the number of the others.

The interval is the jackknife-t (Tukey 1958; Miller 1974; Efron & Tibshirani 1993, ch. 11):
theta +/- t(n-1, (1+c)/2) * se_jack, with se_jack^2 = (n-1)/n * sum_i (theta_(i) - theta_(.))^2 from
the n leave-one-item-out values. For a paired difference (a fine-tuned model against its base on the
same items) each leave-one-out drops the item from both systems; for a mean metric this is exactly
the paired t interval. It is deterministic and needs 2(n + 1) evaluations of the metric.

Why this one (measured by simulation under the null, 2,000 cases each, tests/test_intervals.py):
the percentile bootstrap over 6 items excludes a true zero difference in 16 % of cases (9 % at 30
items), BCa is worse; the jackknife-t, at 6 items, in 2.0 % (exact match), 4.9 % (continuous
scores), 2.0 % (perplexity) and 4.9 % (chrF++) of cases, and exactly in at most 3.6 % for any
binary metric (in a wider study, at most 6 % at every size from 3 to 30 items). Below 6 items no verdict is given (`MIN_ITEMS`): no exact
two-sided 5 % test exists there under exchangeability alone, and the power is about 10 %. For one
system's value the same interval misses the true value in about 6-7 % of cases at 6 items for mean
metrics and chrF++, and up to 15 % for perplexity with very uneven token counts; the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

METHOD = "jackknife-t"
MIN_ITEMS = 6  # the default of intervals.min_items: the smallest group that gets a verdict
VERDICTS = ("better", "worse", "no difference", "too few items")


@dataclass
class Intervals:
    """The config's `intervals` section."""

    confidence: float
    min_items: int


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (Numerical Recipes, 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t (by bisection on `t_sf`; exact to 1e-12)."""
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_sf(hi, df) > 1.0 - p:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if t_sf(mid, df) > 1.0 - p else (lo, mid)
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def _informative(stats: np.ndarray) -> np.ndarray:
    stats = np.asarray(stats, dtype=float)
    return stats[np.any(stats != 0, axis=1)] if len(stats) else stats


def _jackknife(stats: np.ndarray, value: Callable[[np.ndarray], float]) -> tuple[float, np.ndarray]:
    total = stats.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        theta = float(value(total))
        leave_one_out = np.array([float(value(total - row)) for row in stats])
    return theta, leave_one_out


def _t_interval(theta: float, leave_one_out: np.ndarray, confidence: float) -> tuple[float, float, float]:
    """(low, high, standard error); a degenerate (theta, theta) where the items show no spread."""
    n = len(leave_one_out)
    if n < 2 or not math.isfinite(theta) or not np.all(np.isfinite(leave_one_out)):
        return math.nan, math.nan, math.nan
    se = math.sqrt((n - 1) / n * float(np.sum((leave_one_out - leave_one_out.mean()) ** 2)))
    if se <= 1e-12 * max(1.0, abs(theta)):
        return theta, theta, 0.0
    half = t_quantile(0.5 + confidence / 2, n - 1) * se
    return theta - half, theta + half, se


def jackknife_t(stats, value: Callable[[np.ndarray], float], confidence: float) -> tuple[float, float]:
    """The interval of one system's value over its items; (nan, nan) with fewer than 2 items."""
    stats = _informative(stats)
    if len(stats) < 2:
        return math.nan, math.nan
    low, high, _ = _t_interval(*_jackknife(stats, value), confidence)
    return low, high


def informative(stats) -> int:
    """The number of items with a value (a row of statistics that is not all zero)."""
    stats = np.asarray(stats, dtype=float)
    return int(np.any(stats != 0, axis=1).sum()) if len(stats) else 0


def paired_jackknife_t(base, tuned, value: Callable[[np.ndarray], float], confidence: float) -> dict:
    """tuned - base on the same items (rows aligned), over the items that have a value in both
    systems (an item scored on one side only is not a pair): the base and tuned values on those
    items, the difference, its interval, the two-sided p-value of the t statistic (the interval
    excludes 0 exactly when p < 1 - confidence) and n, the number of pairs."""
    base, tuned = np.asarray(base, dtype=float), np.asarray(tuned, dtype=float)
    if base.shape != tuned.shape:
        raise ValueError("a paired comparison needs the same items, with the same statistics, for both systems")
    k = base.shape[1] if base.ndim == 2 else 0
    if len(base):
        paired = np.any(base != 0, axis=1) & np.any(tuned != 0, axis=1)
        both = np.hstack([base, tuned])[paired]
    else:
        both = np.zeros((0, 2 * k))
    n = len(both)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        base_value = float(value(both[:, :k].sum(axis=0))) if n else math.nan
        tuned_value = float(value(both[:, k:].sum(axis=0))) if n else math.nan
    out = {"base": base_value, "tuned": tuned_value, "diff": tuned_value - base_value, "ci_low": math.nan,
           "ci_high": math.nan, "p": math.nan, "n": n}
    if n < 2:
        return out

    def difference(sums: np.ndarray) -> float:
        return value(sums[k:]) - value(sums[:k])

    theta, leave_one_out = _jackknife(both, difference)
    low, high, se = _t_interval(theta, leave_one_out, confidence)
    if math.isnan(se):
        p = math.nan
    elif se == 0.0:
        p = 0.0 if theta != 0 else 1.0
    else:
        p = min(1.0, 2.0 * t_sf(abs(theta) / se, n - 1))
    return {**out, "diff": theta, "ci_low": low, "ci_high": high, "p": p}


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (the false-discovery-rate step-up, 1995); NaN stays NaN
    and is not counted among the hypotheses."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if not m:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out[order] = adjusted
    return out


def verdict(diff: float, p_adjusted: float, n: int, *, min_items: int, alpha: float, higher_is_better: bool) -> str:
    """better / worse (the adjusted p below alpha, in the metric's good or bad direction), no
    difference, or too few items (below `min_items`: never better or worse)."""
    if n < min_items:
        return "too few items"
    if math.isnan(p_adjusted) or p_adjusted >= alpha or math.isnan(diff) or diff == 0:
        return "no difference"
    return "better" if (diff > 0) == higher_is_better else "worse"
