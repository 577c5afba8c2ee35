"""The report's tokenizer section: the fertility table, the cost of each template, tokens shown for
one sentence pair, and findings written from the numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .format import number


FERTILITY_TABLE = [
    ("tokenizer", "tokenizer"), ("corpus", "corpus"), ("lang", "lang"), ("sentences", "sentences"),
    ("words", "words"), ("tokens", "tokens (joined)"), ("premium", "premium"), ("fertility", "fertility"),
    ("continued_word_share", "continued words"), ("chars_per_token", "chars / token"),
    ("bytes_per_token", "bytes / token"), ("byte_fallback_share", "byte fallback"), ("unk_share", "unknown"),
    ("tokens_per_sentence_mean", "tokens / sentence"), ("tokens_per_sentence_p95", "p95"),
    ("script_vocab_pieces", "vocabulary in script"),
]


def corpus_descriptions(summary, corpora: list[dict]) -> list[dict]:
    """What each premium was computed on: the corpus, where it came from, its pairs."""
    pairs = summary[summary["lang"] == "en"].groupby("corpus")["sentences"].max()
    out = [{"name": "samanantar-test", "what": "the Samanantar test split of this run (cleaned, deduplicated)",
            "pairs": int(pairs.get("samanantar-test", 0))}]
    for c in corpora:
        if c["source"] == "hub":
            what = (f"{c['repo']}@{c['revision']}, configurations {c['src_config']} and {c['tgt_config']}, splits "
                    f"{' + '.join(c['splits'])}, rows joined on {c['key']!r}")
        else:
            what = f"the files {c['src']} and {c['tgt']}, as given"
        out.append({"name": c["name"], "what": what, "pairs": int(pairs.get(c["name"], 0))})
    return out


def fertility_context(summary_csv: Path, costs_csv: Path, examples_json: Path, corpora: list[dict] = ()) -> dict:
    summary = pd.read_csv(summary_csv)
    costs = pd.read_csv(costs_csv)
    rows = []
    for rec in summary.to_dict("records"):
        rows.append([number(rec[key]) for key, _ in FERTILITY_TABLE])
    described = corpus_descriptions(summary, list(corpora))
    return {
        "columns": [label for _, label in FERTILITY_TABLE],
        "rows": rows,
        "corpora": described,
        "costs": costs.to_dict("records"),
        "examples": json.loads(Path(examples_json).read_text(encoding="utf-8")),
        "findings": fertility_findings(summary, costs, described),
    }


def fertility_findings(summary, costs, corpora: list[dict] = ()) -> list[str]:
    """Sentences generated from measured values only, each naming the corpus it was measured on."""
    out = []
    for corpus in corpora:
        part = summary[(summary["corpus"] == corpus["name"]) & (summary["lang"] != "en")].set_index("tokenizer")
        if not len(part):
            continue
        lang = part["lang"].iloc[0]
        worst, best = part["premium"].idxmax(), part["premium"].idxmin()
        out.append(f"On {corpus['name']} ({corpus['what']}; {corpus['pairs']} pairs), {worst} needs "
                   f"{part.loc[worst, 'premium']:.2f} times as many tokens for the {lang} side as for the English side; "
                   f"{best} needs {part.loc[best, 'premium']:.2f} times.")
    test = summary[summary["corpus"] == "samanantar-test"]
    other = test[test["lang"] != "en"].set_index("tokenizer")
    if len(other):
        lang = other["lang"].iloc[0]
        if {"llama2", "mistral"} <= set(other.index):
            ratio = other.loc["llama2", "tokens"] / other.loc["mistral", "tokens"]
            out.append(f"On the Samanantar test split, Llama-2's tokenizer needs {ratio:.2f} times as many tokens as "
                       f"Mistral's for the same {lang} text; "
                       f"{100 * other.loc['llama2', 'byte_fallback_share']:.1f} % of Llama-2's and "
                       f"{100 * other.loc['mistral', 'byte_fallback_share']:.1f} % of Mistral's {lang} tokens are byte-fallback pieces.")
    if len(costs):
        worst = costs.sort_values("truncated_share", ascending=False).iloc[0]
        if worst["truncated_share"] > 0:
            out.append(f"With a maximum length of {int(worst['max_length'])} tokens, {100 * worst['truncated_share']:.1f} % of the "
                       f"{worst['dataset']} {worst['split']} examples would be truncated under {worst['tokenizer']} and the "
                       f"{worst['template']} template.")
    return out
