"""Samanantar (Ramesh et al. 2022) English–Indic pairs to cleaned, split Parquet shards.

Three sources give the same stream of batches: the embedded sample and a local copy of the release
(`<root>/en-<lang>/train.en` and `train.<lang>`, line-aligned), or the Hugging Face dataset
`ai4bharat/samanantar` streamed through `datasets`. Memory is bounded by one batch of
`rows_per_shard` rows plus 8 bytes per distinct pair for duplicate detection.
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
from ..hub import hub_error
from ..languages import SAMANANTAR_LANGUAGES, script_of_language
from .hashing import SPLITS, HashIndex, assign_splits, first_occurrences, hex_ids, text_hashes
from .lines import LineReader
from .shards import ShardWriter
from .text import clip, normalize_lines

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

# Each dropped row is counted under the first reason that applies, in this order.
DROP_REASONS = ("invalid_utf8", "empty_side", "no_target_script", "length_ratio", "duplicate")
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


def iter_hub_batches(repo: str, lang: str, revision: str, batch_rows: int) -> Iterator[Batch]:
    """Stream `ai4bharat/samanantar` (config `<lang>`, columns idx, src, tgt, data_source).

    The token, where one is needed, comes from the HF_TOKEN environment variable, read by
    huggingface_hub itself; it is never passed or written here."""
    import datasets  # imported here: only the hub source needs it

    try:
        ds = datasets.load_dataset(repo, lang, split="train", streaming=True, revision=revision)
        position = 0
        for rows in ds.iter(batch_size=batch_rows):
            n = len(rows["src"])
            idx = rows.get("idx")
            idx = np.arange(position, position + n, dtype=np.int64) if idx is None else np.asarray(idx, dtype=np.int64)
            position += n
            src = pc.fill_null(pa.array(rows["src"], type=pa.string()), "")
            tgt = pc.fill_null(pa.array(rows["tgt"], type=pa.string()), "")
            ds_col = rows.get("data_source")
            yield Batch(idx, src, tgt, None if ds_col is None else pa.array(ds_col, type=pa.string()))
    except (ConnectionError, OSError, ValueError) as exc:
        raise hub_error("samanantar", repo, revision, exc) from exc


def drop_reasons(src: pa.Array, tgt: pa.Array, invalid: np.ndarray | None, script_regex: str,
                 max_length_ratio: float) -> np.ndarray:
    """Per row: 0 to keep, else 1 + the index in DROP_REASONS of the first reason that applies
    (duplicates are decided later, over the rows that pass these filters)."""
    ls = pc.utf8_length(src).to_numpy(zero_copy_only=False)
    lt = pc.utf8_length(tgt).to_numpy(zero_copy_only=False)
    has_script = pc.match_substring_regex(tgt, pattern=script_regex).to_numpy(zero_copy_only=False)
    ratio = np.maximum(ls, lt) / np.maximum(np.minimum(ls, lt), 1)
    reason = np.zeros(len(ls), dtype=np.int8)
    # assigned from the last reason to the first, so that the first one that applies wins
    reason[ratio > max_length_ratio] = 1 + DROP_REASONS.index("length_ratio")
    reason[~has_script] = 1 + DROP_REASONS.index("no_target_script")
    reason[(ls == 0) | (lt == 0)] = 1 + DROP_REASONS.index("empty_side")
    if invalid is not None:
        reason[invalid] = 1 + DROP_REASONS.index("invalid_utf8")
    return reason


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
        batches = iter_hub_batches(hub["repo"], lang, hub["revision"], rows_per_shard)
        inputs = [f"hf://datasets/{hub['repo']}@{hub['revision']}/{lang}"]
    else:
        raise InputError(f"samanantar.source: unknown source {source!r}; use embedded, local or hub")

    dropped: Counter = Counter({r: 0 for r in DROP_REASONS})
    examples: dict[str, list[dict]] = {r: [] for r in DROP_REASONS}
    rows_read = 0
    index = HashIndex()
    with atomic_directory(Path(out_dir)) as tmp:
        writer = ShardWriter(tmp, SCHEMA, rows_per_shard, SPLITS)
        for batch in batches:
            rows_read += len(batch)
            src, tgt = normalize_lines(batch.src), normalize_lines(batch.tgt)
            reason = drop_reasons(src, tgt, batch.invalid, script.regex_class, max_length_ratio)
            passing = np.flatnonzero(reason == 0)
            h = text_hashes(pc.binary_join_element_wise(src.take(passing), tgt.take(passing), "\x1f"))
            first = first_occurrences(h, index)
            reason[passing[~first]] = 1 + DROP_REASONS.index("duplicate")
            for code in np.unique(reason[reason > 0]):
                name = DROP_REASONS[code - 1]
                rows = np.flatnonzero(reason == code)
                dropped[name] += len(rows)
                for i in rows[: _EXAMPLES_PER_REASON - len(examples[name])]:
                    examples[name].append({"line": int(batch.idx[i]) + 1, "src": clip(src[i].as_py()),
                                           "tgt": clip(tgt[i].as_py())})
            keep = passing[first]
            h = h[first]
            split = assign_splits(h, validation_fraction, test_fraction)
            n = len(keep)
            data_source = batch.data_source.take(keep) if batch.data_source is not None else pa.nulls(n, pa.string())
            split_names = pa.DictionaryArray.from_arrays(pa.array(split, pa.int8()), pa.array(SPLITS)).cast(pa.string())
            table = pa.table(
                {
                    "id": hex_ids(h),
                    "idx": pa.array(batch.idx[keep], pa.int64()),
                    "src": src.take(keep),
                    "tgt": tgt.take(keep),
                    "src_lang": pa.array(np.full(n, "en", dtype=object), pa.string()),
                    "tgt_lang": pa.array(np.full(n, lang, dtype=object), pa.string()),
                    "data_source": data_source,
                    "split": split_names,
                },
                schema=SCHEMA,
            )
            for code, name in enumerate(SPLITS):
                writer.write(name, table.filter(pa.array(split == code)))
            log.info("read %d rows, kept %d, dedup index %.1f MiB", rows_read, len(index), index.nbytes / 2**20)
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
        "shards": shards,
        "dropped_examples": {k: v for k, v in examples.items() if v},
        "settings": {
            "rows_per_shard": rows_per_shard,
            "validation_fraction": validation_fraction,
            "test_fraction": test_fraction,
            "max_length_ratio": max_length_ratio,
            "on_invalid_utf8": on_invalid_utf8,
            "target_script": script.name,
        },
    }
    assert quality["rows_read"] == quality["rows_kept"] + quality["dropped_total"]
    write_json(quality_path, quality)
    return quality
