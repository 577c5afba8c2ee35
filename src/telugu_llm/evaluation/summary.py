"""The summary of every evaluation run: each metric with its interval, each adapter against its
base, and runs against runs, each comparison on the items both of its runs evaluated. Runs on a
CPU, without a model.

- Items: a model whose tokenizer makes a prompt longer than evaluation.max_prompt_tokens skips that
  item, so runs of different models can cover different items. Each run's values in summary.csv
  are on its own items (`items` "own"); where the runs of a group did not all evaluate the same
  items, the values on the items every run evaluated follow, labelled "common to all runs", for the
  table that compares models. Each comparison (base against tuned, recipe against recipe, twin
  against base) is on the items both of its runs evaluated, never cut by a third run. coverage.csv
  says, per run and group, what it evaluated, what it skipped (and why), what its comparison with
  its base covers, and how many items every run evaluated.
- Intervals: jackknife-t over clusters (`intervals`), at `intervals.confidence`; rates on the logit
  scale, perplexity and bits per character on the log scale. The generations column `cluster` (items
  that share a source: a translation pair's two directions, a context's questions) makes the
  clusters; without it each item is its own.
- Verdicts: only on each task's headline metric and the degeneration measures ("claimed"); the
  other metrics keep their interval and p-value, with no verdict. One Benjamini-Hochberg family per
  claim (`family`: one adapter against its base, one recipe or size pair, one twin against its
  base), over its claimed comparisons with at least `intervals.min_items` items; better / worse
  where the adjusted permutation p is below 1 - confidence; equivalent where the interval lies
  inside +/- intervals.equivalence[metric]; else inconclusive, or too few items.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..atomic import atomic_file
from ..errors import InputError
from ..intervals import (METHOD, Intervals, across_seeds, benjamini_hochberg, informative, jackknife_t,
                         paired_jackknife_t, seed_verdict, verdict)
from ..tasks import HEADLINE
from .scoring import DEGENERATION, HIGHER_IS_BETTER, across_tokenizers, group_metrics, groups

# `adapter`: base, or the training run's path under the model; its dimensions follow (RUN_COLUMNS).
COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n", "items"]
DIFFERENCE_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low", "ci_high",
                      "p", "p_adjusted", "verdict", "n", "clusters", "family"]
COVERAGE_COLUMNS = ["model", "adapter", "set", "task", "lang", "evaluated", "skipped_prompt_too_long", "compared_with",
                    "compared", "not_compared", "common"]
# Two fine-tuned runs of a model that differ in one `dimension` (recipe or subset): `to` against `from`;
# for `vocabulary`, the same run (`from`) of the model and of its extended twin (`to`, the twin's name).
CONTRAST_COLUMNS = ["model", "dimension", "from", "to", "set", "task", "lang", "metric", "from_value", "to_value",
                    "diff", "ci_low", "ci_high", "p", "p_adjusted", "verdict", "n", "clusters", "family"]
# Per training run without its seed, against the base (`against` base) or a contrast's other run
# (paired by seed): the change combined over seeds, with an interval that holds the seed variance.
SEED_COLUMNS = ["model", "dataset", "recipe", "subset", "against", "set", "task", "lang", "metric", "seeds",
                "value_mean", "value_sd", "diff_mean", "diff_sd", "diff_min", "diff_max", "diff_ci_low", "diff_ci_high",
                "n", "clusters", "verdict"]
OWN, COMMON = "own", "common to all runs"
NOT_EVALUATED = "base not evaluated"  # coverage.csv's compared_with for a tuned run without its base
SCALE = {"chrf++": None, "bleu_intl": None, "perplexity": "log", "bits_per_char": "log"}  # else a rate: logit


# The value of summed statistics on many rows at once (columns: one per statistic), where a metric's
# own `value` takes one row: means (every metric not in SCALE) and the two likelihood metrics. A
# permutation test evaluates it 2^(g-1) or 10,000 times per comparison. Used only where it agrees
# with the metric's own value on the metric's statistics (`vectorised`).
def _chrf(s, beta: float = 2.0):
    """sacrebleu 2's chrF (CHRF._compute_f_score, effective-order averaging, no eps smoothing) on many
    rows of summed statistics at once: rows of [hyp, ref, match] per n-gram order (6 character
    orders and, for chrF++, 2 word orders). sacrebleu's own takes one row: 10,000 Python calls per
    Monte Carlo permutation test of a translation comparison."""
    s = np.asarray(s, dtype=float)
    hyp, ref, match = s[0::3], s[1::3], s[2::3]
    with np.errstate(divide="ignore", invalid="ignore"):
        both = (hyp > 0) & (ref > 0)
        effective = both.sum(axis=0)
        prec = np.where(both, match / np.where(hyp > 0, hyp, 1), 0.0).sum(axis=0) / np.maximum(effective, 1)
        rec = np.where(both, match / np.where(ref > 0, ref, 1), 0.0).sum(axis=0) / np.maximum(effective, 1)
        factor = beta ** 2
        score = (1 + factor) * prec * rec / (factor * prec + rec)
    return np.where(prec + rec > 0, 100 * score, 0.0)


VECTORISED = {"perplexity": lambda s: np.exp(s[0] / s[1]), "bits_per_char": lambda s: s[0] / s[1] / np.log(2),
              "chrf++": _chrf}


def _ratio(s):
    return s[0] / s[1]


def vectorised(metric):
    """The metric's value as a function of many rows of sums at once, where one is known and agrees
    with the metric's own on its total and its leave-one-out sums; else the metric's own value."""
    fast = VECTORISED.get(metric.name, _ratio if metric.name not in SCALE else None)
    if fast is None or not len(metric.stats):
        return metric.value
    total = metric.stats.sum(axis=0)
    rows = np.vstack([total, total - metric.stats])
    try:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            own = np.array([metric.value(r) for r in rows], dtype=float)
            got = np.asarray(fast(rows.T), dtype=float)
    except (ArithmeticError, ValueError):
        return metric.value
    agree = got.shape == own.shape and np.allclose(got, own, rtol=1e-12, atol=0, equal_nan=True)
    return fast if agree else metric.value


def claimed(task: str, metric: str) -> bool:
    """Whether a comparison of this metric gets a verdict: the task's headline metric or a degeneration measure."""
    return metric == HEADLINE.get(task) or metric in DEGENERATION


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


class Scored:
    """Each run's groups, and their metrics on any subset of their items (computed once each)."""

    def __init__(self, full: dict):
        self.full = full
        self._cache: dict = {}

    def metrics(self, run: tuple[str, str], key: tuple, ids: frozenset | None = None) -> dict:
        group = self.full[run].get(key)
        if group is None:
            return {}
        ids = frozenset(group["id"]) if ids is None else ids
        if (run, key, ids) not in self._cache:
            part = restrict(group, ids)
            self._cache[(run, key, ids)] = {m.name: m for m in group_metrics(part)} if part["id"] else {}
        return self._cache[(run, key, ids)]

    def ids(self, run: tuple[str, str], key: tuple) -> set:
        return set(self.full[run].get(key, {}).get("id", []))

    def clusters(self, run: tuple[str, str], key: tuple, ids: frozenset):
        """The `cluster` of each item (in id order) where the generations carry one, else None."""
        group = self.full[run][key]
        if "cluster" not in group:
            return None
        return [c if c else i for i, c in zip(group["id"], group["cluster"]) if i in ids]


def summarize(runs: dict[tuple[str, str], Path], *, settings: Intervals, summary_csv: Path, differences_csv: Path,
              coverage_csv: Path, contrasts_csv: Path | None = None, seeds_csv: Path | None = None,
              twins: dict[str, str] | None = None) -> dict:
    """Write summary.csv, differences.csv and coverage.csv, and where asked contrasts.csv (runs that
    differ in one dimension, paired on their common items) and seeds.csv (across seeds); returns
    counts for the log."""
    scored = Scored({key: groups(pq.read_table(path)) for key, path in sorted(runs.items())})
    common = common_items(scored.full)
    summary, differences, coverage = [], [], []
    for run in scored.full:
        for key in scored.full[run]:
            summary += value_rows(scored, run, key, None, OWN, settings)
    for key, ids in common.items():
        having = [r for r in scored.full if key in scored.full[r]]
        if ids and any(scored.ids(r, key) != ids for r in having):
            for run in having:
                summary += value_rows(scored, run, key, frozenset(ids), COMMON, settings)
    for (model, adapter) in scored.full:
        if adapter != "base" and (model, "base") in scored.full:
            family = f"base vs tuned: {model} {adapter}"
            differences += [[model, adapter, *row] for row in compare(scored, (model, "base"), (model, adapter),
                                                                       settings, family)]
    for (model, adapter), grouped in scored.full.items():
        skipped = skipped_counts(runs[(model, adapter)])
        base = (model, "base") if adapter != "base" and (model, "base") in scored.full else None
        for key, ids in common.items():
            if key[0].startswith("study_probes_") and not any(k[0] == key[0] for k in grouped):
                continue  # a probe template this model does not have
            own = scored.ids((model, adapter), key)
            with_base = len(own & scored.ids(base, key)) if base else 0
            coverage.append([model, adapter, *key, len(own), skipped.get("/".join(key), 0),
                             "base" if base else ("" if adapter == "base" else NOT_EVALUATED),
                             with_base if base else 0, len(own) - with_base if base else 0, len(ids)])
    contrasts = []
    for dimension, pairs in contrast_pairs(list(scored.full)).items():
        for a, b in pairs:
            family = f"{dimension}: {a[0]} {a[1]} vs {b[1]}"
            contrasts += [[a[0], dimension, a[1], b[1], *row] for row in compare(scored, a, b, settings, family)]
    for twin, model in sorted((twins or {}).items()):  # each run of an extended model against the same run of its base
        for run in sorted(r for r in scored.full if r[0] == twin):
            if (model, run[1]) in scored.full:  # no per-token metric between tokenizers (scoring.PER_TOKEN)
                family = f"twin vs base: {twin} vs {model} {run[1]}"
                contrasts += [[model, "vocabulary", run[1], twin, *row] for row in
                              compare(scored, (model, run[1]), run, settings, family, select=across_tokenizers)]
    tables = {summary_csv: with_run_columns(pd.DataFrame(summary, columns=COLUMNS)),
              differences_csv: with_run_columns(pd.DataFrame(differences, columns=DIFFERENCE_COLUMNS)),
              coverage_csv: with_run_columns(pd.DataFrame(coverage, columns=COVERAGE_COLUMNS))}
    if contrasts_csv is not None:
        tables[contrasts_csv] = pd.DataFrame(contrasts, columns=CONTRAST_COLUMNS)
    if seeds_csv is not None:
        tables[seeds_csv] = pd.DataFrame(seed_rows(scored, settings), columns=SEED_COLUMNS)
    for path, table in tables.items():
        with atomic_file(path) as tmp:
            table.to_csv(tmp, index=False, float_format="%.6g")
    verdicts = [r[13] for r in differences if r[13]]
    return {"method": METHOD, "values": len(summary), "comparisons": len(differences), "contrasts": len(contrasts),
            "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))}}


def value_rows(scored: Scored, run: tuple[str, str], key: tuple, ids: frozenset | None, label: str,
               settings: Intervals) -> list[list]:
    """One run's values on a group (its own items, or `ids`), each with its interval."""
    rows = []
    ids = frozenset(scored.ids(run, key)) if ids is None else ids
    clusters = scored.clusters(run, key, ids)
    for metric in scored.metrics(run, key, ids).values():
        low, high = jackknife_t(metric.stats, vectorised(metric), settings.confidence, clusters,
                                scale=SCALE.get(metric.name, "logit"))
        rows.append([*run, *key, metric.name, metric.score(), low, high, informative(metric.stats), label])
    return rows


def compare(scored: Scored, reference: tuple[str, str], run: tuple[str, str], settings: Intervals,
            family: str, select=None) -> list[list]:
    """`run` against `reference` on the items both evaluated: per (set, task, lang) and metric, [set,
    task, lang, metric, reference value, run value, diff, ci_low, ci_high, p, p_adjusted, verdict, n,
    clusters, family]. One Benjamini-Hochberg family (`family`): the claimed comparisons with at least
    `min_items` items; the others get no verdict (and no family). `select`: the metrics (by name) of
    a group that this comparison may use (None: all)."""
    rows = []
    for key in scored.full[run]:
        ids = frozenset(scored.ids(run, key) & scored.ids(reference, key))
        if not ids:
            continue
        mine, theirs = scored.metrics(run, key, ids), scored.metrics(reference, key, ids)
        if select is not None:
            mine = select(mine)
        clusters = scored.clusters(run, key, ids)
        if clusters != scored.clusters(reference, key, ids):
            raise InputError(f"evaluation of {'/'.join(run)} and {'/'.join(reference)} give the items of {key} "
                             "different clusters")
        for name, metric in mine.items():
            if name not in theirs:
                continue
            # a p-value only where a verdict is given: a secondary metric is shown with its interval
            d = paired_jackknife_t(theirs[name].stats, metric.stats, vectorised(metric), settings.confidence, clusters,
                                   p_value=claimed(key[1], name))
            rows.append([*key, name, d["base"], d["tuned"], d["diff"], d["ci_low"], d["ci_high"], d["p"], np.nan, "",
                         d["n"], d["clusters"], family if claimed(key[1], name) else ""])
    eligible = [i for i, r in enumerate(rows) if r[14] and r[12] >= settings.min_items]
    for i, p_adjusted in zip(eligible, benjamini_hochberg([rows[i][9] for i in eligible])):
        rows[i][10] = p_adjusted
    for r in rows:
        if r[14]:
            r[11] = verdict(r[6], r[10], r[12], min_items=settings.min_items, alpha=1 - settings.confidence,
                            higher_is_better=HIGHER_IS_BETTER[r[3]], interval=(r[7], r[8]),
                            margin=settings.equivalence.get(r[3]))
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


def seed_families(runs: list[tuple[str, str]]) -> list[tuple[list, list, str]]:
    """([reference runs], [tuned runs], against) per training run without its seed: against its
    base (one reference), and against the other run of each recipe or size contrast, paired by seed."""
    out = []
    by_run: dict[tuple, list] = {}
    for model, adapter in runs:
        if adapter != "base":
            d = parse_adapter(adapter)
            by_run.setdefault((model, d["dataset"], d["recipe"], d["subset"]), []).append((model, adapter))
    for (model, *_), tuned in sorted(by_run.items()):
        if (model, "base") in runs:
            out.append(([(model, "base")], sorted(tuned), "base"))
    for pairs in contrast_pairs(runs).values():
        grouped: dict[tuple, list] = {}
        for a, b in pairs:
            strip = (a[0], a[1].rsplit("/", 1)[0], b[1].rsplit("/", 1)[0])
            grouped.setdefault(strip, []).append((a, b))
        for (_, against, _), members in sorted(grouped.items()):
            members.sort()
            out.append(([a for a, _ in members], [b for _, b in members], against))
    return out


def seed_rows(scored: Scored, settings: Intervals) -> list[list]:
    """seeds.csv: each family of seed_families, per group and metric on the items every run of it
    evaluated; a verdict (claimed metrics only) where the interval over items and seeds allows one."""
    rows = []
    for reference, tuned, against in seed_families(list(scored.full)):
        d = parse_adapter(tuned[0][1])
        for key in scored.full[tuned[0]]:
            ids = frozenset(set.intersection(*(scored.ids(r, key) for r in (*reference, *tuned))))
            if not ids:
                continue
            ref = [scored.metrics(r, key, ids) for r in reference]
            mine = [scored.metrics(r, key, ids) for r in tuned]
            for name in mine[0]:
                if not all(name in m for m in (*ref, *mine)):
                    continue
                metric = mine[0][name]
                c = across_seeds([m[name].stats for m in ref], [m[name].stats for m in mine], vectorised(metric),
                                 settings.confidence, scored.clusters(tuned[0], key, ids))
                values = np.array([m[name].score() for m in mine])
                changes = values - np.array([m[name].score() for m in ref])
                call = seed_verdict(c["ci_low"], c["ci_high"], c["n"], c["seeds"], min_items=settings.min_items,
                                    higher_is_better=HIGHER_IS_BETTER[name], margin=settings.equivalence.get(name)) \
                    if claimed(key[1], name) else ""
                rows.append([tuned[0][0], d["dataset"], d["recipe"], d["subset"], against, *key, name, len(tuned),
                             values.mean(), values.std(ddof=1) if len(values) > 1 else np.nan, c["diff"],
                             c["seed_sd"], changes.min(), changes.max(), c["ci_low"], c["ci_high"], c["n"],
                             c["clusters"], call])
    return rows
