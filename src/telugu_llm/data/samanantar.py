"""Samanantar (Ramesh et al. 2022) English–Indic pairs to cleaned, split Parquet shards.

Three sources give the same stream of batches: the embedded sample and a local copy of the release
(`<root>/en-<lang>/train.en` and `train.<lang>`, line-aligned), or the Hugging Face dataset
`ai4bharat/samanantar` streamed through `datasets`.

Two passes, because a pair's split depends on pairs that come later (pairs that share a side go to
one split; `grouping`). Pass 1 reads, normalises and filters each batch, writes the rows that pass
the filters, unsplit, to the rows file (`ROWS_NAME`, uncompressed Arrow IPC) and keeps three 64-bit
hashes per row (pair, English key, target key). Then exact duplicates (a pair seen before, in input
order) and the groups are found on those arrays, and the rows index (`ROWS_INDEX_NAME`: pair hash
and split of each row of the rows file) is written. Pass 2 reads the rows file back, one batch at a
time in input order, and writes the split shards. Memory is bounded by one batch of `rows_per_shard`
rows plus about 50 bytes per pair (the hashes and the work arrays of deduplication and grouping).

Both files stay beside the shards, so that a subset job (`subsets`) takes the few rows it needs from
the rows file instead of decoding the whole training split; they cost about the size of the text
on disk. Everything is written inside the output's temporary directory, so an error leaves nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..hub import explained, load
from ..languages import SAMANANTAR_LANGUAGES, SCRIPTS, script_of_language
from .grouping import KEY_NAME, RULE_NAME, exact_path_pattern, group_splits, key_hashes
from .hashing import SPLITS, hex_ids, text_hashes
from .lines import LineReader
from .shards import ShardWriter
from .text import clip, normalize_and_flag

log = logging.getLogger(__name__)

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("idx", pa.int64(), nullable=False),
        pa.field("src", pa.string(), nullable=False),
        pa.field("tgt", pa.string(), nullable=False),
        pa.field("src_lang", pa.string(), nullable=False),
        pa.field("tgt_lang", pa.string(), nullable=False),
        pa.field("data_source", pa.string()),
        pa.field("split", pa.string(), nullable=False),
    ],
    metadata={"schema": "telugu_llm.samanantar/1"},
)
# The columns of few distinct values, dictionary-encoded in the shards (the others are mostly distinct).
DICTIONARY_COLUMNS = ("src_lang", "tgt_lang", "data_source", "split")

# Beside the split shards (leading underscores: Arrow's dataset readers skip them): every row that
# passed the filters, in input order, before deduplication and splitting, as uncompressed Arrow IPC,
# one record batch per input batch; and per row of it the pair hash and the split code (0 train,
# 1 validation, 2 test, DUPLICATE), with the target language in the schema's metadata.
ROWS_NAME = "_rows.arrow"
ROWS_INDEX_NAME = "_rows_index.arrow"
ROWS_SCHEMA = pa.schema([pa.field("idx", pa.int64()), pa.field("src", pa.string()), pa.field("tgt", pa.string()),
                         pa.field("data_source", pa.string())])
DUPLICATE = -1

# Each dropped row is counted under the first reason that applies, in this order.
DROP_REASONS = ("invalid_utf8", "empty_side", "same_sides", "no_source_script", "no_target_script", "length_ratio",
                "duplicate")
LATIN = SCRIPTS["Latin"].regex_class
_EXAMPLES_PER_REASON = 3


@dataclass
class Batch:
    idx: np.ndarray  # int64, 0-based position in the source
    src: pa.Array  # str, raw
    tgt: pa.Array
    data_source: pa.Array | None = None
    invalid: np.ndarray | None = None  # bool, rows whose bytes were not UTF-8 (skip mode)

    def __len__(self) -> int:
        return len(self.idx)


def release_files(root: Path, lang: str) -> tuple[Path, Path]:
    folder = Path(root) / f"en-{lang}"
    return folder / "train.en", folder / f"train.{lang}"


def decode_lines(lines: pa.Array, path: Path, first_line: int, on_invalid: str, switch: str):
    """Bytes to an Arrow string array. Invalid UTF-8 raises naming the file and line, or (skip)
    becomes an empty string flagged in the returned mask."""
    try:
        return lines.cast(pa.string()), None
    except pa.ArrowInvalid:
        pass
    raw_lines = lines.to_pylist()
    invalid = np.zeros(len(raw_lines), dtype=bool)
    for i, raw in enumerate(raw_lines):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if on_invalid != "skip":
                raise InputError(
                    f"{path}: line {first_line + i + 1}: invalid UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                    f"{exc.start + 1} of the line); fix the file, or set {switch}: skip to drop and count such rows"
                ) from None
            invalid[i] = True
    cleaned = [b"" if bad else raw for raw, bad in zip(raw_lines, invalid)]
    return pa.array(cleaned, type=pa.binary()).cast(pa.string()), invalid


def iter_release_batches(
    src_path: Path, tgt_path: Path, batch_rows: int, on_invalid: str,
    switch: str = "samanantar.on_invalid_utf8",
) -> Iterator[Batch]:
    """Line-aligned batches of two files of the release layout; fails on a line-count mismatch."""
    with LineReader(src_path) as fs, LineReader(tgt_path) as ft:
        start = 0
        while True:
            a, b = fs.take(batch_rows), ft.take(batch_rows)
            if len(a) != len(b):
                raise InputError(
                    f"line counts differ: {src_path} has {fs.count_rest()} lines but {tgt_path} has "
                    f"{ft.count_rest()}; the two files of a parallel corpus must be line-aligned"
                )
            if not len(a):
                return
            src, bad_src = decode_lines(a, src_path, start, on_invalid, switch)
            tgt, bad_tgt = decode_lines(b, tgt_path, start, on_invalid, switch)
            invalid = None
            if bad_src is not None or bad_tgt is not None:
                invalid = np.zeros(len(a), dtype=bool)
                for bad in (bad_src, bad_tgt):
                    if bad is not None:
                        invalid |= bad
            yield Batch(np.arange(start, start + len(a), dtype=np.int64), src, tgt, None, invalid)
            start += len(a)


def iter_hub_batches(hub: dict, lang: str, batch_rows: int) -> Iterator[Batch]:
    """Stream `ai4bharat/samanantar` (configuration `<lang>` unless samanantar.hub.config names
    another; columns idx, src, tgt, and data_source where the source gives it: the hub's Parquet
    conversion has none, and the column is then null).

    The token, where one is needed, comes from the HF_TOKEN environment variable, read by
    huggingface_hub itself; it is never passed or written here."""
    spec = {**hub, "config": hub.get("config") or lang}
    batches = load("samanantar.hub", spec, "train").iter(batch_size=batch_rows)
    position = 0
    for rows in explained("samanantar.hub", spec, "train", batches, columns=("src", "tgt")):
        n = len(rows["src"])
        idx = rows.get("idx")
        idx = np.arange(position, position + n, dtype=np.int64) if idx is None else np.asarray(idx, dtype=np.int64)
        position += n
        src = pc.fill_null(pa.array(rows["src"], type=pa.string()), "")
        tgt = pc.fill_null(pa.array(rows["tgt"], type=pa.string()), "")
        ds_col = rows.get("data_source")
        yield Batch(idx, src, tgt, None if ds_col is None else pa.array(ds_col, type=pa.string()))


def drop_reasons(src: pa.Array, tgt: pa.Array, invalid: np.ndarray | None, script_regex: str,
                 max_length_ratio: float) -> np.ndarray:
    """Per row: 0 to keep, else 1 + the index in DROP_REASONS of the first reason that applies
    (duplicates are decided later, over the rows that pass these filters)."""
    ls = pc.utf8_length(src).to_numpy(zero_copy_only=False)
    lt = pc.utf8_length(tgt).to_numpy(zero_copy_only=False)
    has_script = pc.match_substring_regex(tgt, pattern=script_regex).to_numpy(zero_copy_only=False)
    has_latin = pc.match_substring_regex(src, pattern=LATIN).to_numpy(zero_copy_only=False)
    same = pc.equal(src, tgt).to_numpy(zero_copy_only=False)
    ratio = np.maximum(ls, lt) / np.maximum(np.minimum(ls, lt), 1)
    reason = np.zeros(len(ls), dtype=np.int8)
    # assigned from the last reason to the first, so that the first one that applies wins
    reason[ratio > max_length_ratio] = 1 + DROP_REASONS.index("length_ratio")
    reason[~has_script] = 1 + DROP_REASONS.index("no_target_script")
    reason[~has_latin] = 1 + DROP_REASONS.index("no_source_script")
    reason[same] = 1 + DROP_REASONS.index("same_sides")
    reason[(ls == 0) | (lt == 0)] = 1 + DROP_REASONS.index("empty_side")
    if invalid is not None:
        reason[invalid] = 1 + DROP_REASONS.index("invalid_utf8")
    return reason


def check_something_is_left(rows_read: int, passed: int, dropped: Counter, lang: str, inputs: list[str]) -> None:
    """A corpus whose English side is mostly not English (the files swapped, or both sides in the
    target language), or whose every pair was dropped, is one error with the reasons counted."""
    name = SAMANANTAR_LANGUAGES[lang][0]
    counts = "; ".join(f"{reason} {n:,}" for reason, n in dropped.items() if n)
    if rows_read and dropped["no_source_script"] + dropped["same_sides"] > rows_read / 2:
        raise InputError(f"{inputs[0]}: {dropped['no_source_script'] + dropped['same_sides']:,} of {rows_read:,} English "
                         f"sides have no Latin letter or equal their {name} side: the English side is not English. Are "
                         f"the files swapped, or is samanantar.lang ({lang}) wrong? (dropped: {counts})")
    if not passed:
        raise InputError(f"samanantar: all {rows_read:,} pairs of {', '.join(inputs)} were dropped ({counts or 'empty input'}); "
                         f"is samanantar.lang ({lang}, {name}) right, or are the files swapped?")


def build_samanantar(*, source: str, lang: str, path: Path | None, out_dir: Path, quality_path: Path,
                     rows_per_shard: int, validation_fraction: float, test_fraction: float, max_length_ratio: float,
                     on_invalid_utf8: str, hub: dict) -> dict:
    """Read, normalise, filter, deduplicate and split one language pair; write shards and quality JSON.
    The keyword arguments are the keys of the config's `samanantar` section (`hub`: repo, revision).

    Returns the quality report. On any error nothing is left at `out_dir` or `quality_path`."""
    if lang not in SAMANANTAR_LANGUAGES:
        raise InputError(f"samanantar.lang: unknown language {lang!r}; Samanantar has {sorted(SAMANANTAR_LANGUAGES)}")
    script = script_of_language(lang)
    if source in ("embedded", "local"):
        src_path, tgt_path = release_files(path, lang)
        for p in (src_path, tgt_path):
            if not p.is_file():
                raise InputError(f"samanantar.path: {p} does not exist (expected the release layout en-{lang}/train.en, en-{lang}/train.{lang})")
        batches = iter_release_batches(src_path, tgt_path, rows_per_shard, on_invalid_utf8)
        inputs = [str(src_path), str(tgt_path)]
    elif source == "hub":
        batches = iter_hub_batches(hub, lang, rows_per_shard)
        inputs = [f"hf://datasets/{hub['repo']}@{hub['revision']}/{lang}"]
    else:
        raise InputError(f"samanantar.source: unknown source {source!r}; use embedded, local or hub")

    dropped: Counter = Counter({r: 0 for r in DROP_REASONS})
    examples: dict[str, list[dict]] = {r: [] for r in DROP_REASONS}
    rows_read = 0
    exact = exact_path_pattern()
    pair_hashes: list[np.ndarray] = []
    src_keys: list[np.ndarray] = []
    tgt_keys: list[np.ndarray] = []
    with atomic_directory(Path(out_dir)) as tmp:
        # pass 1: normalise, filter, hash; the rows that pass go to the rows file, unsplit
        with pa.OSFile(str(tmp / ROWS_NAME), "wb") as sink, pa.ipc.new_file(sink, ROWS_SCHEMA) as rows_writer:
            for batch in batches:
                rows_read += len(batch)
                src, src_exact = normalize_and_flag(batch.src, exact)
                tgt, tgt_exact = normalize_and_flag(batch.tgt, exact)
                reason = drop_reasons(src, tgt, batch.invalid, script.regex_class, max_length_ratio)
                _count_dropped(reason, batch.idx, src, tgt, dropped, examples)
                passing = np.flatnonzero(reason == 0)
                src, tgt = src.take(passing), tgt.take(passing)
                pair_hashes.append(text_hashes(pc.binary_join_element_wise(src, tgt, "\x1f")))
                src_keys.append(key_hashes(src, src_exact[passing]))
                tgt_keys.append(key_hashes(tgt, tgt_exact[passing]))
                data_source = (batch.data_source.take(passing) if batch.data_source is not None
                               else pa.nulls(len(passing), pa.string()))
                rows_writer.write_batch(pa.record_batch(
                    [pa.array(batch.idx[passing], pa.int64()), src, tgt, data_source], schema=ROWS_SCHEMA))
                log.info("read %d rows, %d pass the filters", rows_read, sum(map(len, pair_hashes)))

        check_something_is_left(rows_read, sum(map(len, pair_hashes)), dropped, lang, inputs)

        # exact duplicates (the first occurrence in input order stays), then the groups of shared sides
        pair_hash = _concat(pair_hashes)
        del pair_hashes
        first = np.zeros(len(pair_hash), dtype=bool)
        first[np.unique(pair_hash, return_index=True)[1]] = True
        dropped["duplicate"] = int(len(first) - first.sum())
        split, overlap = group_splits(pair_hash[first], _concat(src_keys)[first], _concat(tgt_keys)[first],
                                      validation_fraction, test_fraction)
        del src_keys, tgt_keys
        log.info("%d distinct pairs; %d groups of pairs that share a side hold %d pairs, %d moved to their group's split",
                 len(split), overlap["groups"], overlap["pairs_in_groups"], overlap["moved"])
        held_out = [f for f in (validation_fraction, test_fraction) if f > 0]
        if held_out and overlap["largest_group"] > min(held_out) * len(split) / 2:
            log.warning("the largest group of pairs that share a side holds %d pairs, more than half of the smallest "
                        "held-out split's share (%d pairs): the split shares can be far from the fractions asked for "
                        "(quality.json: splits)", overlap["largest_group"], int(min(held_out) * len(split)))
        split_of_row = np.full(len(first), DUPLICATE, dtype=np.int8)
        split_of_row[first] = split
        del first, split
        index = pa.table({"pair_hash": pair_hash, "split": split_of_row}).replace_schema_metadata({"tgt_lang": lang})
        with pa.OSFile(str(tmp / ROWS_INDEX_NAME), "wb") as sink, pa.ipc.new_file(sink, index.schema) as index_writer:
            index_writer.write_table(index)
        del index

        # pass 2: the split shards, in input order
        writer = ShardWriter(tmp, SCHEMA, rows_per_shard, SPLITS, DICTIONARY_COLUMNS)
        for start, rows in iter_rows(tmp):
            codes = split_of_row[start:start + rows.num_rows]
            for r in np.flatnonzero(codes == DUPLICATE)[: _EXAMPLES_PER_REASON - len(examples["duplicate"])]:
                examples["duplicate"].append(_example(rows.column("idx")[r].as_py(), rows.column("src")[r].as_py(),
                                                      rows.column("tgt")[r].as_py()))
            for code, name in enumerate(SPLITS):
                keep = np.flatnonzero(codes == code)
                writer.write(name, shard_rows(rows, keep, pair_hash[start + keep], codes[keep], lang))
        shards = writer.close()
    splits = {name: sum(s["rows"] for s in shards[name]) for name in SPLITS}
    quality = {
        "dataset": "samanantar",
        "pair": f"en-{lang}",
        "source": source,
        "inputs": inputs,
        "rows_read": rows_read,
        "rows_kept": sum(splits.values()),
        "dropped": dict(dropped),
        "dropped_total": sum(dropped.values()),
        "splits": splits,
        "overlap": overlap,
        "shards": shards,
        "dropped_examples": {k: v for k, v in examples.items() if v},
        "settings": {
            "rows_per_shard": rows_per_shard,
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
            "max_length_ratio": max_length_ratio,
            "on_invalid_utf8": on_invalid_utf8,
            "target_script": script.name,
            "group_key": KEY_NAME,
            "split_rule": RULE_NAME,
        },
    }
    assert quality["rows_read"] == quality["rows_kept"] + quality["dropped_total"]
    write_json(quality_path, quality)
    return quality


def shard_rows(rows: pa.RecordBatch, keep: np.ndarray, pair_hash: np.ndarray, split: np.ndarray,
               lang: str) -> pa.Table:
    """The rows `keep` of a batch of the rows file as rows of the shards (SCHEMA), given their pair
    hashes and split codes."""
    n = len(keep)
    return pa.table(
        {
            "id": hex_ids(pair_hash),
            "idx": rows.column("idx").take(keep),
            "src": rows.column("src").take(keep),
            "tgt": rows.column("tgt").take(keep),
            "src_lang": pa.repeat("en", n),
            "tgt_lang": pa.repeat(lang, n),
            "data_source": rows.column("data_source").take(keep),
            "split": pa.array(SPLITS).take(pa.array(split, pa.int8())),
        },
        schema=SCHEMA,
    )


def iter_rows(shards_dir: Path) -> Iterator[tuple[int, pa.RecordBatch]]:
    """(position of its first row, batch) for each batch of the rows file, in order, read one batch
    at a time. (Not memory-mapped: the kernel's read-ahead would bring nearly every page of the file
    into the reader's resident memory, 1.9 GB for a subset of 10k of 4.9M pairs.)"""
    with pa.OSFile(str(Path(shards_dir) / ROWS_NAME), "rb") as source:
        reader = pa.ipc.open_file(source)
        start = 0
        for i in range(reader.num_record_batches):
            rows = reader.get_batch(i)
            yield start, rows
            start += rows.num_rows


def read_rows_index(shards_dir: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """(pair hash, split code, target language) of the rows file, from its index."""
    with pa.OSFile(str(Path(shards_dir) / ROWS_INDEX_NAME), "rb") as source:
        index = pa.ipc.open_file(source).read_all()
    lang = index.schema.metadata[b"tgt_lang"].decode()
    return index.column("pair_hash").to_numpy(), index.column("split").to_numpy(), lang


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _example(idx: int, src: str, tgt: str) -> dict:
    return {"line": int(idx) + 1, "src": clip(src), "tgt": clip(tgt)}


def _count_dropped(reason: np.ndarray, idx: np.ndarray, src: pa.Array, tgt: pa.Array, dropped: Counter,
                   examples: dict[str, list[dict]]) -> None:
    """Count the rows of one batch dropped by a filter (duplicates are counted later) and keep the
    first few of each reason as examples."""
    for code in np.unique(reason[reason > 0]):
        name = DROP_REASONS[code - 1]
        rows = np.flatnonzero(reason == code)
        dropped[name] += len(rows)
        for i in rows[: _EXAMPLES_PER_REASON - len(examples[name])]:
            examples[name].append(_example(idx[i], src[i].as_py(), tgt[i].as_py()))
