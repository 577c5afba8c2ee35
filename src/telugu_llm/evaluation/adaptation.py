"""The adaptation stage's systems measured side by side on held-out items (rule adapt_measure),
and their rows of the vocabulary comparison (results/vocab/comparison.csv): what an adaptation
buys and costs, measured on the same held-out items for every system.

- Bits per character of the test split's sentences in the language and in English (references
  only: never trained on, never learned from), each sentence scored alone after the tokenizer's
  start token (BOS, or EOS where it adds none), every one of its own tokens predicted; the
  characters are the sentence's. Per sentence (bits, characters): a ratio of sums, comparable
  across tokenizers (issue 21: no per-token metric between tokenizers).
- Generated characters per second: greedy continuations of the same prompts (the first words of
  test sentences in the language), every system asked for the same amount of text: `max_new_chars`
  characters turned into each tokenizer's tokens by its measured fertility on those sentences
  (`evaluation.budget.tokens_per_char`), generated in full (`min_new_tokens`: an early EOS would make
  a system look faster by writing less). Per item (characters generated, seconds), one item at a
  time after a warm-up; a ratio of sums.

Systems of one model M with extended twin T: `M` (untouched), `M adapted` (its own tokenizer, the
fair baseline), `T adapted (<init>)` and `T not adapted (<init>)` (the new rows initialised, nothing
trained) for each initialisation. Every measure is on the same items for every system (the test
split's sentences, the same prompts), so each comparison is paired: a jackknife-t interval of the
difference of two ratios of sums (bits over characters, characters over seconds), each sentence or
prompt its own cluster (a test pair's two sides are measured separately, as two measures). Training
sentences per second are one timing per adaptation (the same sentences for every system).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pandas as pd

from ..adapt.run import load_system, system_names
from ..atomic import atomic_file, write_json
from ..intervals import METHOD, paired_jackknife_t
from ..loading import resolve_device, set_pad_token
from ..vocab.compare import TIMING
from ..vocab.text import samanantar_sentences
from .budget import tokens_per_char
from .generation import reference_nll

PROMPT_WORDS = 3


def start_id(tokenizer) -> int:
    return tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id


def sentence_bits(model, tokenizer, sentences: list[str], *, rows: int = 16) -> list[tuple[float, int]]:
    """(bits, characters) of each sentence."""
    if tokenizer.pad_token_id is None:
        set_pad_token(tokenizer)
    examples = [([start_id(tokenizer)], tokenizer(s, add_special_tokens=False).input_ids) for s in sentences]
    longest = max(len(p) + len(r) for p, r in examples)
    nll = reference_nll(model, tokenizer, examples, batch_size=rows, batch_tokens=max(longest, 4096))
    return [(total / math.log(2), len(s)) for (total, _), s in zip(nll, sentences)]


def prompts_of(sentences: list[str], items: int) -> list[str]:
    """The first PROMPT_WORDS words of the first `items` sentences that have more words than that."""
    return [" ".join(s.split()[:PROMPT_WORDS]) for s in sentences if len(s.split()) > PROMPT_WORDS][:items]


def generation_speed(model, tokenizer, prompts: list[str], *, max_new_chars: int,
                     fertility_text: list[str]) -> tuple[list[tuple[int, float]], dict]:
    """(characters generated, seconds) per prompt, and the budget (max_new_chars characters as this
    tokenizer's tokens) with the texts generated."""
    import torch

    per_char = tokens_per_char(tokenizer, fertility_text)
    limit = max(1, math.ceil(max_new_chars * per_char))
    device = next(model.parameters()).device
    if tokenizer.pad_token_id is None:
        set_pad_token(tokenizer)
    pad = tokenizer.pad_token_id
    encoded = [[start_id(tokenizer)] + tokenizer(p, add_special_tokens=False).input_ids for p in prompts]

    def run(ids, n):
        x = torch.tensor([ids], device=device)
        with torch.inference_mode():
            out = model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=n, min_new_tokens=n,
                                 do_sample=False, top_p=None, top_k=None, temperature=None, pad_token_id=pad)
        return out[0, x.shape[1]:].tolist()

    run(encoded[0], 2)  # warm-up: the first call's one-off costs are not a system's speed
    out, texts = [], []
    for ids in encoded:
        start = time.perf_counter()
        new = run(ids, limit)
        seconds = time.perf_counter() - start
        text = tokenizer.decode(new, skip_special_tokens=True)
        out.append((len(text), seconds))
        texts.append(text)
    return out, {"max_new_chars": max_new_chars, "tokens_per_char": per_char, "max_new_tokens": limit, "texts": texts}


def measure_system(model_dir: Path, tokenizer_dir: Path, *, te: list[str], en: list[str], prompts: list[str],
                   max_new_chars: int, device: str, name: str, init: str | None = None) -> dict:
    """Every measure of one system (a model folder read with a tokenizer, its new rows initialised
    with `init` unless the folder is an adaptation's): per item lists."""
    import torch

    torch.manual_seed(0)
    model, tokenizer, _ = load_system(model_dir, tokenizer_dir, name=name, init=init, device=resolve_device(device))
    model.eval()
    speed, budget = generation_speed(model, tokenizer, prompts, max_new_chars=max_new_chars, fertility_text=te)
    return {"bits_te": sentence_bits(model, tokenizer, te), "bits_en": sentence_bits(model, tokenizer, en),
            "generation": speed, "budget": budget}


ITEM_COLUMNS = ["system", "measure", "item", "x", "y"]  # a ratio of sums: sum(x) / sum(y)


def measures(lang: str) -> dict[str, str]:
    """Each measure's name in comparison.csv, by its key in the items."""
    return {f"bits_{lang}": f"bits per character ({lang})", "bits_en": "bits per character (en)",
            "generation": "generated characters/s"}


def measure_all(systems: list[dict], *, shards: Path, lang: str, measure: dict, device: str, items_path: Path,
                summary_path: Path) -> dict:
    """Measure every system (dicts: name, model_dir, tokenizer_dir, init, adaptation)
    on the test split; write the per-item table and the summary."""
    test = Path(shards) / "test"
    te, en = samanantar_sentences(test), samanantar_sentences(test, "src")
    if measure["sentences"] is not None:
        te, en = te[:measure["sentences"]], en[:measure["sentences"]]
    prompts = prompts_of(te, measure["prompts"])
    rows, summary = [], {"sentences": len(te), "prompts": prompts, "systems": {}}
    for s in systems:
        m = measure_system(Path(s["model_dir"]), Path(s["tokenizer_dir"]), te=te, en=en, prompts=prompts,
                           max_new_chars=measure["max_new_chars"], device=device, name=s["name"], init=s.get("init"))
        for key, values in ((f"bits_{lang}", m["bits_te"]), ("bits_en", m["bits_en"]), ("generation", m["generation"])):
            rows += [{"system": s["name"], "measure": key, "item": n, "x": float(x), "y": float(y)}
                     for n, (x, y) in enumerate(values)]
        adaptation = json.loads(Path(s["adaptation"]).read_text()) if s.get("adaptation") else None
        budget = dict(m["budget"])
        texts = budget.pop("texts")
        summary["systems"][s["name"]] = {
            "budget": budget, "example": {"prompt": prompts[0], "output": texts[0]} if prompts else None,
            **{key: sum(x for x, _ in v) / sum(y for _, y in v) for key, v in
               ((f"bits_{lang}", m["bits_te"]), ("bits_en", m["bits_en"]), ("chars_per_second", m["generation"]))},
            "adaptation": None if adaptation is None else {
                k: adaptation[k] for k in ("init", "steps", "rows", "tokens_trained", "loss_first", "loss_last",
                                           "train_seconds", "sentences_per_second", "tokens_per_second", "text")}}
    with atomic_file(Path(items_path)) as tmp:
        pd.DataFrame(rows, columns=ITEM_COLUMNS).to_parquet(tmp, index=False)
    write_json(Path(summary_path), summary)
    return summary


def _paired(items: pd.DataFrame, measure: str, a: str, b: str, confidence: float) -> dict:
    def side(system):
        part = items[(items.system == system) & (items.measure == measure)].sort_values("item")
        return part[["x", "y"]].to_numpy(dtype=float)

    base, other = side(a), side(b)
    d = paired_jackknife_t(base, other, lambda sums: sums[0] / sums[1], confidence, p_value=False)
    return {"base": d["base"], "extended": d["tuned"], "ratio": d["tuned"] / d["base"] if d["base"] else None,
            "diff": d["diff"], "ci_low": d["ci_low"], "ci_high": d["ci_high"], "n": d["n"]}


def comparison_pairs(model: str, twin: str, inits: list[str]) -> list[tuple[str, str]]:
    """(base side, other side) of each comparison: adaptation alone against the untouched model;
    extension plus adaptation against adaptation alone (the claim) and against the untouched model;
    each initialisation unadapted against the untouched model."""
    names = system_names(model, twin, inits)
    pairs = [(names["untouched"], names["adapted"])]
    for init in inits:
        pairs += [(names["adapted"], names[f"twin_adapted_{init}"]), (names["untouched"], names[f"twin_adapted_{init}"]),
                  (names["untouched"], names[f"twin_initialised_{init}"])]
    return pairs


def adaptation_rows(*, model: str, twin: str, inits: list[str], lang: str, items: pd.DataFrame, summary: dict,
                    confidence: float) -> list[dict]:
    """The comparison rows of one model's adaptation (see the module)."""
    rows = []
    sentences, prompts = summary["sentences"], len(summary["prompts"])
    for a, b in comparison_pairs(model, twin, inits):
        for key, name in measures(lang).items():
            d = _paired(items, key, a, b, confidence)
            what = f"the same {prompts} prompts" if key == "generation" else f"the same {sentences} test sentences"
            rows.append({"model": a, "twin": b, "run": "adapt", "measure": name, **d,
                         "method": f"paired {METHOD} over {what} (ratio of sums)"})
        speeds = [(summary["systems"][s]["adaptation"] or {}).get("sentences_per_second") for s in (a, b)]
        if all(v is not None for v in speeds):
            text = summary["systems"][a]["adaptation"]["text"]["sentences"]
            rows.append({"model": a, "twin": b, "run": "adapt", "measure": "training sentences/s",
                         "base": speeds[0], "extended": speeds[1], "ratio": speeds[1] / speeds[0],
                         "diff": speeds[1] - speeds[0], "ci_low": math.nan, "ci_high": math.nan, "n": 1,
                         "method": f"{TIMING}; the same {text} sentences"})
    return rows


def read_items(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)

