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
from .scoring import HIGHER_IS_BETTER, group_metrics, groups

# `adapter`: base, or the training run's path under the model; its dimensions follow (RUN_COLUMNS).
COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n"]
DIFFERENCE_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low", "ci_high",
                      "p", "p_adjusted", "verdict", "n"]
COVERAGE_COLUMNS = ["model", "adapter", "set", "task", "lang", "evaluated", "compared", "not_compared",
                    "skipped_prompt_too_long"]


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


def with_run_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the run's dimensions (RUN_COLUMNS) after its `adapter` column."""
    parsed = pd.DataFrame([parse_adapter(a) for a in table["adapter"]], columns=RUN_COLUMNS, index=table.index)
    parsed["seed"] = parsed["seed"].astype("Int64")
    at = table.columns.get_loc("adapter") + 1
    return pd.concat([table.iloc[:, :at], parsed, table.iloc[:, at:]], axis=1)


def run_of(generations: Path, root: Path) -> tuple[str, str]:
    """(model, adapter) of an evaluation run from the path of its generations under `root`
    (`<root>/<model>/base/generations.parquet` or `<root>/<model>/<dataset>/<recipe>/<subset>/seed<seed>/...`)."""
    parts = Path(generations).relative_to(root).parts[:-1]
    return parts[0], "/".join(parts[1:])


def common_items(by_run: dict) -> dict[tuple, set]:
    """Per (set, task, lang): the ids that every run evaluated (empty where one run has none)."""
    keys = sorted({key for grouped in by_run.values() for key in grouped})
    return {key: set.intersection(*(set(grouped.get(key, {}).get("id", [])) for grouped in by_run.values()))
            for key in keys}


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
              coverage_csv: Path) -> dict:
    """Write summary.csv, differences.csv and coverage.csv; returns counts for the log."""
    full = {key: groups(pq.read_table(path)) for key, path in sorted(runs.items())}
    common = common_items(full)
    empty = {column: [] for column in pq.read_schema(next(iter(runs.values()))).names} if runs else {}
    by_run = {run: {key: restrict(grouped.get(key, empty), ids) for key, ids in common.items()}
              for run, grouped in full.items()}
    coverage = []
    for (model, adapter), grouped in full.items():
        skipped = skipped_counts(runs[(model, adapter)])
        for key, ids in common.items():
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
        base_run = scored.get((model, "base"))
        if adapter == "base" or base_run is None:
            continue
        rows = []
        for key, metrics in grouped.items():
            if by_run[(model, "base")][key]["id"] != by_run[(model, adapter)][key]["id"]:
                raise InputError(f"evaluation of {model}/{adapter} and {model}/base cover different items of {key}")
            for name, metric in metrics.items():
                if name not in base_run[key]:
                    continue
                base = base_run[key][name]
                d = paired_jackknife_t(base.stats, metric.stats, metric.value, settings.confidence)
                rows.append([model, adapter, *key, name, d["base"], d["tuned"], d["diff"], d["ci_low"],
                             d["ci_high"], d["p"], np.nan, None, d["n"]])
        # one family per adapter: the comparisons that can get a verdict
        col = {name: DIFFERENCE_COLUMNS.index(name) for name in ("metric", "diff", "p", "p_adjusted", "verdict", "n")}
        eligible = [i for i, r in enumerate(rows) if r[col["n"]] >= settings.min_items]
        adjusted = benjamini_hochberg([rows[i][col["p"]] for i in eligible])
        for i, p_adjusted in zip(eligible, adjusted):
            rows[i][col["p_adjusted"]] = p_adjusted
        for r in rows:
            r[col["verdict"]] = verdict(r[col["diff"]], r[col["p_adjusted"]], r[col["n"]], min_items=settings.min_items,
                                        alpha=1 - settings.confidence, higher_is_better=HIGHER_IS_BETTER[r[col["metric"]]])
        differences += rows
    for path, rows, columns in ((summary_csv, summary, COLUMNS), (differences_csv, differences, DIFFERENCE_COLUMNS),
                                (coverage_csv, coverage, COVERAGE_COLUMNS)):
        with atomic_file(path) as tmp:
            with_run_columns(pd.DataFrame(rows, columns=columns)).to_csv(tmp, index=False, float_format="%.6g")
    return {"method": METHOD, "values": len(summary), "comparisons": len(differences),
            "verdicts": {v: sum(r[-2] == v for r in differences) for v in sorted({r[-2] for r in differences})}}
