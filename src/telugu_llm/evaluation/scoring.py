"""What is measured on each task, and how: the per-item scores of one output, and the metrics of a
group of items (one set, task and language) from its generations."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ..intervals import informative
from . import metrics as M

# What is measured per task (besides the degeneration measures, measured on every output).
TASK_METRICS = {
    "translation": ("chrf++", "bleu_intl", "perplexity", "bits_per_char"),
    "summarization": ("rouge_l", "chrf++", "perplexity", "bits_per_char"),
    "qa": ("exact_match", "f1", "perplexity", "bits_per_char"),
    "completion": ("chrf++", "perplexity", "bits_per_char"),
    "open_qa": ("exact_match", "f1"),
    "safety": ("refusal",),
}
DEGENERATION = ("repetition_rate", "stop_rate", "marker_rate", "script_fidelity")
DEGENERATION_COLUMNS = {"repetition_rate": "repetition_rate", "stop_rate": "stopped", "marker_rate": "marker",
                        "script_fidelity": "script_fidelity"}  # the per-item column of each, in generations
# Per-token metrics: their unit is a token of the model's own tokenizer, so they never enter a
# contrast between tokenizers (a model against its extended twin): the same text costs 294 tokens
# under one and 107 under the other, and equal bits per character read as perplexity 2.77 against
# 16.5. Bits per character carry the likelihood across tokenizers.
PER_TOKEN = ("perplexity",)
HIGHER_IS_BETTER = {"chrf++": True, "bleu_intl": True, "rouge_l": True, "exact_match": True, "f1": True,
                    "perplexity": False, "bits_per_char": False, "repetition_rate": False, "stop_rate": True,
                    "marker_rate": False, "script_fidelity": True, "refusal": True}


def score_item(task: str, lang: str, output: str, references: list[str], stop_reason: str) -> dict:
    """The per-item scores of one output (NaN where a score does not apply)."""
    nan = math.nan
    refs = [r for r in references if r]
    scores = {
        "repetition_rate": M.repetition_rate(output),
        "stopped": float(stop_reason == "eos"),
        "marker": float(stop_reason == "marker"),
        "script_fidelity": M.script_fidelity(output, lang),
        "exact_match": nan, "f1": nan, "rouge_l": nan, "refusal": nan,
    }
    if task in ("qa", "open_qa") and refs:
        scores["exact_match"] = M.exact_match(output, refs, lang)
        scores["f1"] = M.token_f1(output, refs, lang)
    if task == "summarization" and refs:
        scores["rouge_l"] = M.rouge_l(output, refs)
    if task == "safety":
        scores["refusal"] = M.refused(output)
    return scores


def group_metrics(rows: dict[str, list]) -> list[M.Metric]:
    """The metrics of one (set, task, lang) group, from its generations' columns."""
    task = rows["task"][0]
    names = TASK_METRICS.get(task, ())
    out = []
    refs = [list(r) for r in rows["references"]]
    has_refs = all(refs)
    for name in names:
        if name in ("chrf++", "bleu_intl") and has_refs:
            out.append((M.chrf_pp if name == "chrf++" else M.bleu)(list(rows["output"]), refs))
        elif name == "perplexity" and has_refs and not all(math.isnan(x) for x in rows["nll"]):
            nll = np.nan_to_num(np.asarray(rows["nll"], dtype=float))
            out.append(M.perplexity_metric(nll, rows["ref_tokens"]))
        elif name == "bits_per_char" and has_refs and not all(math.isnan(x) for x in rows["nll"]):
            nll = np.nan_to_num(np.asarray(rows["nll"], dtype=float))
            out.append(M.bits_per_char_metric(nll, rows["ref_chars"]))
        elif name in ("exact_match", "f1", "rouge_l", "refusal") and not all(math.isnan(x) for x in rows[name]):
            out.append(M.mean_metric(name, rows[name]))
    for name in DEGENERATION:
        out.append(M.mean_metric(name, rows[DEGENERATION_COLUMNS[name]]))
    return out


def across_tokenizers(metrics: dict[str, M.Metric]) -> dict[str, M.Metric]:
    """The metrics of a group (by name) that compare runs on different tokenizers: all but the
    per-token ones (PER_TOKEN)."""
    return {name: metric for name, metric in metrics.items() if name not in PER_TOKEN}


def groups(table: pa.Table) -> dict[tuple[str, str, str], dict[str, list]]:
    """Rows of a generations table by (set, task, lang), ordered by item id (for pairing)."""
    data = table.to_pydict()
    rows: dict[tuple[str, str, str], list[int]] = {}
    for i, key in enumerate(zip(data["set"], data["task"], data["lang"])):
        rows.setdefault(key, []).append(i)
    out = {}
    for key in sorted(rows):
        idx = sorted(rows[key], key=lambda i: data["id"][i])
        out[key] = {column: [data[column][i] for i in idx] for column in data}
    return out


def metric_values(table: pa.Table) -> list[dict]:
    """Every metric of every (set, task, lang) of one run (intervals: the summary's job)."""
    rows = []
    for (set_name, task, lang), group in groups(table).items():
        for metric in group_metrics(group):
            rows.append({"set": set_name, "task": task, "lang": lang, "metric": metric.name, "value": metric.score(),
                         "n": informative(metric.stats)})
    return rows
