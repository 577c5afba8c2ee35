"""What an extended vocabulary buys, measured: the premium and fertility against the number of
pieces (the curve), and each model beside its extended twin on the same runs (the comparison).

The comparison, per run (the same data and items for both):
- tokens per training example and the share over the model's max_length (the run's training split,
  tokenized as training tokenizes it): paired over examples, jackknife-t intervals;
- training non-padding tokens/s and examples/s (metrics.json of each run) and generated characters
  and tokens per second (each evaluation): one timing each, no interval (one run is one sample of a
  shared machine's speed: a ratio, not a finding);
- the training examples each trained on and each dropped as too long under its own tokenizer: the
  same examples on both sides (the examples both tokenizers keep, `train.tokenized`), so the counts
  differ only in what each tokenizer alone would have dropped;
- the share of each side's answers cut at the answer budget (a budget in characters is the same
  text for both; a tokenizer whose budget met max_new_tokens is cut sooner);
- stop rate and the quality metrics: paired over the evaluation items, in contrasts.csv (dimension
  `vocabulary`), as every other contrast, without any per-token metric (`scoring.PER_TOKEN`:
  perplexity's token is not the same unit under the two tokenizers); the likelihood is compared as
  bits per character of the reference's own characters and tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..atomic import atomic_file
from ..errors import InputError
from ..intervals import METHOD, paired_jackknife_t
from ..loading import load_tokenizer
from ..prompts.formats import tokenize_example
from ..tokens.fertility import joined_pass, sentence_pass
from .extend import extend

COMPARISON_COLUMNS = ["model", "twin", "run", "measure", "base", "extended", "ratio", "diff", "ci_low", "ci_high", "n",
                      "method"]
CURVE_COLUMNS = ["tokenizer", "base", "pieces", "added", "premium", "fertility", "tokens", "english_tokens",
                 "sentences", "note"]
TIMING = "one timing per run (no interval)"


def text_costs(backend, telugu: list[str], english: list[str]) -> dict:
    """Premium (joined pass, Petrov et al.) and fertility (sentence pass), as the fertility stage
    computes them."""
    te = joined_pass(backend, telugu, np.zeros(0, dtype=np.int64), None).tokens
    en = joined_pass(backend, english, np.zeros(0, dtype=np.int64), None).tokens
    stats = sentence_pass(backend, telugu, 10000)
    words = int(stats.words.sum())
    return {"premium": te / en if en else None, "fertility": int(stats.tokens.sum()) / words if words else None,
            "tokens": te, "english_tokens": en, "sentences": len(telugu)}


def curve(*, name: str, base_name: str, base_json: dict, learned: dict, sizes: list[int], lang: str,
          test_te: list[str], test_en: list[str], key: str, built: dict[int, tuple[dict, int]] | None = None) -> list[dict]:
    """The premium and fertility on the held-out sentences at each vocabulary size (the base's first,
    as `pieces` 0), each size derived from one learned model (vocab_learn's, `learn.take`); a size
    the text cannot support is a row that says so. `built`: sizes whose extension exists already
    (the vocab_extend rule's), as (tokenizer.json, pieces added)."""
    from tokenizers import Tokenizer

    rows = [{"tokenizer": name, "base": base_name, "pieces": 0, "added": 0,
             **text_costs(Tokenizer.from_str(json.dumps(base_json)), test_te, test_en), "note": "base"}]
    for size in sorted(sizes):
        if built and size in built:
            tokenizer_json, added = built[size]
        else:
            try:
                ext = extend(base_json, learned, size, lang, key=key)
            except InputError as exc:
                rows.append({"tokenizer": name, "base": base_name, "pieces": size, "added": None, "premium": None,
                             "fertility": None, "tokens": None, "english_tokens": None, "sentences": len(test_te),
                             "note": str(exc)})
                continue
            tokenizer_json, added = ext.tokenizer_json, len(ext.new_pieces)
        rows.append({"tokenizer": name, "base": base_name, "pieces": size, "added": added,
                     **text_costs(Tokenizer.from_str(json.dumps(tokenizer_json)), test_te, test_en), "note": ""})
    return rows


def example_lengths(tokenizer_dir: str, prompts: Path) -> np.ndarray:
    """Tokens per example of a prompts split (BOS, prompt, completion, EOS), as training makes them."""
    tokenizer = load_tokenizer(tokenizer_dir)
    table = pq.read_table(prompts, columns=["prompt", "completion"])
    return np.asarray([len(tokenize_example(tokenizer, p, c)[0])
                       for p, c in zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist())])


def _paired(measure: str, base: np.ndarray, extended: np.ndarray, confidence: float) -> dict:
    """The mean of a per-example value under both tokenizers, paired over the examples."""
    ones = np.ones(len(base))
    d = paired_jackknife_t(np.column_stack([base, ones]), np.column_stack([extended, ones]),
                           lambda sums: sums[0] / sums[1], confidence)
    return {"measure": measure, "base": d["base"], "extended": d["tuned"],
            "ratio": d["tuned"] / d["base"] if d["base"] else None, "diff": d["diff"], "ci_low": d["ci_low"],
            "ci_high": d["ci_high"], "n": len(base), "method": f"paired {METHOD} over examples"}


def _timing(measure: str, base: float | None, extended: float | None) -> dict:
    return {"measure": measure, "base": base, "extended": extended,
            "ratio": extended / base if base and extended is not None else None,
            "diff": extended - base if base is not None and extended is not None else None,
            "ci_low": None, "ci_high": None, "n": 1, "method": TIMING}


def trained_examples(base: dict, extended: dict) -> list[dict]:
    """The training examples of each side (metrics.json's `train_examples`): trained on (kept or cut),
    and dropped as too long under the side's own tokenizer (the other side drops them too)."""
    sides = [m["train_examples"] for m in (base, extended)]
    return [{**_timing("training examples trained on", *(c["kept"] + c["cut"] for c in sides)),
             "method": "count (the examples both tokenizers keep)"},
            {**_timing("training examples dropped as too long", *(c["dropped_too_long"] for c in sides)),
             "method": "count under each side's own tokenizer (the other side drops them too: dropped_by_partner)"}]


def generation_speed(generations: Path, metrics: Path) -> dict:
    """Generated characters and tokens per second of an evaluation run, its items (those whose
    prompt fits evaluation.max_prompt_tokens under the tokenizer), skipped items, and the share of its
    answers cut at their budget (`evaluation.budget`)."""
    summary = json.loads(Path(metrics).read_text())
    seconds = summary["generation_seconds"]
    chars = sum(len(text) for text in pq.read_table(generations, columns=["output"]).column("output").to_pylist())
    return {"chars_per_second": chars / seconds if seconds else None,
            "tokens_per_second": summary["generated_tokens_per_second"], "items": summary["items"],
            "skipped": sum(summary["skipped_prompt_too_long"].values()),
            "cut_at_budget": summary["cut_at_budget"]["share"]}


def compare_run(*, model: str, twin: str, run: str, tokenizers: tuple[str, str], prompts: Path, max_length: int,
                train_metrics: tuple[Path, Path], evaluations: tuple[dict, dict] | None, confidence: float) -> list[dict]:
    """The rows of one run: the model with its base tokenizer against its twin (see the module)."""
    lengths = [example_lengths(t, prompts) for t in tokenizers]
    rows = [_paired("tokens per training example", *lengths, confidence),
            _paired(f"share of training examples over max_length {max_length}",
                    *(np.asarray(n > max_length, dtype=float) for n in lengths), confidence)]
    metrics = [json.loads(Path(m).read_text()) for m in train_metrics]
    rows += [_timing("training non-padding tokens/s", *(m["tokens_per_second"] for m in metrics)),
             _timing("training examples/s", *(m["examples_per_second"] for m in metrics)), *trained_examples(*metrics)]
    if evaluations is not None:
        items = [e["items"] for e in evaluations]
        over = "" if items[0] == items[1] else f" over {items[0]} and {items[1]} items (not the same items)"
        rows += [{**_timing("evaluation items within max_prompt_tokens", *items),
                  "method": "count (the others are skipped: prompt too long under the tokenizer)"},
                 {**_timing("generated characters/s", *(e["chars_per_second"] for e in evaluations)),
                  "method": TIMING + over},
                 {**_timing("generated tokens/s", *(e["tokens_per_second"] for e in evaluations)),
                  "method": TIMING + over},
                 {**_timing("share of answers cut at the answer budget", *(e["cut_at_budget"] for e in evaluations)),
                  "method": "share of each run's answers that reached their token limit (evaluation.answer_budget)" + over}]
    return [{"model": model, "twin": twin, "run": run, **row} for row in rows]


def write_comparison(rows: list[dict], path: Path) -> None:
    with atomic_file(Path(path)) as tmp:
        pd.DataFrame(rows, columns=COMPARISON_COLUMNS).to_csv(tmp, index=False, float_format="%.6g")
