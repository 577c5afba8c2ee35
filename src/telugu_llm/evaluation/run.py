"""Evaluation of one model, base or with one adapter, on every set.

`evaluate` writes `generations.parquet` (one row per item: the prompt as the model saw it, the
reference, the output, its stop reason, the per-item scores and the reference likelihood) and
`metrics.json` (per set, task and language: every metric's value; counts; speed). Intervals are
the summary's (`summary.summarize`).

Which items: of each (set, task, lang), written by the sets rule in a seeded order, the first
`evaluation.max_items` whose prompt (in the model's template, under its tokenizer) is at most
`evaluation.max_prompt_tokens` long (`order.first_that_fit`); the study's probes all that fit.
`metrics.json` counts, per group, the items passed over for length (`skipped_prompt_too_long`) and
`coverage`: candidates, wanted, evaluated, skipped, truncated; a group that fell short of
`max_items` is logged. A hub set with `truncate` cuts a document (passage) that does not fit to
its longest head that does (`order.head_that_fits`), marked `truncated` in generations.parquet; the
likelihood of its reference is then given the cut prompt.
Runs on one tokenizer (a base model and its adapters) evaluate the same items.
An answer's token limit is its group's budget (`budget`: characters by default, the same text
under every tokenizer); `metrics.json` holds each group's budget (`answer_budget`) and the share
of answers cut at it (`cut_at_budget`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_directory, json_text
from ..phrasing import check_budget, check_positions
from ..errors import InputError
from ..loading import Quantization, compute_dtype, device_name, load_quantized, padded_tokenizer, resolve_device, versions
from ..prompts.formats import IGNORE_INDEX, adds_bos, render, tokenize_example
from ..vocab.embeddings import check_adapter_rows, extend_model, is_adapted, merge_new_rows, read_extension
from .budget import answer_limits, cut_at_budget
from .generation import encode_prompt, generate, reference_nll
from .order import first_that_fit, head_that_fits
from .scoring import metric_values, score_item
from .sets import read_sets
from .settings import GenerationSettings

log = logging.getLogger(__name__)


GENERATION_SCHEMA = pa.schema([
    ("id", pa.string()), ("set", pa.string()), ("task", pa.string()), ("lang", pa.string()),
    ("instruction", pa.string()), ("prompt", pa.string()), ("reference", pa.string()),
    ("references", pa.list_(pa.string())), ("output", pa.string()), ("stop_reason", pa.string()),
    ("prompt_tokens", pa.int64()), ("new_tokens", pa.int64()), ("nll", pa.float64()), ("ref_tokens", pa.int64()),
    ("ref_chars", pa.int64()), ("repetition_rate", pa.float64()), ("stopped", pa.float64()), ("marker", pa.float64()),
    ("script_fidelity", pa.float64()), ("exact_match", pa.float64()), ("f1", pa.float64()), ("rouge_l", pa.float64()),
    ("refusal", pa.float64()), ("truncated", pa.bool_()),
    ("cluster", pa.string()),  # items that share a source (sets.py): one unit of the summary's jackknife
])


def trained_sequence(tokenizer, template: str, instruction: str, reference: str) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) of an item with its reference as the answer, tokenized exactly as a
    training example is (prompts.formats.tokenize_example: the template's completion with its leading
    space, EOS last), so that the likelihood is of the sequence a fine-tuned model was trained on
    (pitfall 22), not of the reference tokenized alone."""
    rendered = render(template, [("Human", instruction), ("Assistant", reference)], tokenizer=tokenizer)
    ids, labels = tokenize_example(tokenizer, rendered.prompt, rendered.completion)
    n_prompt = labels.count(IGNORE_INDEX)
    return ids[:n_prompt], ids[n_prompt:]


def own_span(tokenizer, completion: list[int]) -> tuple[int, int]:
    """The [start, end) slice of a reference's ids (`trained_sequence`'s completion) that are the
    reference's own, for its likelihood per character and per token: without the final EOS and
    without leading tokens that are whitespace alone (the template's leading space, where the
    tokenizer writes it as a piece of its own, as Llama-2's does before Telugu). Where a tokenizer
    merges that space into the first word's piece, its cost cannot be split off and stays counted."""
    end = len(completion) - (1 if completion and completion[-1] == tokenizer.eos_token_id else 0)
    start = 0
    while start < end and not tokenizer.decode(completion[start:start + 1]).strip():
        start += 1
    return start, end


def load_for_eval(model_name: str, quantization: Quantization, model_dir: Path, adapter_dir: Path | None, device: str,
                  tokenizer_dir: Path, tokenizer_size: int):
    """The base model, resized to an extended tokenizer (its new rows rebuilt as training built them,
    vocab.embeddings), with the adapter (and its trained new rows) when one is given."""
    model = load_quantized(Path(model_dir), quantization, device, model_name)
    extension = read_extension(tokenizer_dir)
    new_rows = extend_model(model, extension, tokenizer_size, model_name=model_name, tokenizer=Path(tokenizer_dir).name,
                            rows_ready=is_adapted(model_dir))
    if adapter_dir is not None:
        check_adapter_rows(adapter_dir, new_rows, model=model_name)
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=False)
        merge_new_rows(model)
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


PROBES = "study_probes"


def probe_set(template: str) -> str:
    """The name of the study's prompts asked in another template than the model's own."""
    return f"{PROBES}_{template}"


def with_probe_template(items: list[dict], template: str, probe_template: str | None) -> list[tuple[dict, str]]:
    """(item, template) for every item in the model's template, and, where the model has a probe
    template other than its own (models.<name>.probe_template: the one the study used for it in its
    figures), each of the study's prompts again in that template, as the set `probe_set(...)`."""
    out = [(item, template) for item in items]
    if probe_template and probe_template != template:
        out += [({**item, "set": probe_set(probe_template)}, probe_template) for item in items if item["set"] == PROBES]
    return out


def choose_items(tokenizer, items: list[dict], template: str, probe_template: str | None, settings: GenerationSettings):
    """The items this model evaluates (module docstring), as (item, prompt text, template), their
    prompt ids, the items passed over for length per "set/task/lang", and the coverage per group."""
    bos = adds_bos(tokenizer)
    groups: dict[str, list[tuple[dict, str]]] = {}
    for item, item_template in with_probe_template(items, template, probe_template):
        groups.setdefault(f"{item['set']}/{item['task']}/{item['lang']}", []).append((item, item_template))

    texts, cut = {}, {}

    def encode_instruction(instruction: str, item_template: str) -> tuple[str, list]:
        text = render(item_template, [("Human", instruction), ("Assistant", "")], tokenizer=tokenizer).prompt
        return text, encode_prompt(tokenizer, text, bos)

    def encode(pair):
        item, item_template = pair
        texts[id(pair)], ids = encode_instruction(item["instruction"], item_template)
        if len(ids) > settings.max_prompt_tokens and item.get("long_text"):  # hub `truncate`
            head = head_that_fits(item["instruction"], item["long_text"], lambda i: encode_instruction(i, item_template)[1],
                                  settings.max_prompt_tokens, keep=item["references"] if item["task"] == "qa" else [])
            if head is not None:
                cut[id(pair)] = head[0]
                texts[id(pair)], ids = encode_instruction(head[0], item_template)
        return ids

    kept, prompts, skipped, coverage = [], [], {}, {}
    for key in sorted(groups):
        members = sorted(groups[key], key=lambda pair: pair[0]["rank"])
        wanted = None if members[0][0]["set"].startswith(PROBES) else settings.max_items
        taken, passed_over = first_that_fit(members, wanted, encode, settings.max_prompt_tokens)
        truncated = 0
        for pair, ids in taken:
            item = pair[0]
            if id(pair) in cut:
                item, truncated = {**item, "instruction": cut[id(pair)], "truncated": True}, truncated + 1
            kept.append((item, texts[id(pair)], pair[1]))
            prompts.append(ids)
        if passed_over:
            skipped[key] = passed_over
        target = len(members) if wanted is None else min(wanted, len(members))
        coverage[key] = {"candidates": len(members), "wanted": target, "evaluated": len(taken),
                         "skipped_prompt_too_long": passed_over, "truncated": truncated}
        if len(taken) < target:
            log.warning("%s: %d of %d items evaluated: %d of the %d candidates have prompts longer than %d tokens",
                        key, len(taken), target, passed_over, len(members), settings.max_prompt_tokens)
    return kept, prompts, skipped, coverage


def evaluate(*, model_name: str, adapter: str, template: str, quantization: Quantization, settings: GenerationSettings,
             model_dir: Path, tokenizer_dir: Path, sets_dir: Path, adapter_dir: Path | None, out_dir: Path,
             device: str, probe_template: str | None = None) -> dict:
    """Generate for every item, score, and write generations.parquet and metrics.json. `template`,
    `probe_template` and `quantization` are the model's (models.<name>), `device` is train.device."""
    import torch

    check_budget(settings.max_prompt_tokens, settings.max_new_tokens, settings.batch_tokens)
    check_positions(settings.max_prompt_tokens, settings.max_new_tokens, model_dir, model_name)
    device = resolve_device(device)
    tokenizer = padded_tokenizer(tokenizer_dir, "left")
    items = read_sets(sets_dir).to_pylist()
    kept, prompts, skipped, coverage = choose_items(tokenizer, items, template, probe_template, settings)
    if not kept:
        raise InputError(f"evaluation.max_prompt_tokens: every evaluation prompt is longer than "
                         f"{settings.max_prompt_tokens} tokens under {model_name}'s tokenizer")

    start = time.perf_counter()
    model = load_for_eval(model_name, quantization, model_dir, adapter_dir, device, tokenizer_dir, len(tokenizer))
    load_seconds = time.perf_counter() - start
    limits, budgets = answer_limits(tokenizer, [item for item, _, _ in kept], answer_budget=settings.answer_budget,
                                    max_new_chars=settings.max_new_chars, max_new_tokens=settings.max_new_tokens)
    outputs, speed = generate(model, tokenizer, prompts, max_new_tokens=limits, batch_size=settings.batch_size,
                              batch_tokens=settings.batch_tokens,
                              do_sample=settings.decoding.do_sample, temperature=settings.decoding.temperature,
                              top_p=settings.decoding.top_p, seed=settings.seed, markers=settings.markers)
    nll = [(math.nan, 0)] * len(kept)
    reference_too_long: dict[str, int] = {}  # per group: references longer than a likelihood batch (batch_tokens)
    if settings.perplexity:
        with_ref = [i for i, (item, _, _) in enumerate(kept) if item["reference"]]
        start_ppl = time.perf_counter()
        examples = [trained_sequence(tokenizer, kept[i][2], kept[i][0]["instruction"], kept[i][0]["reference"])
                    for i in with_ref]
        values = reference_nll(model, tokenizer, examples, batch_size=settings.batch_size,
                               batch_tokens=settings.batch_tokens, own=[own_span(tokenizer, c) for _, c in examples])
        for i, v in zip(with_ref, values):
            nll[i] = v
            if math.isnan(v[0]) and v[1] == 0:  # too long to score: no likelihood, counted; its answer still scored
                group = f"{kept[i][0]['set']}/{kept[i][0]['task']}/{kept[i][0]['lang']}"
                reference_too_long[group] = reference_too_long.get(group, 0) + 1
        speed["perplexity_seconds"] = time.perf_counter() - start_ppl

    rows = []
    for (item, prompt, _), gen, (item_nll, n_ref), ids in zip(kept, outputs, nll, prompts):
        rows.append({"id": item["id"], "set": item["set"], "task": item["task"], "lang": item["lang"],
                     "instruction": item["instruction"], "prompt": prompt, "reference": item["reference"],
                     "references": item["references"], "output": gen.text, "stop_reason": gen.stop_reason,
                     "prompt_tokens": len(ids), "new_tokens": gen.new_tokens, "nll": item_nll if n_ref else math.nan,
                     "ref_tokens": n_ref, "ref_chars": len(item["reference"] or ""), "truncated": item.get("truncated", False),
                     "cluster": item.get("cluster") or item["id"],
                     **score_item(item["task"], item["lang"], gen.text, item["references"], gen.stop_reason)})
    table = pa.Table.from_pylist(rows, schema=GENERATION_SCHEMA)
    stop_reasons: dict[str, int] = {}
    for gen in outputs:
        stop_reasons[gen.stop_reason] = stop_reasons.get(gen.stop_reason, 0) + 1
    summary = {
        "model": model_name, "adapter": adapter, "template": template, "probe_template": probe_template,
        "items": len(rows),
        "skipped_prompt_too_long": skipped, "coverage": coverage, "stop_reasons": stop_reasons,
        "reference_too_long_for_perplexity": reference_too_long,
        "answer_budget": budgets,
        "cut_at_budget": cut_at_budget([f"{r['set']}/{r['task']}/{r['lang']}" for r in rows],
                                       [r["stop_reason"] for r in rows]),
        "metrics": metric_values(table),
        "load_seconds": load_seconds, **speed, "batch_size": settings.batch_size,
        "batch_tokens": settings.batch_tokens,
        "device": device,
        "compute_dtype": compute_dtype(quantization, device),
        "device_name": device_name(device),
        "threads": torch.get_num_threads(), "seed": settings.seed, "settings": asdict(settings),
        "versions": versions("sacrebleu", "rouge-score"),
    }
    with atomic_directory(Path(out_dir)) as tmp:
        pq.write_table(table, tmp / "generations.parquet", compression="zstd")
        (tmp / "metrics.json").write_text(json_text(summary), encoding="utf-8")
    return summary


