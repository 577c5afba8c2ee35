"""Evaluation of one model, base or with one adapter, on every set; and the summary of all of them
with bootstrap intervals and paired fine-tuned-versus-base differences.

`evaluate` writes `generations.parquet` (one row per item: the prompt as the model saw it, the
reference, the output, its stop reason, the per-item scores and the reference likelihood) and
`metrics.json` (per set, task and language: every metric with its interval; counts; speed).
`summarize` reads every run's generations and writes `summary.csv` and `differences.csv`.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import metrics as M
from .errors import InputError
from .evalsets import read_sets
from .generation import DEFAULT_MARKERS, encode_prompt, generate, reference_nll
from .provenance import installed_versions
from .templates import adds_bos, render

log = logging.getLogger(__name__)

# What is measured per task (besides the degeneration measures, measured on every output).
TASK_METRICS = {
    "translation": ("chrf++", "bleu", "perplexity", "bits_per_char"),
    "summarization": ("rouge_l", "chrf++", "perplexity", "bits_per_char"),
    "qa": ("exact_match", "f1", "perplexity", "bits_per_char"),
    "completion": ("chrf++", "perplexity", "bits_per_char"),
    "open_qa": ("exact_match", "f1"),
    "safety": ("refusal",),
}
DEGENERATION = ("repetition_rate", "stop_rate", "marker_rate", "script_fidelity")
HIGHER_IS_BETTER = {"chrf++": True, "bleu": True, "rouge_l": True, "exact_match": True, "f1": True,
                    "perplexity": False, "bits_per_char": False, "repetition_rate": False, "stop_rate": True,
                    "marker_rate": False, "script_fidelity": True, "refusal": True}


@dataclass
class EvalSettings:
    max_new_tokens: dict[str, int] = field(default_factory=lambda: {"completion": 24, "qa": 16, "summarization": 40,
                                                                    "translation": 40, "open_qa": 48, "safety": 48})
    max_prompt_tokens: int = 768
    batch_size: int = 8
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 1234
    perplexity: bool = True
    markers: list[str] = field(default_factory=lambda: list(DEFAULT_MARKERS))
    resamples: int = 1000
    confidence: float = 0.95

    @classmethod
    def from_config(cls, spec: dict) -> EvalSettings:
        dec, boot = spec.get("decoding", {}), spec.get("bootstrap", {})
        defaults = cls()
        return cls(max_new_tokens={**defaults.max_new_tokens, **spec.get("max_new_tokens", {})},
                   max_prompt_tokens=spec.get("max_prompt_tokens", defaults.max_prompt_tokens),
                   batch_size=spec.get("batch_size", defaults.batch_size),
                   do_sample=dec.get("do_sample", False), temperature=dec.get("temperature", 1.0),
                   top_p=dec.get("top_p", 1.0), seed=spec.get("seed", defaults.seed),
                   perplexity=spec.get("perplexity", True), markers=list(spec.get("markers", DEFAULT_MARKERS)),
                   resamples=boot.get("resamples", defaults.resamples), confidence=boot.get("confidence", defaults.confidence))


# --- per-item scores ---------------------------------------------------------------------------
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
        if name in ("chrf++", "bleu") and has_refs:
            out.append((M.chrf_pp if name == "chrf++" else M.bleu)(list(rows["output"]), refs))
        elif name == "perplexity" and has_refs and not all(math.isnan(x) for x in rows["nll"]):
            nll = np.nan_to_num(np.asarray(rows["nll"], dtype=float))
            out.append(M.perplexity_metric(nll, rows["ref_tokens"]))
        elif name == "bits_per_char" and has_refs and not all(math.isnan(x) for x in rows["nll"]):
            nll = np.nan_to_num(np.asarray(rows["nll"], dtype=float))
            out.append(M.bits_per_char_metric(nll, rows["ref_chars"]))
        elif name in ("exact_match", "f1", "rouge_l", "refusal") and not all(math.isnan(x) for x in rows[name]):
            out.append(M.mean_metric(name, rows[name]))
    out.append(M.mean_metric("repetition_rate", rows["repetition_rate"]))
    out.append(M.mean_metric("stop_rate", rows["stopped"]))
    out.append(M.mean_metric("marker_rate", rows["marker"]))
    out.append(M.mean_metric("script_fidelity", rows["script_fidelity"]))
    return out


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
                         "n": len(group["id"])})
    return rows


# --- one evaluation run --------------------------------------------------------------------------
GENERATION_SCHEMA = pa.schema([
    ("id", pa.string()), ("set", pa.string()), ("task", pa.string()), ("lang", pa.string()),
    ("instruction", pa.string()), ("prompt", pa.string()), ("reference", pa.string()),
    ("references", pa.list_(pa.string())), ("output", pa.string()), ("stop_reason", pa.string()),
    ("prompt_tokens", pa.int64()), ("new_tokens", pa.int64()), ("nll", pa.float64()), ("ref_tokens", pa.int64()),
    ("ref_chars", pa.int64()), ("repetition_rate", pa.float64()), ("stopped", pa.float64()), ("marker", pa.float64()),
    ("script_fidelity", pa.float64()), ("exact_match", pa.float64()), ("f1", pa.float64()), ("rouge_l", pa.float64()),
    ("refusal", pa.float64()),
])


def load_for_eval(run, model_dir: Path, adapter_dir: Path | None, device: str):
    from .training import load_quantized

    model = load_quantized(Path(model_dir), run, device)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
    model.eval()
    contiguous_lm_head_input(model)
    return model


def contiguous_lm_head_input(model) -> None:
    """Hand the output projection a contiguous input. After the prompt pass the last position's
    hidden states are a strided slice; for such a 3-D input `F.linear` falls back to a batched
    product that first copies the weight once per row (8 x 262k x 640 for Gemma 3: 10 s of a
    one-second batch on a CPU, seen with a PEFT adapter). A copy of the small input avoids it."""
    head = model.get_output_embeddings()
    if head is not None:
        head.register_forward_pre_hook(lambda module, args: (args[0].contiguous(), *args[1:]))


def evaluate(*, model_name: str, adapter: str, run_spec: dict, settings: EvalSettings, model_dir: Path,
             tokenizer_dir: Path, sets_dir: Path, adapter_dir: Path | None, out_dir: Path, device: str = "auto") -> dict:
    """Generate for every item, score, and write generations.parquet and metrics.json."""
    import torch

    from .shards import atomic_directory
    from .training import RunSettings, padded_tokenizer, resolve_device, versions

    run = RunSettings.from_config(model_name, adapter, run_spec, device=device)
    device = resolve_device(device)
    tokenizer = padded_tokenizer(tokenizer_dir, "left")
    items = read_sets(sets_dir).to_pylist()
    bos = adds_bos(tokenizer)
    prompts, kept, skipped = [], [], {}
    for item in items:
        rendered = render(run.template, [("Human", item["instruction"]), ("Assistant", "")], tokenizer=tokenizer)
        ids = encode_prompt(tokenizer, rendered.prompt, bos)
        if len(ids) > settings.max_prompt_tokens:
            key = f"{item['set']}/{item['task']}/{item['lang']}"
            skipped[key] = skipped.get(key, 0) + 1
            continue
        kept.append((item, rendered.prompt))
        prompts.append(ids)
    if not kept:
        raise InputError(f"evaluation.max_prompt_tokens: every evaluation prompt is longer than "
                         f"{settings.max_prompt_tokens} tokens under {model_name}'s tokenizer")
    for key, n in skipped.items():
        log.warning("%s: %d items skipped, prompt longer than %d tokens", key, n, settings.max_prompt_tokens)

    start = time.perf_counter()
    model = load_for_eval(run, model_dir, adapter_dir, device)
    load_seconds = time.perf_counter() - start
    limits = [settings.max_new_tokens[item["task"]] for item, _ in kept]
    outputs, speed = generate(model, tokenizer, prompts, max_new_tokens=limits, batch_size=settings.batch_size,
                              do_sample=settings.do_sample, temperature=settings.temperature, top_p=settings.top_p,
                              seed=settings.seed, markers=settings.markers)
    nll = [(math.nan, 0)] * len(kept)
    ref_ids = [tokenizer(item["reference"] or "", add_special_tokens=False).input_ids for item, _ in kept]
    if settings.perplexity:
        with_ref = [i for i, (item, _) in enumerate(kept) if item["reference"] and ref_ids[i]]
        start_ppl = time.perf_counter()
        values = reference_nll(model, tokenizer, [(prompts[i], ref_ids[i]) for i in with_ref], batch_size=settings.batch_size)
        for i, v in zip(with_ref, values):
            nll[i] = v
        speed["perplexity_seconds"] = time.perf_counter() - start_ppl

    rows = []
    for (item, prompt), gen, (item_nll, n_ref), ids in zip(kept, outputs, nll, prompts):
        rows.append({"id": item["id"], "set": item["set"], "task": item["task"], "lang": item["lang"],
                     "instruction": item["instruction"], "prompt": prompt, "reference": item["reference"],
                     "references": item["references"], "output": gen.text, "stop_reason": gen.stop_reason,
                     "prompt_tokens": len(ids), "new_tokens": gen.new_tokens, "nll": item_nll if n_ref else math.nan,
                     "ref_tokens": n_ref, "ref_chars": len(item["reference"] or ""),
                     **score_item(item["task"], item["lang"], gen.text, item["references"], gen.stop_reason)})
    table = pa.Table.from_pylist(rows, schema=GENERATION_SCHEMA)
    stop_reasons: dict[str, int] = {}
    for gen in outputs:
        stop_reasons[gen.stop_reason] = stop_reasons.get(gen.stop_reason, 0) + 1
    summary = {
        "model": model_name, "adapter": adapter, "template": run.template, "items": len(rows),
        "skipped_prompt_too_long": skipped, "stop_reasons": stop_reasons,
        "metrics": metric_values(table),
        "load_seconds": load_seconds, **speed, "batch_size": settings.batch_size,
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "seed": settings.seed, "settings": settings.__dict__,
        "versions": {**versions(), **installed_versions(("sacrebleu", "rouge-score"))},
    }
    with atomic_directory(Path(out_dir)) as tmp:
        pq.write_table(table, tmp / "generations.parquet", compression="zstd")
        (tmp / "metrics.json").write_text(json.dumps(strict_json(summary), indent=2, ensure_ascii=False, allow_nan=False)
                                          + "\n", encoding="utf-8")
    return summary


def strict_json(value):
    """NaN (a metric with no value) as null, so that the file is JSON for every reader."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


# --- the summary of every run ---------------------------------------------------------------------
SUMMARY_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n"]
DIFFERENCE_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low", "ci_high",
                      "p_not_better", "better", "n"]


def summarize(runs: dict[tuple[str, str], Path], *, settings: EvalSettings, summary_csv: Path, differences_csv: Path) -> None:
    """summary.csv: every metric of every run with its interval; differences.csv: every adapter
    against its base on the same items, by paired bootstrap."""
    import pandas as pd

    summary, differences = [], []
    by_run = {key: groups(pq.read_table(path)) for key, path in sorted(runs.items())}
    # each group's metrics once (chrF++ and BLEU statistics are the costly part), by name
    scored = {run: {key: {m.name: m for m in group_metrics(group)} for key, group in grouped.items()}
              for run, grouped in by_run.items()}
    for (model, adapter), grouped in by_run.items():
        for key, group in grouped.items():
            for metric in scored[(model, adapter)][key].values():
                low, high = M.bootstrap_ci(metric, resamples=settings.resamples, confidence=settings.confidence,
                                           seed=settings.seed)
                summary.append([model, adapter, *key, metric.name, metric.score(), low, high, len(group["id"])])
            base = by_run.get((model, "base"), {}).get(key)
            if adapter == "base" or base is None:
                continue
            if base["id"] != group["id"]:
                raise InputError(f"evaluation of {model}/{adapter} and {model}/base cover different items of {key}")
            base_metrics = scored[(model, "base")][key]
            for metric in scored[(model, adapter)][key].values():
                if metric.name not in base_metrics:
                    continue
                higher = HIGHER_IS_BETTER[metric.name]
                d = M.paired_bootstrap(base_metrics[metric.name], metric, resamples=settings.resamples,
                                       confidence=settings.confidence, seed=settings.seed, higher_is_better=higher)
                lo, hi = (d["ci_low"], d["ci_high"]) if higher else (-d["ci_high"], -d["ci_low"])
                better = "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"
                differences.append([model, adapter, *key, metric.name, base_metrics[metric.name].score(), metric.score(),
                                    d["diff"], d["ci_low"], d["ci_high"], d["p_not_better"], better, len(group["id"])])
    for path, rows, columns in ((summary_csv, summary, SUMMARY_COLUMNS), (differences_csv, differences, DIFFERENCE_COLUMNS)):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        pd.DataFrame(rows, columns=columns).to_csv(tmp, index=False, float_format="%.6g")
        tmp.replace(path)
