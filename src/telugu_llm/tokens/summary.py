"""The fertility stage's summary: the per-tokenizer results gathered into the tables the report shows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

SUMMARY_COLUMNS = [
    "tokenizer", "corpus", "lang", "sentences", "words", "chars", "bytes", "tokens", "fertility",
    "continued_word_share", "chars_per_token", "bytes_per_token", "byte_fallback_share", "unk_share", "premium",
    "tokens_per_sentence_mean", "tokens_per_sentence_median", "tokens_per_sentence_p95", "script_vocab_pieces",
    "vocab_size",
]


def gather_fertility(summaries: list[Path], sentences: list[Path], examples: list[Path], costs: list[Path]):
    summary = pd.concat([pd.read_csv(p) for p in summaries], ignore_index=True)[SUMMARY_COLUMNS]
    per_sentence = pd.concat([pd.read_parquet(p) for p in sentences], ignore_index=True)
    shown = [json.loads(Path(p).read_text(encoding="utf-8")) for p in examples]
    cost = pd.concat([pd.read_csv(p) for p in costs], ignore_index=True) if costs else pd.DataFrame()
    return summary, per_sentence, shown, cost
