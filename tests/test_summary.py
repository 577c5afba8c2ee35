"""The evaluation summary's claims (issue 21): each comparison on the items both of its runs
evaluated, one Benjamini-Hochberg family per claim with verdicts on the headline metric and the
degeneration measures only, equivalence within a stated margin, clusters of items that share a
source, and changes combined across seeds with an interval that holds the seed variance."""

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from telugu_llm.evaluation.summary import CONTRAST_COLUMNS, SEED_COLUMNS, summarize
from telugu_llm.intervals import Intervals

RUN = "samanantar/corrected/200/seed1"
SETTINGS = Intervals(0.95, 6, {"f1": 0.05, "stop_rate": 0.05})


def write_run(root: Path, model: str, adapter: str, items: dict[str, float], skipped: int = 0,
              sources: dict[str, str] | None = None) -> Path:
    """A run's generations: qa items with the given F1 (and exact match), every answer stopped."""
    nan = math.nan
    rows = [{"id": item, "set": "embedded", "task": "qa", "lang": "en", "instruction": "q", "prompt": "q",
             "reference": "a", "references": ["a"], "output": "a", "stop_reason": "eos", "prompt_tokens": 3,
             "new_tokens": 1, "nll": nan, "ref_tokens": 0, "ref_chars": 1, "repetition_rate": nan, "stopped": 1.0,
             "marker": 0.0, "script_fidelity": 1.0, "exact_match": float(f1 > 0.5), "f1": f1, "rouge_l": nan,
             "refusal": nan, **({"cluster": sources[item]} if sources else {})} for item, f1 in items.items()]
    out = root / model / adapter
    out.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), out / "generations.parquet")
    (out / "metrics.json").write_text(json.dumps({"model": model, "adapter": adapter, "items": len(items),
                                                  "skipped_prompt_too_long": {"embedded/qa/en": skipped} if skipped else {}}))
    return out / "generations.parquet"


def run_summary(tmp_path, runs, settings=SETTINGS) -> dict[str, pd.DataFrame]:
    out = {name: tmp_path / f"{name}.csv" for name in ("s", "d", "c", "contrasts", "seeds")}
    summarize(runs, settings=settings, summary_csv=out["s"], differences_csv=out["d"], coverage_csv=out["c"],
              contrasts_csv=out["contrasts"], seeds_csv=out["seeds"])
    return {name: pd.read_csv(path, dtype={"subset": str, "from": str, "to": str}) for name, path in out.items()}


BASE = {f"i{k}": 0.1 * (k % 3) for k in range(10)}
BETTER = {k: v + 0.5 + 0.01 * i for i, (k, v) in enumerate(BASE.items())}


def test_each_comparison_is_on_the_items_its_two_runs_evaluated(tmp_path):
    """Model b skipped i9: a's own base-against-tuned comparison and a's values keep all 10 items;
    only the rows that compare models, labelled so, are on the 9 items every run evaluated."""
    runs = {("a", "base"): write_run(tmp_path, "a", "base", BASE), ("a", RUN): write_run(tmp_path, "a", RUN, BETTER),
            ("b", "base"): write_run(tmp_path, "b", "base", {k: BASE[k] for k in list(BASE)[:9]}, skipped=1)}
    t = run_summary(tmp_path, runs)
    d = t["d"].set_index("metric")
    assert d.loc["f1", "n"] == 10 and d.loc["f1", "verdict"] == "better"
    f1 = t["s"][t["s"]["metric"] == "f1"]
    own = f1[f1["items"] == "own"].set_index(["model", "adapter"])
    assert own.loc[("a", "base"), "n"] == 10 and own.loc[("b", "base"), "n"] == 9
    common = f1[f1["items"] == "common to all runs"]
    assert set(common["n"]) == {9} and len(common) == 3
    c = t["c"].set_index(["model", "adapter"])
    assert c.loc[("a", RUN), "compared_with"] == "base" and c.loc[("a", RUN), "compared"] == 10
    assert c.loc[("a", RUN), "not_compared"] == 0 and c.loc[("a", RUN), "common"] == 9
    assert c.loc[("b", "base"), "skipped_prompt_too_long"] == 1 and c.loc[("b", "base"), "evaluated"] == 9


def test_a_tuned_run_whose_base_is_not_evaluated_says_so(tmp_path):
    t = run_summary(tmp_path, {("a", RUN): write_run(tmp_path, "a", RUN, BETTER)})
    assert t["d"].empty and list(t["c"]["compared_with"]) == ["base not evaluated"]


def test_verdicts_only_on_the_claims_one_family_each(tmp_path):
    """F1 is the headline of qa, stop rate a degeneration measure: they get verdicts in the run's
    family; exact match is shown with its interval but no verdict and no p-value (nothing rests on
    it; BLEU's permutation test alone was 10,000 sacrebleu calls a comparison), and is not in the family."""
    runs = {("a", "base"): write_run(tmp_path, "a", "base", BASE), ("a", RUN): write_run(tmp_path, "a", RUN, BETTER)}
    d = run_summary(tmp_path, runs)["d"].set_index("metric")
    family = f"base vs tuned: a {RUN}"
    assert d.loc["f1", "family"] == family and d.loc["f1", "clusters"] == 10
    assert d.loc["stop_rate", "family"] == family and d.loc["stop_rate", "verdict"] == "equivalent"  # 0, inside 0.05
    em = d.loc["exact_match"]
    assert em["verdict"] != em["verdict"] and em["family"] != em["family"] and math.isnan(em["p_adjusted"])
    assert math.isnan(em["p"]) and em["ci_low"] == em["ci_low"]  # its interval is shown
    assert d.loc["f1", "p"] == d.loc["f1", "p"]
    assert set(d["verdict"].dropna()) <= {"better", "worse", "inconclusive", "equivalent", "too few items"}


def test_no_difference_is_inconclusive_unless_inside_the_margin(tmp_path):
    noisy = {k: v + (0.3 if i % 2 else -0.3) for i, (k, v) in enumerate(BASE.items())}
    runs = {("a", "base"): write_run(tmp_path, "a", "base", BASE), ("a", RUN): write_run(tmp_path, "a", RUN, noisy)}
    d = run_summary(tmp_path, runs)["d"].set_index("metric")
    assert d.loc["f1", "verdict"] == "inconclusive"
    runs[("a", RUN)] = write_run(tmp_path / "x", "a", RUN, {k: v + 0.001 * (i % 2) for i, (k, v) in enumerate(BASE.items())})
    d = run_summary(tmp_path, runs)["d"].set_index("metric")
    assert d.loc["f1", "verdict"] == "equivalent"


def test_items_that_share_a_source_are_one_cluster(tmp_path):
    """Five contexts of two questions each: the permutation swaps and the jackknife leaves out a
    context whole (5 clusters: no 5 % test exists, so the p-value cannot go below 2/32)."""
    sources = {k: f"ctx{int(k[1:]) // 2}" for k in BASE}
    runs = {("a", "base"): write_run(tmp_path, "a", "base", BASE, sources=sources),
            ("a", RUN): write_run(tmp_path, "a", RUN, BETTER, sources=sources)}
    d = run_summary(tmp_path, runs)["d"].set_index("metric")
    assert d.loc["f1", "n"] == 10 and d.loc["f1", "clusters"] == 5 and d.loc["f1", "p"] == pytest.approx(2 / 32)


def test_changes_are_combined_across_seeds(tmp_path):
    """Two seeds with a clear, consistent change: one row with its interval over items and seeds and
    a verdict; one seed: no interval ("too few seeds"); the recipe contrast across its seeds too."""
    up = lambda delta: {k: v + delta + 0.01 * i for i, (k, v) in enumerate(BASE.items())}  # noqa: E731
    adapters = {"samanantar/corrected/200/seed1": up(0.5), "samanantar/corrected/200/seed2": up(0.45),
                "samanantar/study/200/seed1": up(0.0), "samanantar/study/200/seed2": up(0.02),
                "guanaco/corrected/all/seed1": up(0.3)}
    runs = {("m", "base"): write_run(tmp_path, "m", "base", BASE)}
    runs.update({("m", a): write_run(tmp_path, "m", a, items) for a, items in adapters.items()})
    t = run_summary(tmp_path, runs)
    seeds = t["seeds"]
    assert list(seeds.columns) == SEED_COLUMNS and list(t["contrasts"].columns) == CONTRAST_COLUMNS
    f1 = seeds[seeds["metric"] == "f1"].set_index(["dataset", "recipe", "against"])
    two = f1.loc[("samanantar", "corrected", "base")]
    assert two["seeds"] == 2 and two["diff_mean"] == pytest.approx(0.475 + 0.045)
    assert 0 < two["diff_ci_low"] < two["diff_mean"] < two["diff_ci_high"] and two["verdict"] == "better"
    one = f1.loc[("guanaco", "corrected", "base")]
    assert one["seeds"] == 1 and one["verdict"] == "too few seeds" and math.isnan(one["diff_ci_low"])
    recipe = f1.loc[("samanantar", "corrected", "samanantar/study/200")]
    assert recipe["seeds"] == 2 and recipe["diff_mean"] == pytest.approx(0.465)
    assert recipe["verdict"] == "better"
    assert set(t["contrasts"]["family"].dropna()) == {"recipe: m samanantar/study/200/seed1 vs samanantar/corrected/200/seed1",
                                                      "recipe: m samanantar/study/200/seed2 vs samanantar/corrected/200/seed2"}


def test_mean_and_likelihood_metrics_are_evaluated_on_many_rows_at_once():
    """The permutation test evaluates a metric 2^(g-1) or 10,000 times: means, perplexity and bits per
    character take all rows in one call, with the metric's own values, and so does chrF++ (sacrebleu's
    formula on arrays; before, one sacrebleu call per row); a metric whose own value disagrees keeps its own."""
    import numpy as np

    from telugu_llm.evaluation import metrics as M
    from telugu_llm.evaluation.summary import vectorised

    rng = np.random.default_rng(0)
    rows = np.abs(rng.normal(size=(50, 2))) + 0.1
    for metric in (M.mean_metric("f1", [0.5, float("nan"), 0.25, 1.0]), M.perplexity_metric([3.0, 9.0, 0.5], [2, 7, 1]),
                   M.bits_per_char_metric([3.0, 9.0, 0.5], [5, 20, 3])):
        fast = vectorised(metric)
        assert fast is not metric.value, metric.name
        assert np.allclose(fast(rows.T), [metric.value(r) for r in rows], rtol=1e-12, atol=0)
    hypotheses = ["a b c", "d e", "", "వర్షం పడింది.", "the rain in the village", "x"]
    references = [["a b c"], ["d f"], ["empty answer"], ["వర్షం పడుతోంది."], ["rain in villages"], [""]]
    chrf = M.chrf_pp(hypotheses, references)
    fast = vectorised(chrf)
    assert fast is not chrf.value
    subsets = rng.integers(0, 2, size=(200, len(hypotheses))).astype(float) @ chrf.stats  # sums of any items
    assert np.allclose(fast(subsets.T), [chrf.value(r) for r in subsets], rtol=1e-12, atol=1e-12)
    odd = M.Metric("f1", np.array([[1.0, 2.0], [2.0, 2.0]]), lambda s: float(s[0] / s[1] ** 2))
    assert vectorised(odd) is odd.value
