"""Tokenizer fertility and the cost of a language, on parallel corpora.

Two passes per (tokenizer, corpus, language), both without special tokens:
- the joined pass of Petrov et al. (2023, "Language Model Tokenizers Introduce Unfairness Between
  Languages"): the corpus lines joined with single spaces and tokenized once. `tokens`, the
  premium (tokens / English tokens on the same corpus), characters and bytes per token, and the
  byte-fallback and unknown shares come from it, so they compare with the published table;
- the sentence pass: each line on its own, in batches. Tokens per sentence and the per-word
  metrics (fertility, tokens per whitespace-separated word; the share of continued words, words
  split into two or more tokens, Rust et al. 2021) come from its token offsets, never from
  tokenizing words again.

A token belongs to the word holding its first non-whitespace character (SentencePiece's lone "▁"
piece belongs to the word after it; byte-fallback pieces to the character they encode).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.shards import read_shards
from ..errors import InputError
from ..languages import SCRIPTS, script_of_language
from ..loading import load_tokenizer
from .tokenizer import piece_bytes, vocabulary_facts

# Python's str.split() whitespace: what "whitespace-separated word" means here
WHITESPACE = np.array(sorted(cp for cp in range(0x3001) if chr(cp).isspace()), dtype=np.uint32)


@dataclass
class SentenceStats:
    tokens: np.ndarray  # per sentence
    words: np.ndarray
    continued: np.ndarray  # words of two or more tokens, per sentence
    chars: np.ndarray


def _codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def word_stats(texts: list[str], lengths: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Words and continued words per sentence, and tokens attributed to a word, from token start
    offsets. `lengths`: tokens per sentence; `starts`: all token start offsets, concatenated."""
    n = len(texts)
    chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    base = np.concatenate([[0], np.cumsum(chars)])
    cps = _codepoints("".join(texts))
    total = len(cps)
    ws = np.isin(cps, WHITESPACE)
    sentence_start = np.zeros(total, dtype=bool)
    sentence_start[base[:-1][chars > 0]] = True
    prev_ws = np.empty(total, dtype=bool)
    if total:
        prev_ws[0] = True
        prev_ws[1:] = ws[:-1]
    word_start = ~ws & (prev_ws | sentence_start)
    word_pos = np.flatnonzero(word_start)
    sentence_of_char = np.repeat(np.arange(n), chars)
    words = np.bincount(sentence_of_char[word_pos], minlength=n) if total else np.zeros(n, dtype=np.int64)

    # anchor of a token: first non-whitespace character at or after its start, within its sentence
    sentence_of_token = np.repeat(np.arange(n), lengths)
    pos = base[sentence_of_token] + starts
    next_nonws = np.where(~ws, np.arange(total), total)
    next_nonws = np.minimum.accumulate(next_nonws[::-1])[::-1] if total else next_nonws
    pos = np.minimum(pos, total - 1) if total else pos
    anchor = next_nonws[pos] if total else pos
    end = base[sentence_of_token + 1]
    inside = anchor < end
    # tokens that are only trailing whitespace belong to the sentence's last word
    anchor = np.where(inside, anchor, end - 1)
    word_of_token = np.searchsorted(word_pos, anchor, side="right") - 1
    valid = (word_of_token >= 0) & (words[sentence_of_token] > 0)
    per_word = np.bincount(word_of_token[valid], minlength=len(word_pos))
    continued = np.bincount(sentence_of_char[word_pos[per_word >= 2]], minlength=n) if len(word_pos) else np.zeros(n, dtype=np.int64)
    return words, continued, chars


def sentence_pass(backend, texts: list[str], batch_size: int) -> SentenceStats:
    """Per-sentence tokens, words, continued words and characters (no special tokens)."""
    parts = []
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        encodings = backend.encode_batch(chunk, add_special_tokens=False)
        lengths = np.fromiter((len(e) for e in encodings), dtype=np.int64, count=len(encodings))
        starts = np.fromiter(chain.from_iterable((s for s, _ in e.offsets) for e in encodings),
                             dtype=np.int64, count=int(lengths.sum()))
        words, continued, chars = word_stats(chunk, lengths, starts)
        parts.append((lengths, words, continued, chars))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return SentenceStats(empty, empty, empty, empty)
    return SentenceStats(*(np.concatenate([p[k] for p in parts]) for k in range(4)))


@dataclass
class JoinedStats:
    tokens: int
    chars: int
    bytes: int
    byte_fallback: int
    unk: int


def joined_pass(backend, texts: list[str], byte_ids: np.ndarray, unk_id: int | None) -> JoinedStats:
    """Petrov et al.'s protocol: lines joined with single spaces, tokenized once."""
    joined = " ".join(texts)
    ids = np.asarray(backend.encode(joined, add_special_tokens=False).ids, dtype=np.int64)
    return JoinedStats(
        tokens=len(ids),
        chars=len(joined),
        bytes=len(joined.encode("utf-8")),
        byte_fallback=int(np.isin(ids, byte_ids).sum()),
        unk=int((ids == unk_id).sum()) if unk_id is not None else 0,
    )


def script_vocabulary(texts: list[str], script_regex) -> int:
    """Vocabulary entries whose text has at least one character of the script."""
    return sum(1 for t in texts if script_regex.search(t))


def corpus_row(*, tokenizer: str, corpus: str, lang: str, sentences: SentenceStats, joined: JoinedStats,
               english_tokens: int | None, script_pieces: int, vocab_size: int) -> dict:
    words = int(sentences.words.sum())
    tok_sent = sentences.tokens
    return {
        "tokenizer": tokenizer,
        "corpus": corpus,
        "lang": lang,
        "sentences": len(tok_sent),
        "words": words,
        "chars": joined.chars,
        "bytes": joined.bytes,
        "tokens": joined.tokens,
        "fertility": _ratio(int(tok_sent.sum()), words),
        "continued_word_share": _ratio(int(sentences.continued.sum()), words),
        "chars_per_token": _ratio(joined.chars, joined.tokens),
        "bytes_per_token": _ratio(joined.bytes, joined.tokens),
        "byte_fallback_share": _ratio(joined.byte_fallback, joined.tokens),
        "unk_share": _ratio(joined.unk, joined.tokens),
        "premium": 1.0 if lang == "en" else _ratio(joined.tokens, english_tokens or 0),
        "tokens_per_sentence_mean": round(float(tok_sent.mean()), 4) if len(tok_sent) else None,
        "tokens_per_sentence_median": float(np.median(tok_sent)) if len(tok_sent) else None,
        "tokens_per_sentence_p95": float(np.percentile(tok_sent, 95)) if len(tok_sent) else None,
        "script_vocab_pieces": script_pieces,
        "vocab_size": vocab_size,
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


# ---------------------------------------------------------------------------------------------
# Corpora and the per-tokenizer analysis


def read_parallel(name: str, src: Path, tgt: Path) -> tuple[list[str], list[str]]:
    """An extra parallel corpus as given (unfiltered): lines without their terminators."""
    sides = []
    for path in (Path(src), Path(tgt)):
        if not path.is_file():
            raise InputError(f"fertility.corpora {name}: {path} does not exist")
        lines = []
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    lines.append(raw.decode("utf-8").rstrip("\r\n"))
                except UnicodeDecodeError:
                    raise InputError(f"fertility.corpora {name}: {path}: line {number}: invalid UTF-8") from None
        sides.append(lines)
    if len(sides[0]) != len(sides[1]):
        raise InputError(f"fertility.corpora {name}: line counts differ: {src} has {len(sides[0])} lines but "
                         f"{tgt} has {len(sides[1])}; the two files must be line-aligned")
    if not sides[0]:
        raise InputError(f"fertility.corpora {name}: {src} and {tgt} are empty")
    return sides[0], sides[1]


def samanantar_test(shards_dir: Path) -> tuple[list[str], list[str]]:
    src, tgt = [], []
    for table in read_shards(Path(shards_dir) / "test", columns=["src", "tgt"]):
        src += table.column("src").to_pylist()
        tgt += table.column("tgt").to_pylist()
    if not src:
        raise InputError(f"{shards_dir}/test has no pairs: raise samanantar.test_fraction to analyse fertility")
    return src, tgt


def token_display(resource_dir: str, text: str) -> list[dict]:
    """The tokens of one text as a reader should see them: the text a token stands for, or, for a
    byte piece that is not a whole character, its bytes in hex."""
    facts = vocabulary_facts(resource_dir)
    byte_ids = set(facts["byte_ids"])
    ids = load_tokenizer(resource_dir).backend_tokenizer.encode(text, add_special_tokens=False).ids
    out = []
    for i in ids:
        piece = facts["pieces"][i]
        raw = piece_bytes(piece, facts["byte_level"])
        byte = i in byte_ids
        display = " ".join(f"<0x{b:02X}>" for b in raw) if byte else raw.decode("utf-8", errors="replace")
        out.append({"id": i, "piece": piece, "display": display, "byte": byte})
    return out


def analyse_tokenizer(*, name: str, resource_dir: str, corpora: list[dict], batch_size: int,
                      example: tuple[str, str] | None = None) -> tuple[list[dict], pd.DataFrame, dict]:
    """Summary rows (one per corpus and language), per-sentence token counts, and the example
    sentence pair as tokens. corpora: [{name, lang, src: [English lines], tgt: [lines]}]."""
    tokenizer = load_tokenizer(resource_dir)
    backend = tokenizer.backend_tokenizer
    facts = vocabulary_facts(resource_dir)
    byte_ids = np.asarray(facts["byte_ids"], dtype=np.int64)
    rows, frames = [], []
    for corpus in corpora:
        english_tokens = None
        for lang, lines in (("en", corpus["src"]), (corpus["lang"], corpus["tgt"])):
            sentences = sentence_pass(backend, lines, batch_size)
            joined = joined_pass(backend, lines, byte_ids, facts["unk_id"])
            if lang == "en":
                english_tokens = joined.tokens
            script = _script_re(lang)
            rows.append(corpus_row(tokenizer=name, corpus=corpus["name"], lang=lang, sentences=sentences, joined=joined,
                                   english_tokens=english_tokens, script_pieces=script_vocabulary(facts["texts"], script),
                                   vocab_size=facts["size"]))
            frames.append(pd.DataFrame({"tokenizer": name, "corpus": corpus["name"], "lang": lang,
                                        "tokens": sentences.tokens, "words": sentences.words, "chars": sentences.chars}))
    shown = {}
    if example:
        shown = {"tokenizer": name, "en": token_display(resource_dir, example[0]),
                 "tgt": token_display(resource_dir, example[1])}
    return rows, pd.concat(frames, ignore_index=True), shown


def _script_re(lang: str) -> re.Pattern:
    return (SCRIPTS["Latin"] if lang == "en" else script_of_language(lang)).python_regex
