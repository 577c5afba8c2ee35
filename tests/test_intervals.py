"""The intervals hold their level: under the null (base and fine-tuned scores exchangeable within
items), at the smallest group size that gets a verdict, the 95 % paired interval excludes 0 in at
most 7 % of 2,000 simulated cases, for the kinds of metric the workflow reports; and the percentile
bootstrap it replaced fails the same test. Plus the t distribution, Benjamini-Hochberg and the verdict."""

import math
import string
from itertools import product

import numpy as np
import pytest

from telugu_llm.intervals import (
    MIN_ITEMS,
    benjamini_hochberg,
    jackknife_t,
    paired_jackknife_t,
    t_quantile,
    t_sf,
    verdict,
)

SIMULATIONS = 2000
BOUND = 0.07
N = MIN_ITEMS


def mean_value(s):
    return s[0] / s[1]


def perplexity_value(s):
    return math.exp(s[0] / s[1])


def mean_stats(values: np.ndarray) -> np.ndarray:
    return np.stack([values, np.ones_like(values)], axis=-1)


def false_positive_rate(base: np.ndarray, tuned: np.ndarray, value) -> float:
    hits = 0
    for b, t in zip(base, tuned):
        d = paired_jackknife_t(b, t, value, 0.95)
        hits += d["ci_low"] > 0 or d["ci_high"] < 0
    return hits / len(base)


def beta_null(rng, sims=SIMULATIONS, n=N):
    """Continuous scores in [0, 1] (F1, ROUGE-L) with an item difficulty both systems share."""
    m = rng.beta(2, 5, size=(sims, n))
    return mean_stats(rng.beta(4 * m, 4 * (1 - m))), mean_stats(rng.beta(4 * m, 4 * (1 - m)))


def test_null_false_positives_continuous_scores():
    base, tuned = beta_null(np.random.default_rng(20240601))
    assert false_positive_rate(base, tuned, mean_value) <= BOUND


def test_null_false_positives_exact_match():
    rng = np.random.default_rng(7)
    base = mean_stats((rng.random((SIMULATIONS, N)) < 0.3).astype(float))
    tuned = mean_stats((rng.random((SIMULATIONS, N)) < 0.3).astype(float))
    assert false_positive_rate(base, tuned, mean_value) <= BOUND


def test_null_false_positives_perplexity_with_uneven_token_counts():
    rng = np.random.default_rng(11)
    tokens = 1.0 + np.floor(rng.lognormal(math.log(20.0), 1.0, size=(SIMULATIONS, N)))
    difficulty = rng.lognormal(math.log(2.5), 0.4, size=(SIMULATIONS, N))
    noise_b, noise_t = (rng.lognormal(-0.045, 0.3, size=(SIMULATIONS, N)) for _ in range(2))
    base = np.stack([tokens * difficulty * noise_b, tokens], axis=-1)
    tuned = np.stack([tokens * difficulty * noise_t, tokens], axis=-1)
    assert false_positive_rate(base, tuned, perplexity_value) <= BOUND


def edited(words: list[str], rate: float, vocab: list[str], rng) -> str:
    out = []
    for w in words:
        u = rng.random()
        if u < rate / 2:
            out.append(vocab[rng.integers(len(vocab))])  # substituted
        elif u >= rate:
            out.append(w)  # kept (else deleted)
    return " ".join(out) or vocab[0]


def test_null_false_positives_chrf_plus_plus():
    """Both systems edit the reference at a rate that is the item's difficulty: chrF++ from
    sacrebleu's own sentence statistics and corpus formula, as the workflow computes it."""
    from sacrebleu.metrics import CHRF

    scorer = CHRF(word_order=2)
    rng = np.random.default_rng(5)
    letters = list(string.ascii_lowercase)
    vocab = ["".join(rng.choice(letters, size=rng.integers(2, 9))) for _ in range(300)]
    refs, hyp_b, hyp_t = [], [], []
    for _ in range(SIMULATIONS * N):
        words = [vocab[j] for j in rng.integers(len(vocab), size=rng.integers(3, 11))]
        rate = 0.6 * rng.beta(2, 5)
        refs.append(" ".join(words))
        hyp_b.append(edited(words, rate, vocab, rng))
        hyp_t.append(edited(words, rate, vocab, rng))
    stats = [np.asarray(scorer._extract_corpus_statistics(h, [refs]), dtype=float).reshape(SIMULATIONS, N, -1)
             for h in (hyp_b, hyp_t)]

    def chrf(s):
        return scorer._compute_score_from_stats(s.tolist()).score

    assert false_positive_rate(*stats, chrf) <= BOUND


@pytest.mark.parametrize("q", [0.05, 0.1, 0.15, 0.21, 0.25])
def test_exact_false_positive_rate_of_any_binary_metric(q):
    """No simulation error: every outcome of 6 items, each difference +1, 0 or -1 with probabilities
    q, 1 - 2q, q (q = E[p(1 - p)] <= 1/4 when base and tuned are independent given the item)."""
    rate = 0.0
    for d in product((1, 0, -1), repeat=N):
        d = np.asarray(d, dtype=float)
        result = paired_jackknife_t(mean_stats((d < 0).astype(float)), mean_stats((d > 0).astype(float)), mean_value, 0.95)
        if result["ci_low"] > 0 or result["ci_high"] < 0:
            changed = int(np.count_nonzero(d))
            rate += q ** changed * (1 - 2 * q) ** (N - changed)
    assert rate <= 0.05


def test_the_percentile_bootstrap_it_replaced_fails_the_same_test():
    """The test has teeth: 1,000-resample percentile intervals over 6 items are too narrow."""
    base, tuned = beta_null(np.random.default_rng(20240601), sims=500)
    rng = np.random.default_rng(0)
    hits = 0
    for b, t in zip(base, tuned):
        counts = rng.multinomial(N, np.full(N, 1 / N), size=1000).astype(float)
        deltas = (counts @ t[:, 0]) / (counts @ t[:, 1]) - (counts @ b[:, 0]) / (counts @ b[:, 1])
        low, high = np.quantile(deltas, [0.025, 0.975])
        hits += low > 0 or high < 0
    assert hits / len(base) > 0.10


def test_t_distribution():
    assert t_quantile(0.975, 5) == pytest.approx(2.570582, abs=1e-6)
    assert t_quantile(0.975, 1) == pytest.approx(12.706205, abs=1e-6)
    assert t_quantile(0.025, 29) == pytest.approx(-2.045230, abs=1e-6)
    assert t_sf(2.0, 10) == pytest.approx(0.036694, abs=1e-6)
    assert t_sf(-2.0, 10) == pytest.approx(1 - 0.036694, abs=1e-6)


def test_a_mean_metric_gets_the_paired_t_interval():
    d = np.array([0.1, 0.3, -0.2, 0.4, 0.25, 0.05])
    result = paired_jackknife_t(mean_stats(np.full(6, 0.5)), mean_stats(0.5 + d), mean_value, 0.95)
    se = d.std(ddof=1) / math.sqrt(6)
    assert result["diff"] == pytest.approx(d.mean())
    assert result["ci_low"] == pytest.approx(d.mean() - 2.570582 * se, abs=1e-6)
    assert result["p"] == pytest.approx(2 * t_sf(d.mean() / se, 5))
    assert result["n"] == 6


def test_degenerate_groups_never_crash_and_never_decide():
    empty = paired_jackknife_t(np.zeros((0, 2)), np.zeros((0, 2)), mean_value, 0.95)
    assert empty["n"] == 0 and math.isnan(empty["ci_low"]) and math.isnan(empty["diff"])
    one = paired_jackknife_t(mean_stats(np.array([0.0])), mean_stats(np.array([1.0])), mean_value, 0.95)
    assert one["diff"] == 1.0 and math.isnan(one["ci_low"]) and one["n"] == 1
    # items without a value ([0, 0] rows) do not count
    nan_items = np.vstack([np.zeros((3, 2)), mean_stats(np.array([0.0, 1.0, 1.0]))])
    assert paired_jackknife_t(nan_items, nan_items, mean_value, 0.95)["n"] == 3
    # the same non-zero difference on every item: a zero-width interval, but only a verdict with enough items
    same = paired_jackknife_t(mean_stats(np.zeros(3)), mean_stats(np.ones(3)), mean_value, 0.95)
    assert same["ci_low"] == same["ci_high"] == 1.0 and same["p"] == 0.0
    assert verdict(1.0, 0.0, 3, min_items=N, alpha=0.05, higher_is_better=True) == "too few items"
    assert jackknife_t(mean_stats(np.full(8, 0.7)), mean_value, 0.95) == (pytest.approx(0.7), pytest.approx(0.7))
    assert all(math.isnan(x) for x in jackknife_t(mean_stats(np.array([0.7])), mean_value, 0.95))


def test_benjamini_hochberg_and_the_verdict():
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, math.nan, 0.5])
    assert adjusted[:3] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3]) and math.isnan(adjusted[3])
    assert adjusted[4] == 0.5
    assert verdict(0.2, 0.01, 6, min_items=6, alpha=0.05, higher_is_better=True) == "better"
    assert verdict(0.2, 0.01, 6, min_items=6, alpha=0.05, higher_is_better=False) == "worse"  # perplexity rose
    assert verdict(-0.2, 0.01, 6, min_items=6, alpha=0.05, higher_is_better=False) == "better"
    assert verdict(0.2, 0.06, 30, min_items=6, alpha=0.05, higher_is_better=True) == "no difference"
    assert verdict(0.2, 0.0, 5, min_items=6, alpha=0.05, higher_is_better=True) == "too few items"


def test_a_comparison_is_over_the_items_with_a_value_in_both_systems():
    """An item scored on one side only (a repetition rate needs three words) is not a pair."""
    nan = math.nan
    base = M_stats([0.0, 0.0, 0.0, nan, nan, nan])
    tuned = M_stats([0.0, 0.0, 0.0, 0.6, 0.7, 0.8])
    result = paired_jackknife_t(base, tuned, mean_value, 0.95)
    assert result["n"] == 3 and result["diff"] == 0.0 and result["base"] == result["tuned"] == 0.0


def M_stats(values) -> np.ndarray:
    """Mean-metric statistics as evaluation builds them: [v, 1], or [0, 0] for an item without a value."""
    v = np.asarray(values, dtype=float)
    has = ~np.isnan(v)
    return np.stack([np.where(has, v, 0.0), has.astype(float)], axis=1)
