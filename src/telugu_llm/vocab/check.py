"""The checks an extended tokenizer passes on the data before it is written: every sentence of the
language round-trips (decode(encode(s)) == NFC(s)), and every English sentence encodes to the same
ids as under the base.

Streamed: a source's sentences are read lazily and checked a chunk at a time (encode, compare,
count, discard), so memory is one chunk of encodings (and one shard of text), whatever the size of
the corpus. A sentence that the base tokenizer cannot give back either (a literal U+2581, text that
the base normalises) is no fault of the extension: it is left out of the check and counted.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from ..data.shards import shard_paths
from ..errors import InputError

CHUNK = 4096  # sentences encoded at once
Source = tuple[str, Iterable[str]]  # where the sentences are ("<file>, line" or "<shard>, row"), and them


def _chunks(sources: Iterable[Source], chunk: int) -> Iterator[tuple[str, int, list[str]]]:
    """(where, number of the chunk's first sentence, sentences) of each source, `chunk` at a time."""
    for where, sentences in sources:
        sentences = iter(sentences)
        start = 1
        while batch := list(itertools.islice(sentences, chunk)):
            yield where, start, batch
            start += len(batch)


def check_extension(base, extended, *, texts: Iterable[Source], other: Iterable[Source], key: str,
                    chunk: int = CHUNK) -> dict:
    """The checks of the module's docstring; one error naming where the first failing sentence is.
    `base`, `extended`: tokenizers.Tokenizer objects. Returns the counts and tokens for source.json."""
    facts = {"round_trip_sentences": 0, "round_trip_left_out_base_cannot_give_back": 0, "english_sentences": 0,
             "tokens_base": 0, "tokens_extended": 0}
    for where, start, batch in _chunks(texts, chunk):
        batch = [unicodedata.normalize("NFC", t) for t in batch]
        encoded = extended.encode_batch(batch, add_special_tokens=False)
        decoded = extended.decode_batch([e.ids for e in encoded], skip_special_tokens=False)
        before = base.encode_batch(batch, add_special_tokens=False)
        for offset, (text, back, b, e) in enumerate(zip(batch, decoded, before, encoded)):
            if text != back:
                if base.decode(b.ids, skip_special_tokens=False) != text:
                    facts["round_trip_left_out_base_cannot_give_back"] += 1
                    continue
                raise InputError(f"{key}: the extended tokenizer does not give back {where} {start + offset} (the base "
                                 f"tokenizer gives it back): {text[:120]!r} came back as {back[:120]!r}")
            facts["round_trip_sentences"] += 1
            facts["tokens_base"] += len(b.ids)
            facts["tokens_extended"] += len(e.ids)
    for where, start, batch in _chunks(other, chunk):
        before = base.encode_batch(batch, add_special_tokens=False)
        after = extended.encode_batch(batch, add_special_tokens=False)
        for offset, (text, b, a) in enumerate(zip(batch, before, after)):
            if b.ids != a.ids:
                raise InputError(f"{key}: the extension changed how the English sentence at {where} {start + offset} "
                                 f"encodes: {text[:120]!r}")
        facts["english_sentences"] += len(batch)
    return facts


def shard_sources(split_dir: Path, column: str) -> Iterator[Source]:
    """One column of each shard of a split, a shard at a time, named by its file."""
    for path in shard_paths(Path(split_dir)):
        yield f"{path}, row", pq.read_table(path, columns=[column]).column(column).to_pylist()
