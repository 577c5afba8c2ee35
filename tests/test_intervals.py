"""The intervals hold their level: under the null (base and fine-tuned scores exchangeable within
items), at the smallest group size that gets a verdict, the 95 % paired interval excludes 0 in at
most 7 % of 2,000 simulated cases, for the kinds of metric the workflow reports; and the percentile
bootstrap it replaced fails the same test. The permutation p-values are exact at small n, and
Benjamini-Hochberg over a family of null comparisons keeps its false discovery rate. Clusters of
items are left out together. Plus the verdict."""

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
    verdict,
)
from telugu_llm import intervals

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
        d = paired_jackknife_t(b, t, value, 0.95, p_value=False)
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


def test_the_t_distribution_and_bh_are_the_library_s():
    """No hand-written incomplete beta or step-up: scipy.stats computes them."""
    assert not hasattr(intervals, "_betainc") and not hasattr(intervals, "t_sf")
    assert t_quantile(0.975, 5) == pytest.approx(2.570582, abs=1e-6)
    assert t_quantile(0.025, 29) == pytest.approx(-2.045230, abs=1e-6)
    assert intervals.sps.__name__ == "scipy.stats"


def exact_sign_flip_p(d: np.ndarray) -> float:
    """The two-sided p-value of the mean of d over all 2^n sign flips, by brute force."""
    means = np.array([np.mean(np.asarray(s) * d) for s in product((1, -1), repeat=len(d))])
    return float(np.mean(np.abs(means) >= abs(d.mean()) - 1e-12))


def test_p_values_are_exact_at_small_n():
    """6 of 6 items in one direction: the exact sign test's 2/64, not the t test's 0 (standard error
    0); 5 in one direction and a tie: 4/64, not 0.0041. The floor says how small p can be."""
    six = paired_jackknife_t(mean_stats(np.zeros(6)), mean_stats(np.ones(6)), mean_value, 0.95)
    assert six["p"] == pytest.approx(2 / 64) and six["p_floor"] == pytest.approx(2 / 64)
    tie = paired_jackknife_t(mean_stats(np.zeros(6)), mean_stats(np.array([1, 1, 1, 1, 1, 0.0])), mean_value, 0.95)
    assert tie["p"] == pytest.approx(4 / 64)
    five = paired_jackknife_t(mean_stats(np.zeros(5)), mean_stats(np.ones(5)), mean_value, 0.95)
    assert five["p"] == pytest.approx(2 / 32)  # > 0.05: below 6 items no two-sided 5 % test exists
    d = np.array([0.1, 0.3, -0.2, 0.4, 0.25, 0.05, -0.15, 0.35])
    mixed = paired_jackknife_t(mean_stats(np.full(8, 0.5)), mean_stats(0.5 + d), mean_value, 0.95)
    assert mixed["p"] == pytest.approx(exact_sign_flip_p(d))


def test_above_sixteen_clusters_the_p_value_is_seeded_monte_carlo():
    rng = np.random.default_rng(3)
    b, t = mean_stats(rng.random(30)), mean_stats(rng.random(30) + 0.1)
    first, again = (paired_jackknife_t(b, t, mean_value, 0.95) for _ in range(2))
    assert first["p"] == again["p"] and first["p_floor"] == pytest.approx(1 / 10000)
    d = t[:, 0] - b[:, 0]
    flips = rng.choice((1.0, -1.0), size=(20000, 30))
    reference = (1 + np.sum(np.abs(flips @ d) >= abs(d.sum()) - 1e-12)) / 20001
    assert first["p"] == pytest.approx(reference, abs=0.01)


def family_false_discovery_rate(n: int, families: int, draw, q: float = 0.05) -> float:
    """Families of 8 null comparisons: the share of families where BH rejects anything (under the
    complete null every rejection is false, so this is the false discovery rate)."""
    rng = np.random.default_rng(100 + n)
    false = 0
    for _ in range(families):
        p = [paired_jackknife_t(*draw(rng, n), mean_value, 0.95)["p"] for _ in range(8)]
        false += bool(np.any(benjamini_hochberg(p) < q))
    return false / families


def binary_null(rng, n):
    """Exact match at its most discordant: base and tuned right with probability 1/2, independently."""
    return mean_stats((rng.random(n) < 0.5).astype(float)), mean_stats((rng.random(n) < 0.5).astype(float))


def continuous_null(rng, n):
    b, t = beta_null(rng, sims=1, n=n)
    return b[0], t[0]


@pytest.mark.parametrize("n", [6, 8])
@pytest.mark.parametrize("draw", [binary_null, continuous_null])
def test_benjamini_hochberg_keeps_its_false_discovery_rate_at_small_n(n, draw):
    assert family_false_discovery_rate(n, 300, draw) <= 0.05


def binary_p_distribution(n: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Every outcome of n items of a binary metric under the null, by its counts of +1 and -1
    differences (probability q each): the p-values and their probabilities."""
    p, weight = [], []
    for up in range(n + 1):
        for down in range(n + 1 - up):
            d = np.array([1.0] * up + [-1.0] * down + [0.0] * (n - up - down))
            r = paired_jackknife_t(mean_stats((d < 0).astype(float)), mean_stats((d > 0).astype(float)), mean_value, 0.95)
            p.append(1.0 if math.isnan(r["p"]) else r["p"])
            ties = n - up - down
            weight.append(math.comb(n, up) * math.comb(n - up, down) * q ** (up + down) * (1 - 2 * q) ** ties)
    return np.array(p), np.array(weight)


@pytest.mark.parametrize("n", [6, 8])
@pytest.mark.parametrize("q", [0.1, 0.15, 0.2, 0.25])
def test_p_values_are_valid_at_every_tail_benjamini_hochberg_uses(n, q):
    """No simulation error: P(p <= t) <= t at t = 0.05 i / 8, i = 1..8 (BH's thresholds in a family of
    8) for a binary metric. The t test's p-values broke this by up to 1.4 times at 8 items."""
    p, weight = binary_p_distribution(n, q)
    for t in 0.05 * np.arange(1, 9) / 8:
        assert weight[p <= t + 1e-12].sum() <= t


def test_a_mean_metric_gets_the_paired_t_interval():
    d = np.array([0.1, 0.3, -0.2, 0.4, 0.25, 0.05])
    result = paired_jackknife_t(mean_stats(np.full(6, 0.5)), mean_stats(0.5 + d), mean_value, 0.95)
    se = d.std(ddof=1) / math.sqrt(6)
    assert result["diff"] == pytest.approx(d.mean())
    assert result["ci_low"] == pytest.approx(d.mean() - 2.570582 * se, abs=1e-6)
    assert result["p"] == pytest.approx(exact_sign_flip_p(d))
    assert result["n"] == 6 and result["clusters"] == 6


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
    assert same["ci_low"] == same["ci_high"] == 1.0 and same["p"] == pytest.approx(2 / 8)
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
    assert verdict(0.2, 0.06, 30, min_items=6, alpha=0.05, higher_is_better=True) == "inconclusive"
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


def test_a_cluster_is_left_out_whole():
    """A pair's two directions (or a context's questions) are one unit: six items that are three
    sources seen twice give the interval of the three sources, not a narrower one, and the
    permutation swaps a cluster whole (3 clusters all one way: p = 2/8)."""
    rng = np.random.default_rng(2)
    b3, t3 = mean_stats(rng.random(3)), mean_stats(rng.random(3) + 0.3)
    b6, t6 = np.repeat(b3, 2, axis=0), np.repeat(t3, 2, axis=0)
    clusters = ["a", "a", "b", "b", "c", "c"]
    clustered = paired_jackknife_t(b6, t6, mean_value, 0.95, clusters=clusters)
    sources = paired_jackknife_t(b3, t3, mean_value, 0.95)
    assert (clustered["ci_low"], clustered["ci_high"]) == pytest.approx((sources["ci_low"], sources["ci_high"]))
    assert clustered["n"] == 6 and clustered["clusters"] == 3 and clustered["p"] == pytest.approx(2 / 8)
    naive = paired_jackknife_t(b6, t6, mean_value, 0.95)
    assert naive["ci_high"] - naive["ci_low"] < 0.6 * (clustered["ci_high"] - clustered["ci_low"])
    assert jackknife_t(t6, mean_value, 0.95, clusters=clusters) == pytest.approx(jackknife_t(t3, mean_value, 0.95))
    # an item without a value leaves its cluster's other items in
    t6[0] = 0.0
    assert paired_jackknife_t(b6, t6, mean_value, 0.95, clusters=clusters)["clusters"] == 3
    with pytest.raises(ValueError, match="5 cluster ids for 6 items"):
        paired_jackknife_t(b6, t6, mean_value, 0.95, clusters=clusters[:5])


def test_intervals_of_rates_and_perplexity_stay_in_range():
    rate = mean_stats(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0]))
    assert jackknife_t(rate, mean_value, 0.95)[0] < 0  # the symmetric interval leaves [0, 1]
    low, high = jackknife_t(rate, mean_value, 0.95, scale="logit")
    assert 0 < low < 1 / 3 < high < 1
    assert jackknife_t(mean_stats(np.array([0.0] * 5 + [1.0])), mean_value, 0.95, scale="logit")[0] == 0.0
    ppl = np.array([[1.0, 10.0], [1.0, 10.0], [1.0, 10.0], [1.0, 10.0], [60.0, 10.0], [1.0, 10.0]])
    assert jackknife_t(ppl, perplexity_value, 0.95)[0] < 0
    low, high = jackknife_t(ppl, perplexity_value, 0.95, scale="log")
    assert 0 < low < perplexity_value(ppl.sum(axis=0)) < high


def seed_false_calls(k: int, sims: int, *, seed_sd: float, with_seed_variance: bool = True) -> float:
    """Each seed shifts the tuned scores by its own effect of random sign (sd `seed_sd`), with no mean
    effect; items share a difficulty and the base's outputs. The share of runs called changed."""
    rng = np.random.default_rng(40 + k)
    calls = 0
    for _ in range(sims):
        difficulty = rng.normal(0.5, 0.15, size=20)
        base = mean_stats(difficulty + rng.normal(0, 0.1, size=20))
        tuned = [mean_stats(difficulty + rng.normal(0, seed_sd) + rng.normal(0, 0.1, size=20)) for _ in range(k)]
        if with_seed_variance:
            d = intervals.across_seeds([base], tuned, mean_value, 0.95)
        else:  # the item jackknife of the seed-averaged change alone
            averaged = mean_stats(np.mean([t[:, 0] for t in tuned], axis=0))
            d = paired_jackknife_t(base, averaged, mean_value, 0.95, p_value=False)
        calls += d["ci_low"] > 0 or d["ci_high"] < 0
    return calls / sims


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("seed_sd", [0.0, 0.03, 0.1])
def test_a_change_across_seeds_is_called_at_most_5_percent_of_the_time_without_a_mean_effect(k, seed_sd):
    assert seed_false_calls(k, 400, seed_sd=seed_sd) <= 0.05


def test_without_the_seed_variance_the_same_test_fails():
    assert seed_false_calls(3, 200, seed_sd=0.1, with_seed_variance=False) > 0.3


def test_the_across_seed_change_and_its_verdict():
    base = mean_stats(np.zeros(6))
    tuned = [mean_stats(np.full(6, v) + np.linspace(0, 0.1, 6)) for v in (0.5, 0.6, 0.7)]
    d = intervals.across_seeds([base], tuned, mean_value, 0.95)
    assert d["diff"] == pytest.approx(0.65) and d["seeds"] == 3 and d["n"] == 6
    assert d["ci_low"] > 0 and d["seed_sd"] == pytest.approx(0.1)
    assert intervals.seed_verdict(d["ci_low"], d["ci_high"], 6, 3, min_items=6, higher_is_better=True) == "better"
    assert intervals.seed_verdict(-0.1, 0.1, 6, 3, min_items=6, higher_is_better=True) == "inconclusive"
    assert intervals.seed_verdict(-0.01, 0.01, 6, 3, min_items=6, higher_is_better=True, margin=0.02) == "equivalent"
    assert intervals.seed_verdict(0.2, 0.3, 6, 1, min_items=6, higher_is_better=True) == "too few seeds"
    one = intervals.across_seeds([base], tuned[:1], mean_value, 0.95)
    assert one["diff"] == pytest.approx(0.55) and math.isnan(one["ci_low"])
    # a contrast with the same seeds on both sides: the per-seed changes are paired by seed
    pair = intervals.across_seeds(tuned, [t + np.array([0.1, 0.0]) for t in tuned], mean_value, 0.95)
    assert pair["diff"] == pytest.approx(0.1) and pair["ci_low"] == pair["ci_high"] == pytest.approx(0.1)


def test_the_exact_test_evaluates_half_the_swaps():
    """A swap and its complement give the same |difference|: 2^(g-1) evaluations, not 2^g (a metric
    whose value is not vectorised, chrF++ or BLEU, is evaluated once per swap), same p-value."""
    calls = []

    def counted(s):
        calls.append(1)
        return s[0] / s[1]

    d = np.array([0.1, 0.3, -0.2, 0.4, 0.25, 0.05, -0.15, 0.35])
    r = paired_jackknife_t(mean_stats(np.full(8, 0.5)), mean_stats(0.5 + d), lambda s: float(counted(s)), 0.95)
    assert r["p"] == pytest.approx(exact_sign_flip_p(d)) and r["p_floor"] == pytest.approx(2 / 2**8)
    assert sum(len(block) for block in intervals.swaps(8)) == 2**7
    assert len(calls) <= 2 * (2**7 + 2 * (8 + 1)) + 4  # the swaps' two values, the jackknife's, the estimate
