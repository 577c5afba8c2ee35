"""The report's section on the dimensions of the runs: recipes side by side (does the study's recipe
reproduce its failures, does the corrected one fix them), the training-set size, and the seeds.
Every row is a paired comparison on the items both runs evaluated with its interval, or a change
combined across seeds with an interval over items and seeds; every sentence carries its numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..evaluation.scoring import DEGENERATION
from ..evaluation.summary import adapter_of
from ..tasks import HEADLINE
from ..train.seen import budget_limited as stopped_short
from .evaluation import group_title
from .format import interval_cell

# What the study's failures look like in numbers: answers that do not stop, that run into a new
# turn, that repeat themselves.
FAILURES = ("stop_rate", "marker_rate", "repetition_rate")


def _shown(table: pd.DataFrame) -> pd.DataFrame:
    """The headline metric of each group and the degeneration measures, not on the study's probes
    (single prompts: examples, not measurements)."""
    keep = (table["metric"] == table["task"].map(HEADLINE)) | table["metric"].isin(DEGENERATION)
    return table[keep & ~table["set"].str.startswith("study_probes")]


def contrast_rows(contrasts: pd.DataFrame, dimension: str) -> list[dict]:
    part = _shown(contrasts[contrasts["dimension"] == dimension])
    return [{"model": r["model"], "from": r["from"], "to": r["to"], "group": group_title(r["set"], r["task"], r["lang"]),
             "metric": r["metric"], "from_value": interval_cell(r["from_value"], math.nan, math.nan),
             "to_value": interval_cell(r["to_value"], math.nan, math.nan),
             "diff": interval_cell(r["diff"], r["ci_low"], r["ci_high"]), "n": r["n"],
             "p_adjusted": "–" if r["p_adjusted"] != r["p_adjusted"] else f"{r['p_adjusted']:.3g}",
             "verdict": r["verdict"] + (f" ({r['budget']})" if r.get("budget") else "")}
            for r in part.to_dict("records")]


def budgets(training_summary_csv: Path | None) -> dict[tuple[str, str], tuple[int, int]]:
    """(model, adapter) -> (examples the optimizer saw, training examples), from the training summary."""
    if training_summary_csv is None:
        return {}
    table = pd.read_csv(training_summary_csv, dtype={"subset": str})
    return {(r.model, adapter_of(r.dataset, r.recipe, r.subset, r.seed)): (int(r.examples_seen), int(r.train_examples))
            for r in table.itertuples()}


def budget_limited(row: dict, seen: dict) -> str:
    """Why a size contrast says nothing about size: both runs stopped (max_steps) before covering
    their own subset (`train.seen.budget_limited`), so the sizes differ in which examples, not in
    how many; else ""."""
    a, b = seen.get((row["model"], row["from"])), seen.get((row["model"], row["to"]))
    if a is None or b is None or not stopped_short(a, b):
        return ""
    return f"budget-limited: {a[0]} and {b[0]} examples seen, of {a[1]} and {b[1]}"


def runs_context(contrasts_csv: Path, seeds_csv: Path, confidence: float, min_items: int,
                 training_summary_csv: Path | None = None, equivalence: dict | None = None) -> dict:
    """`equivalence` (the config's margins) is shown by the report's opening summary (claims.py)."""
    contrasts = pd.read_csv(contrasts_csv, dtype={"from": str, "to": str})
    seen = budgets(training_summary_csv)
    contrasts["budget"] = [budget_limited(r, seen) if r["dimension"] == "subset" else ""
                           for r in contrasts.to_dict("records")]
    seeds = pd.read_csv(seeds_csv, dtype={"subset": str})
    several = seeds[seeds["seeds"] > 1]
    seed_rows = [{"run": f"{r.model} / {r.dataset} / {r.recipe} / {r.subset}", "against": r.against,
                  "group": group_title(r.set, r.task, r.lang), "metric": r.metric, "seeds": int(r.seeds),
                  "value": f"{r.value_mean:.3g} ± {r.value_sd:.2g}",
                  "diff": f"{interval_cell(r.diff_mean, r.diff_ci_low, r.diff_ci_high)} (seeds {r.diff_min:+.3g} to "
                          f"{r.diff_max:+.3g})", "verdict": "" if r.verdict != r.verdict else r.verdict}
                 for r in _shown(several).itertuples()]
    return {"recipes": contrast_rows(contrasts, "recipe"), "subsets": contrast_rows(contrasts, "subset"),
            "seeds": seed_rows, "findings": runs_findings(contrasts, seeds, confidence, min_items)}


def runs_findings(contrasts: pd.DataFrame, seeds: pd.DataFrame, confidence: float, min_items: int) -> list[str]:
    """What the recipe, size and seed comparisons show, or that there was nothing to compare."""
    level = f"{100 * confidence:g} %"
    out = []
    recipes = contrasts[contrasts["dimension"] == "recipe"]
    if recipes.empty:
        out.append("One recipe per run (train.recipes): no recipe comparison. The study's recipe and the corrected one "
                   "are compared where both are trained (config/paper.yaml).")
    for (model, a, b), part in recipes.groupby(["model", "from", "to"], sort=True):
        for metric in FAILURES:
            rows = part[(part["metric"] == metric) & ~part["set"].str.startswith("study_probes") & (part["n"] >= min_items)]
            if rows.empty:
                continue
            counts = rows["verdict"].value_counts()  # degeneration measures: each has a verdict in the pair's family
            out.append(f"{model}, {metric.replace('_', ' ')}, recipe {b.split('/')[1]} against {a.split('/')[1]} "
                       f"({a.split('/')[0]}, subset {a.split('/')[2]}, {a.split('/')[3]}): mean over {len(rows)} groups "
                       f"{rows['from_value'].mean():.2f} → {rows['to_value'].mean():.2f}; per group, "
                       f"{int(counts.get('better', 0))} better, {int(counts.get('worse', 0))} worse, "
                       f"{int(counts.get('equivalent', 0))} equivalent, {int(counts.get('inconclusive', 0))} inconclusive "
                       f"({level} intervals, Benjamini-Hochberg).")
    sizes = contrasts[contrasts["dimension"] == "subset"]
    if sizes.empty:
        out.append("One Samanantar training-set size per run (train.subsets): the study's claim that output relevance "
                   "grows with the training data is not measured here; config/sweep.yaml and config/paper.yaml train several.")
    for (model, a, b), part in sizes.groupby(["model", "from", "to"], sort=True):
        rows = part[(part["metric"] == part["task"].map(HEADLINE)) & ~part["set"].str.startswith("study_probes")
                    & (part["n"] >= min_items)]
        if rows.empty:
            continue
        if part["budget"].iloc[0]:
            out.append(f"{model}, {a.split('/')[2]} → {b.split('/')[2]} Samanantar training pairs: "
                       f"{part['budget'].iloc[0]} (max_steps ends training first), so the two sizes differ in which "
                       f"examples were trained on, not in how many; no claim about the training-set size is made.")
            continue
        counts = rows["verdict"].value_counts()
        out.append(f"{model}, {a.split('/')[2]} → {b.split('/')[2]} Samanantar training pairs ({a.split('/')[1]}, "
                   f"{a.split('/')[3]}): of {len(rows)} headline comparisons with at least {min_items} items, "
                   f"{int(counts.get('better', 0))} better and {int(counts.get('worse', 0))} worse with the larger set.")
    several = seeds[(seeds["seeds"] > 1) & (seeds["metric"] == seeds["task"].map(HEADLINE))
                    & ~seeds["set"].str.startswith("study_probes")]
    if several.empty:
        out.append("One seed per run (train.seeds): no result here says whether a difference is larger than seed noise.")
    else:
        for against, part in several.groupby(several["against"] == "base", sort=False):
            counts = part["verdict"].value_counts()
            what = "against the base model" if against else "between the runs of a recipe or size contrast, paired by seed"
            out.append(f"Across seeds ({int(part['seeds'].max())} at most), the change {what} averaged over seeds, with a "
                       f"{level} interval that holds the item sample and the seed-to-seed variance: of {len(part)} headline "
                       f"changes, {int(counts.get('better', 0))} better and {int(counts.get('worse', 0))} worse (the "
                       f"interval excludes 0), {int(counts.get('equivalent', 0))} equivalent, "
                       f"{int(counts.get('inconclusive', 0))} inconclusive, {int(counts.get('too few items', 0))} with too "
                       f"few items.")
    return out
