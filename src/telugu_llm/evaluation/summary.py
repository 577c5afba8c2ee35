"""The summary of every evaluation run: each metric with its interval, and each adapter against its
base on the same items. Runs on a CPU, without a model.

- Same items: a model whose tokenizer makes a prompt longer than evaluation.max_prompt_tokens skips
  that item, so runs of different models can cover different items. Every value in summary.csv is
  computed on the items that every run evaluated (per set, task and language), so that any two
  cells of a row compare the same items; coverage.csv says, per run and group, how many items it
  evaluated, how many are compared, and how many it skipped (and why).
- Intervals: jackknife-t over items (`intervals`), at `intervals.confidence`; `n` is the number of
  items with a value (an answer too short for trigrams has no repetition rate), and a comparison is
  over the items that have a value in both runs.
- Comparisons: fine-tuned minus base on the same items, with a two-sided p-value; per (model,
  adapter) the p-values of all its comparisons with at least `intervals.min_items` items are
  adjusted by Benjamini-Hochberg, and the verdict is better / worse only where the adjusted p is
  below 1 - confidence; a smaller group gets "too few items".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..atomic import atomic_file
from ..errors import InputError
from ..intervals import METHOD, Intervals, benjamini_hochberg, informative, jackknife_t, paired_jackknife_t, verdict
from .scoring import HIGHER_IS_BETTER, across_tokenizers, group_metrics, groups

# `adapter`: base, or the training run's path under the model; its dimensions follow (RUN_COLUMNS).
COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n"]
DIFFERENCE_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low", "ci_high",
                      "p", "p_adjusted", "verdict", "n"]
COVERAGE_COLUMNS = ["model", "adapter", "set", "task", "lang", "evaluated", "compared", "not_compared",
                    "skipped_prompt_too_long"]
# Two fine-tuned runs of a model that differ in one `dimension` (recipe or subset): `to` against `from`;
# for `vocabulary`, the same run (`from`) of the model and of its extended twin (`to`, the twin's name).
CONTRAST_COLUMNS = ["model", "dimension", "from", "to", "set", "task", "lang", "metric", "from_value", "to_value",
                    "diff", "ci_low", "ci_high", "p", "p_adjusted", "verdict", "n"]
SEED_COLUMNS = ["model", "dataset", "recipe", "subset", "set", "task", "lang", "metric", "seeds", "value_mean",
                "value_sd", "diff_mean", "diff_sd", "diff_min", "diff_max", "verdicts", "verdict_across_seeds"]


RUN_COLUMNS = ["dataset", "recipe", "subset", "seed"]


def parse_adapter(adapter: str) -> dict:
    """The dimensions of a run from its adapter name: `base`, or the path of the training run under
    the model, `<dataset>/<recipe>/<subset>/seed<seed>` (empty for the base model)."""
    if adapter == "base":
        return {"dataset": "base", "recipe": "", "subset": "", "seed": None}
    parts = adapter.split("/")
    if len(parts) != 4 or not parts[3].startswith("seed") or not parts[3][4:].isdigit():
        raise InputError(f"evaluation run {adapter!r}: expected base or <dataset>/<recipe>/<subset>/seed<seed>")
    return {"dataset": parts[0], "recipe": parts[1], "subset": parts[2], "seed": int(parts[3][4:])}


def adapter_of(dataset: str, recipe: str, subset: str, seed: int) -> str:
    """The adapter name of a training run (the inverse of `parse_adapter`)."""
    return f"{dataset}/{recipe}/{subset}/seed{seed}"


def with_run_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the run's dimensions (RUN_COLUMNS) after its `adapter` column."""
    parsed = pd.DataFrame([parse_adapter(a) for a in table["adapter"]], columns=RUN_COLUMNS, index=table.index)
    parsed["seed"] = parsed["seed"].astype("Int64")
    at = table.columns.get_loc("adapter") + 1
    return pd.concat([table.iloc[:, :at], parsed, table.iloc[:, at:]], axis=1)


def run_named(generations: Path) -> tuple[str, str]:
    """(model, adapter) of an evaluation run, as its metrics.json beside the generations names them
    (the adapter is base or the training run's path under the model)."""
    metrics = json.loads(Path(generations).with_name("metrics.json").read_text(encoding="utf-8"))
    return metrics["model"], metrics["adapter"]


def common_items(by_run: dict) -> dict[tuple, set]:
    """Per (set, task, lang): the ids that every run evaluated (empty where one run has none). The
    study's prompts in a probe template (`study_probes_<template>`, asked of the models that have
    that probe template only) count the runs that have that set."""
    keys = sorted({key for grouped in by_run.values() for key in grouped})
    out = {}
    for key in keys:
        runs = [g for g in by_run.values() if not key[0].startswith("study_probes_") or any(k[0] == key[0] for k in g)]
        out[key] = set.intersection(*(set(grouped.get(key, {}).get("id", [])) for grouped in runs))
    return out


def restrict(group: dict[str, list], ids: set) -> dict[str, list]:
    keep = [i for i, item in enumerate(group["id"]) if item in ids]
    return {column: [values[i] for i in keep] for column, values in group.items()}


def skipped_counts(generations: Path) -> dict[str, int]:
    """Items of each set/task/lang that the run skipped (prompt over the token limit), from its metrics.json."""
    metrics = Path(generations).with_name("metrics.json")
    if not metrics.exists():
        return {}
    return json.loads(metrics.read_text(encoding="utf-8")).get("skipped_prompt_too_long", {})


def summarize(runs: dict[tuple[str, str], Path], *, settings: Intervals, summary_csv: Path, differences_csv: Path,
              coverage_csv: Path, contrasts_csv: Path | None = None, seeds_csv: Path | None = None,
              twins: dict[str, str] | None = None) -> dict:
    """Write summary.csv, differences.csv and coverage.csv, and where asked contrasts.csv (runs that
    differ in one dimension, paired on the same items) and seeds.csv (across seeds); returns counts
    for the log."""
    full = {key: groups(pq.read_table(path)) for key, path in sorted(runs.items())}
    common = common_items(full)
    empty = {column: [] for column in pq.read_schema(next(iter(runs.values()))).names} if runs else {}
    by_run = {run: {key: restrict(grouped.get(key, empty), ids) for key, ids in common.items()}
              for run, grouped in full.items()}
    coverage = []
    for (model, adapter), grouped in full.items():
        skipped = skipped_counts(runs[(model, adapter)])
        for key, ids in common.items():
            if key[0].startswith("study_probes_") and not any(k[0] == key[0] for k in grouped):
                continue  # a probe template this model does not have
            evaluated = len(grouped.get(key, {}).get("id", []))
            coverage.append([model, adapter, *key, evaluated, len(ids), evaluated - len(ids),
                             skipped.get("/".join(key), 0)])
    # each group's metrics once (chrF++ and BLEU statistics are the costly part), by name
    scored = {run: {key: {m.name: m for m in group_metrics(group)} for key, group in grouped.items() if group["id"]}
              for run, grouped in by_run.items()}
    summary, differences = [], []
    for (model, adapter), grouped in scored.items():
        for key, metrics in grouped.items():
            for metric in metrics.values():
                low, high = jackknife_t(metric.stats, metric.value, settings.confidence)
                summary.append([model, adapter, *key, metric.name, metric.score(), low, high, informative(metric.stats)])
    for (model, adapter), grouped in scored.items():
        if adapter != "base" and (model, "base") in scored:
            differences += [[model, adapter, *row] for row in compare(scored, by_run, (model, "base"), (model, adapter),
                                                                       settings)]
    contrasts = []
    for dimension, pairs in contrast_pairs(list(scored)).items():
        for a, b in pairs:
            contrasts += [[a[0], dimension, a[1], b[1], *row] for row in compare(scored, by_run, a, b, settings)]
    for twin, model in sorted((twins or {}).items()):  # each run of an extended model against the same run of its base
        for run in sorted(r for r in scored if r[0] == twin):
            if (model, run[1]) in scored:  # no per-token metric between tokenizers (scoring.PER_TOKEN)
                fair = {r: {key: across_tokenizers(m) for key, m in scored[r].items()} for r in ((model, run[1]), run)}
                contrasts += [[model, "vocabulary", run[1], twin, *row]
                              for row in compare(fair, by_run, (model, run[1]), run, settings)]
    tables = {summary_csv: with_run_columns(pd.DataFrame(summary, columns=COLUMNS)),
              differences_csv: with_run_columns(pd.DataFrame(differences, columns=DIFFERENCE_COLUMNS)),
              coverage_csv: with_run_columns(pd.DataFrame(coverage, columns=COVERAGE_COLUMNS))}
    if contrasts_csv is not None:
        tables[contrasts_csv] = pd.DataFrame(contrasts, columns=CONTRAST_COLUMNS)
    if seeds_csv is not None:
        tables[seeds_csv] = across_seeds(tables[summary_csv], tables[differences_csv])
    for path, table in tables.items():
        with atomic_file(path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    return {"method": METHOD, "values": len(summary), "comparisons": len(differences), "contrasts": len(contrasts),
            "verdicts": {v: sum(r[-2] == v for r in differences) for v in sorted({r[-2] for r in differences})}}


def compare(scored: dict, by_run: dict, reference: tuple[str, str], run: tuple[str, str], settings: Intervals) -> list[list]:
    """`run` against `reference` on the same items: per (set, task, lang) and metric, [set, task, lang,
    metric, reference value, run value, diff, ci_low, ci_high, p, p_adjusted, verdict, n]. One family
    for the false-discovery-rate correction: the comparisons with at least `min_items` items."""
    rows = []
    for key, metrics in scored[run].items():
        if by_run[reference][key]["id"] != by_run[run][key]["id"]:
            raise InputError(f"evaluation of {'/'.join(run)} and {'/'.join(reference)} cover different items of {key}")
        for name, metric in metrics.items():
            if name not in scored[reference].get(key, {}):
                continue
            d = paired_jackknife_t(scored[reference][key][name].stats, metric.stats, metric.value, settings.confidence)
            rows.append([*key, name, d["base"], d["tuned"], d["diff"], d["ci_low"], d["ci_high"], d["p"], np.nan, None,
                         d["n"]])
    eligible = [i for i, r in enumerate(rows) if r[-1] >= settings.min_items]
    for i, p_adjusted in zip(eligible, benjamini_hochberg([rows[i][9] for i in eligible])):
        rows[i][10] = p_adjusted
    for r in rows:
        r[11] = verdict(r[6], r[10], r[12], min_items=settings.min_items, alpha=1 - settings.confidence,
                        higher_is_better=HIGHER_IS_BETTER[r[3]])
    return rows


def contrast_pairs(runs: list[tuple[str, str]]) -> dict[str, list[tuple[tuple[str, str], tuple[str, str]]]]:
    """Pairs of fine-tuned runs of one model that differ in one dimension only: `recipe` (each recipe
    against the study's, everything else equal; without it, against the first in name order) and
    `subset` (each larger Samanantar subset against the smallest)."""
    tuned = [(model, adapter, parse_adapter(adapter)) for model, adapter in runs if adapter != "base"]
    out: dict[str, list] = {"recipe": [], "subset": []}
    for dimension in out:
        held = [d for d in RUN_COLUMNS if d != dimension]
        families: dict[tuple, list] = {}
        for model, adapter, dims in tuned:
            if dimension == "subset" and not dims["subset"].isdigit():
                continue
            families.setdefault((model, *(dims[d] for d in held)), []).append((dims[dimension], (model, adapter)))
        for members in families.values():
            members.sort(key=lambda m: int(m[0]) if dimension == "subset" else (m[0] != "study", m[0]))
            out[dimension] += [(members[0][1], run) for _, run in members[1:]]
    return out


def across_seeds(summary: pd.DataFrame, differences: pd.DataFrame) -> pd.DataFrame:
    """Per run without its seed and per (set, task, lang, metric): the value's mean and standard
    deviation across seeds, and of the change against the base, with each seed's verdict. A change
    holds across seeds (`verdict_across_seeds`) only where every seed's own verdict says the same."""
    keys = ["model", "dataset", "recipe", "subset", "set", "task", "lang", "metric"]
    tuned = summary[summary["adapter"] != "base"]
    if tuned.empty:
        return pd.DataFrame(columns=SEED_COLUMNS)
    values = tuned.groupby(keys, dropna=False).agg(seeds=("seed", "nunique"), value_mean=("value", "mean"),
                                                   value_sd=("value", "std"))
    diffs = differences.groupby(keys, dropna=False).agg(diff_mean=("diff", "mean"), diff_sd=("diff", "std"),
                                                        diff_min=("diff", "min"), diff_max=("diff", "max"),
                                                        verdicts=("verdict", lambda v: ", ".join(sorted(v))))
    out = values.join(diffs, how="left").reset_index()

    def holds(verdicts) -> str:
        each = set(str(verdicts).split(", "))
        if "too few items" in each:
            return "too few items"
        return each.pop() if len(each) == 1 else "not the same on every seed"

    out["verdict_across_seeds"] = [holds(v) if v == v else "no comparison" for v in out["verdicts"]]
    return out[SEED_COLUMNS]
