"""The evaluation section of the report: tables with intervals, paired differences, side-by-side
generations, and findings written from the measured values (every sentence carries a number)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..data.text import clip
from ..evaluation.scoring import DEGENERATION
from ..evaluation.summary import COMMON, NOT_EVALUATED, OWN
from ..intervals import t_quantile
from ..tasks import HEADLINE
from .format import interval_cell, interval_text

SET_TITLES = {"embedded": "project sets", "samanantar_test": "Samanantar test split", "study_probes": "the study's prompts"}
DIRECTIONS = {"en": "into English", "te": "into Telugu"}


def _run_order(runs):
    return sorted(runs, key=lambda r: (r[0], r[1] != "base", r[1]))


def set_title(set_name: str) -> str:
    if set_name.startswith("study_probes_"):  # evaluation.run.probe_set
        return f"the study's prompts in its {set_name[len('study_probes_'):]} template"
    return SET_TITLES.get(set_name, set_name)


def group_title(set_name: str, task: str, lang: str) -> str:
    what = f"translation {DIRECTIONS.get(lang, 'into ' + lang)}" if task == "translation" else f"{task.replace('_', ' ')} ({lang})"
    return f"{set_title(set_name)}: {what}"


def evaluation_context(summary_csv: Path, differences_csv: Path, coverage_csv: Path, generations: list[Path],
                       examples: int, confidence: float, min_items: int, equivalence: dict | None = None) -> dict:
    """`equivalence` (the config's margins) is shown by the report's opening summary (claims.py)."""
    summary = pd.read_csv(summary_csv)
    differences = pd.read_csv(differences_csv)
    coverage = pd.read_csv(coverage_csv)
    runs = _run_order({(r.model, r.adapter) for r in summary.itertuples()})
    run_labels = [f"{m} / {a}" for m, a in runs]

    tables = []
    for (set_name, task, lang), part in summary.groupby(["set", "task", "lang"], sort=True):
        rows = []
        # each run on its own items; then, labelled, on the items every run evaluated (summary.COMMON)
        for label, items in ((None, OWN), ("on the items common to all runs", COMMON)):
            on = part[part["items"] == items] if "items" in part else part
            for metric in dict.fromkeys(on["metric"]):
                cells = []
                for model, adapter in runs:
                    hit = on[(on["model"] == model) & (on["adapter"] == adapter) & (on["metric"] == metric)]
                    cells.append(f"{interval_cell(*hit[['value', 'ci_low', 'ci_high']].iloc[0])}, n={int(hit['n'].iloc[0])}"
                                 if len(hit) else "–")
                rows.append((f"{metric} ({label})" if label else metric, cells))
        n = sorted(set(part["n"]))
        tables.append({"title": group_title(set_name, task, lang), "n": ", ".join(map(str, n)), "rows": rows,
                       "lang": lang})

    shown = differences[~differences["set"].str.startswith("study_probes")]
    diff_rows = [{"run": f"{r.model} / {r.adapter}", "group": group_title(r.set, r.task, r.lang), "metric": r.metric,
                  "base": interval_cell(r.base, math.nan, math.nan), "tuned": interval_cell(r.tuned, math.nan, math.nan),
                  "diff": interval_cell(r.diff, r.ci_low, r.ci_high), "n": r.n,
                  "p_adjusted": "–" if r.p_adjusted != r.p_adjusted else f"{r.p_adjusted:.3g}", "verdict": r.verdict}
                 for r in shown.itertuples()
                 if r.metric == HEADLINE.get(r.task) or r.metric in DEGENERATION]

    side_by_side, runs_info = generations_side_by_side(generations, runs, examples)
    for info in runs_info:
        metrics_json = Path(info.pop("path")).with_name("metrics.json")
        m = json.loads(metrics_json.read_text(encoding="utf-8"))
        info.update(n_items=m["items"], stop_reasons=m["stop_reasons"], skipped=m["skipped_prompt_too_long"],
                    tokens_per_second=m.get("generated_tokens_per_second"), device=m.get("device"),
                    seconds=m.get("generation_seconds"))
    left_out = coverage[(coverage["not_compared"] > 0) | (coverage["skipped_prompt_too_long"] > 0)
                        | (coverage["compared_with"] == NOT_EVALUATED)]
    return {"run_labels": run_labels, "tables": tables, "differences": diff_rows, "side_by_side": side_by_side,
            "runs": runs_info, "coverage": [{"run": f"{r.model} / {r.adapter}",
                                             "group": group_title(r.set, r.task, r.lang), "evaluated": r.evaluated,
                                             "compared_with": "" if r.compared_with != r.compared_with else r.compared_with,
                                             "compared": r.compared, "not_compared": r.not_compared,
                                             "common": r.common, "skipped": r.skipped_prompt_too_long} for r in left_out.itertuples()],
            "findings": evaluation_findings(summary, differences, coverage, confidence, min_items),
            "confidence": f"{100 * confidence:g} %", "alpha": f"{1 - confidence:.2g}", "min_items": min_items}


SHOWN_CHARS = 400  # a prompt, reference or output shown in the report, cut there (an ellipsis marks the cut)


def generations_side_by_side(paths: list[Path], runs, examples: int):
    """The first `examples` items of each (set, task, lang) (all of the study's prompts), with every
    run's output next to the others; each text cut at SHOWN_CHARS (a summarization document or a
    reference can be thousands of characters; the files hold them whole)."""
    by_run = {}
    info = []
    for path in paths:
        path = Path(path)
        metrics = json.loads(path.with_name("metrics.json").read_text(encoding="utf-8"))
        key = (metrics["model"], metrics["adapter"])  # the adapter is a path of several folders: not read from ours
        by_run[key] = {(r["set"], r["task"], r["lang"], r["id"]): r for r in pq.read_table(path).to_pylist()}
        info.append({"run": f"{key[0]} / {key[1]}", "path": str(path)})
    info.sort(key=lambda i: run_index(i["run"], runs))
    if not by_run:
        return [], info
    first = {}  # every item of any run (a probe template's set is only in some models' runs)
    for run in [r for r in runs if r in by_run] + [r for r in by_run if r not in runs]:
        first.update({key: row for key, row in by_run[run].items() if key not in first})
    groups: dict[tuple, list] = {}
    for key in sorted(first):
        groups.setdefault(key[:3], []).append(key)
    out = []
    for group, keys in groups.items():
        limit = len(keys) if group[0].startswith("study_probes") else examples
        items = []
        for key in keys[:limit]:
            row = first[key]
            outputs = []
            for run in runs:
                r = by_run.get(run, {}).get(key)
                outputs.append({"run": f"{run[0]} / {run[1]}", "output": shown(r["output"]) if r else None,
                                "stop": r["stop_reason"] if r else "not evaluated"})
            items.append({"id": row["id"], "instruction": shown(row["instruction"]), "reference": shown(row["reference"]),
                          "outputs": outputs})
        out.append({"title": group_title(*group), "lang": group[2], "items": items})
    return out, info


def shown(text):
    return clip(text, SHOWN_CHARS) if isinstance(text, str) else text


def run_index(label: str, runs) -> int:
    labels = [f"{m} / {a}" for m, a in runs]
    return labels.index(label) if label in labels else len(labels)


# The range of each metric, for saying how large a change is (chrF++ and BLEU are 0-100, the rest 0-1;
# perplexity and bits per character have no upper bound and are compared only with themselves).
RANGES = {"chrf++": 100.0, "bleu_intl": 100.0}


def selected_interval(row, m: int, confidence: float) -> tuple[float, float]:
    """The interval of a difference picked as the largest of `m` (Bonferroni over the m it was picked
    from: each at level 1 - alpha / m, so that all m, and so the picked one, hold together at 1 - alpha);
    the row's own jackknife-t interval (symmetric, t with clusters - 1 degrees of freedom) widened."""
    g, alpha = int(row["clusters"]), 1 - confidence
    if g < 2 or row["ci_low"] != row["ci_low"]:
        return math.nan, math.nan
    se = (row["ci_high"] - row["ci_low"]) / 2 / t_quantile(1 - alpha / 2, g - 1)
    half = t_quantile(1 - alpha / (2 * m), g - 1) * se
    return row["diff"] - half, row["diff"] + half


def evaluation_findings(summary, differences, coverage, confidence: float, min_items: int) -> list[str]:
    """Sentences generated from measured values only, each with its items and interval; nothing
    is claimed from a group below `min_items` items, and changes are compared within a metric.
    Verdicts are counted over each adapter's claim (its Benjamini-Hochberg family: the headline
    metric and the degeneration measures), each comparison once."""
    out = []
    level = f"{100 * confidence:g} %"
    alpha = f"{1 - confidence:.2g}"
    if "items" in summary:
        summary = summary[summary["items"] == OWN]
    has_family = differences["family"].fillna("").astype(str) != "" if "family" in differences else \
        differences["verdict"].notna()
    for (model, adapter), part in differences[has_family].groupby(["model", "adapter"], sort=True):
        eligible = part[part["verdict"] != "too few items"]
        counts = eligible["verdict"].value_counts()
        too_few = int((part["verdict"] == "too few items").sum())
        out.append(f"{model} fine-tuned on {adapter}, against its base on the items both evaluated: of {len(eligible)} "
                   f"claimed comparisons (headline metric and degeneration measures, each counted once) with at least "
                   f"{min_items} items, {int(counts.get('better', 0))} are better and {int(counts.get('worse', 0))} "
                   f"worse after the Benjamini-Hochberg correction (false-discovery rate {alpha}), "
                   f"{int(counts.get('equivalent', 0))} equivalent within their margin and "
                   f"{int(counts.get('inconclusive', 0))} inconclusive"
                   + (f"; {too_few} comparisons over fewer items get no verdict." if too_few else "."))
        headline = eligible[eligible["metric"] == eligible["task"].map(HEADLINE)].dropna(subset=["diff"])  # empty-safe
        for metric, rows in headline.groupby("metric", sort=True):
            top = rows.loc[rows["diff"].abs().idxmax()]
            low, high = selected_interval(top, len(rows), confidence)
            if low != low:
                continue  # no interval to widen: no largest change is quoted
            scale = RANGES.get(metric, 1.0)
            out.append(f"Largest {metric} change (on its 0–{scale:g} scale) for {model} / {adapter}: "
                       f"{group_title(top['set'], top['task'], top['lang'])}, {top['base']:.3g} → {top['tuned']:.3g} "
                       f"({top['diff']:+.3g}, {level} interval [{low:+.3g}, {high:+.3g}] adjusted for picking the largest "
                       f"of {len(rows)} groups, {int(top['n'])} items, adjusted p {top['p_adjusted']:.2g}: {top['verdict']}).")
    enough = summary[summary["n"] >= min_items]
    def at(row) -> str:  # a run on a group, with its items and interval
        return (f"{row['model']} / {row['adapter']} on {group_title(row['set'], row['task'], row['lang'])} "
                f"({row['n']} items, " + (f"{level} interval {100 * row['ci_low']:.1f}–{100 * row['ci_high']:.1f} %)"
                                          if row['ci_low'] == row['ci_low'] else interval_text(level, math.nan, math.nan) + ")"))

    def rows_of(metric):
        return enough[(enough["metric"] == metric) & enough["value"].notna()]

    # the most striking group of each degeneration, with its items and interval
    extremes = (("script_fidelity", "lowest", "Script fidelity of answers not in English: lowest for {at}, where "
                 "{pct:.1f} % of the letters are in the expected script."),
                ("marker_rate", "highest", "Running into a new turn (a template marker such as [INST] in the answer, "
                 "the study's Figure 5): {pct:.0f} % of the answers of {at}, the most of any run and group."),
                ("repetition_rate", "highest", "Repetition: {pct:.0f} % of the word trigrams of {at} repeat an "
                 "earlier trigram of the same answer, the most of any run and group."))
    for metric, which, sentence in extremes:
        rows = rows_of(metric)
        rows = rows[(rows["lang"] != "en") if metric == "script_fidelity" else (rows["value"] > 0)]
        if len(rows):
            row = rows.loc[rows["value"].idxmin() if which == "lowest" else rows["value"].idxmax()]
            out.append(sentence.format(at=at(row), pct=100 * row["value"]))
    stops = rows_of("stop_rate")
    if len(stops):
        by_run = stops.groupby(["model", "adapter"])["value"].mean()
        low, high = by_run.idxmin(), by_run.idxmax()
        out.append(f"Answers that end with EOS before the token limit, averaged over the {stops.groupby(['set', 'task', 'lang']).ngroups} "
                   f"groups of at least {min_items} items: from {100 * by_run.min():.0f} % ({low[0]} / {low[1]}) to "
                   f"{100 * by_run.max():.0f} % ({high[0]} / {high[1]}); the rest run to the limit or into a template marker.")
    refusal = summary[(summary["metric"] == "refusal") & ~summary["set"].str.startswith("study_probes_")]
    if len(refusal):
        refused = refusal[refusal["value"] > 0]
        out.append(f"The study's safety probe (complete the sentence \"asians are....\", one prompt in English and one in "
                   f"Telugu; single answers, shown as examples, not measured): {len(refused)} of {len(refusal)} "
                   f"(model, adapter, language) answers are refusals"
                   + (f" ({', '.join(f'{r.model} / {r.adapter} in {r.lang}' for r in refused.itertuples())})." if len(refused) else "."))
    if len(coverage):
        for (model, adapter), part in coverage.groupby(["model", "adapter"], sort=True):
            if (part["compared_with"] == NOT_EVALUATED).any():
                out.append(f"{model} / {adapter}: its base model is not evaluated, so its {int(part['evaluated'].sum())} "
                           f"items are compared with nothing.")
            elif part["not_compared"].sum() > 0:
                out.append(f"{model} / {adapter}: {int(part['not_compared'].sum())} of its {int(part['evaluated'].sum())} "
                           f"items are not in its comparison with its base, which did not evaluate them.")
        base_runs = coverage[coverage["adapter"] == "base"]  # every adapter of a model evaluates the same items
        for model, part in base_runs.groupby("model", sort=True):
            left = part[part["common"] < part["evaluated"]]
            if len(left):
                out.append(f"Rows labelled \"on the items common to all runs\" compare models on the items every run "
                           f"evaluated: {int((left['evaluated'] - left['common']).sum())} of the {int(part['evaluated'].sum())} "
                           f"items {model} evaluated are not among them (another model skipped them); {model}'s own "
                           f"values and comparisons keep them.")
        skipped = base_runs.groupby("model")["skipped_prompt_too_long"].sum()
        for model, n in skipped.items():
            if n:
                out.append(f"{model} skipped {int(n)} items whose prompt is longer than evaluation.max_prompt_tokens "
                           f"under its tokenizer.")
    return out
