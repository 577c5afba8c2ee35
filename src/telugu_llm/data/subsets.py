"""Nested, seeded subsets of a training split.

Every training pair gets a key, a keyed hash of its id and the seed; the subset of size N is the N
pairs with the smallest keys. So a smaller subset is always inside a larger one, the subsets do not
depend on shard boundaries or on the order of the input, and a new seed gives new subsets.

A subset job reads what it needs. Beside shards written by `samanantar.build_samanantar` lie the
rows file (every pair that passed the filters, uncompressed Arrow IPC) and its index (pair hash and
split of each row): the keys and the threshold come from the index alone (9 bytes a row), and the
chosen rows are taken from the rows file, read one batch at a time, so no Parquet page of the
training split is decoded and memory is one batch, whatever the corpus size. Without those files
(a training split from elsewhere) only the `id` column of every shard is read for the threshold,
then the whole of each shard that holds a chosen row. Either way the rows, their order and the
subset's shards are the same, byte for byte.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from .hashing import SPLITS, ids_to_hashes, subset_keys
from .samanantar import DICTIONARY_COLUMNS, ROWS_INDEX_NAME, ROWS_NAME, SCHEMA, iter_rows, read_rows_index, shard_rows
from .shards import ShardWriter, shard_paths

META_NAME = "_subset.json"  # leading underscore: Arrow's dataset readers skip it


def _keys(ids: pa.Array, seed: int) -> np.ndarray:
    return subset_keys(ids_to_hashes(ids), seed)


def _too_small(size: int, total: int) -> InputError:
    return InputError(
        f"samanantar.subsets: a subset of {size} pairs was asked for, but the training split has only "
        f"{total}; lower the size or use a larger corpus"
    )


def subset_threshold(train_dir: Path, size: int, seed: int) -> tuple[int, int, list[int | None]]:
    """(largest key inside the subset, number of training rows, each shard's smallest key or None
    when it is empty), from the `id` column alone. Memory: `size` keys and one shard's ids."""
    best = np.empty(0, dtype=np.uint64)
    total = 0
    smallest: list[int | None] = []
    for path in shard_paths(train_dir):
        keys = _keys(pq.read_table(path, columns=["id"]).column("id"), seed)
        total += len(keys)
        smallest.append(int(keys.min()) if len(keys) else None)
        best = np.concatenate([best, keys])
        if len(best) > size:
            best = np.partition(best, size - 1)[:size]
    if total < size:
        raise _too_small(size, total)
    return int(best.max()), total, smallest


def build_subset(*, train_dir: Path, out_dir: Path, size: int, seed: int, rows_per_shard: int) -> dict:
    """Write the `size` training rows with the smallest keys, in their order in the training split."""
    shards_dir = Path(train_dir).parent
    with atomic_directory(Path(out_dir)) as tmp:
        if (shards_dir / ROWS_NAME).is_file() and (shards_dir / ROWS_INDEX_NAME).is_file():
            threshold, total, written = _from_rows_file(shards_dir, tmp, size, seed, rows_per_shard)
        else:
            threshold, total, written = _from_shards(Path(train_dir), tmp, size, seed, rows_per_shard)
        if written != size:  # only a 64-bit key collision could cause this
            raise RuntimeError(f"subset of {size} selected {written} rows")
        meta = {"size": size, "seed": seed, "train_rows": total, "threshold_key": f"{threshold:016x}"}
        write_json(tmp / META_NAME, meta)
    return meta


def _from_shards(train_dir: Path, out: Path, size: int, seed: int, rows_per_shard: int) -> tuple[int, int, int]:
    threshold, total, smallest = subset_threshold(train_dir, size, seed)
    paths = shard_paths(train_dir)
    writer = ShardWriter(out, pq.read_schema(paths[0]), rows_per_shard, ["."], DICTIONARY_COLUMNS)
    written = 0
    for path, low in zip(paths, smallest):
        if low is None or low > threshold:
            continue  # no chosen row in this shard
        table = pq.read_table(path)
        chosen = table.filter(_keys(table.column("id"), seed) <= np.uint64(threshold))
        written += chosen.num_rows
        writer.write(".", chosen)
    writer.close()
    return threshold, total, written


def _from_rows_file(shards_dir: Path, out: Path, size: int, seed: int, rows_per_shard: int) -> tuple[int, int, int]:
    pair_hash, split, lang = read_rows_index(shards_dir)
    train = np.flatnonzero(split == SPLITS.index("train"))
    total = len(train)
    if total < size:
        raise _too_small(size, total)
    keys = subset_keys(pair_hash[train], seed)
    threshold = int(np.partition(keys, size - 1)[size - 1])
    chosen = train[keys <= np.uint64(threshold)]  # positions in the rows file, in input order
    del keys, train
    writer = ShardWriter(out, SCHEMA, rows_per_shard, ["."], DICTIONARY_COLUMNS)
    for start, rows in iter_rows(shards_dir):  # one batch at a time
        lo, hi = np.searchsorted(chosen, [start, start + rows.num_rows])
        if hi > lo:
            take = chosen[lo:hi]
            writer.write(".", shard_rows(rows, take - start, pair_hash[take], split[take], lang))
    writer.close()
    return threshold, total, len(chosen)
