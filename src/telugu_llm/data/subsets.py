"""Nested, seeded subsets of a training split.

Every training pair gets a key, a keyed hash of its id and the seed; the subset of size N is the N
pairs with the smallest keys. So a smaller subset is always inside a larger one, the subsets do not
depend on shard boundaries or on the order of the input, and a new seed gives new subsets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from .hashing import ids_to_hashes, subset_keys
from .shards import ShardWriter, read_shards

META_NAME = "_subset.json"  # leading underscore: Arrow's dataset readers skip it


def _keys(table, seed: int) -> np.ndarray:
    return subset_keys(ids_to_hashes(table.column("id")), seed)


def subset_threshold(train_dir: Path, size: int, seed: int) -> tuple[int, int]:
    """(largest key inside the subset, number of training rows). Memory: `size` keys, one shard."""
    best = np.empty(0, dtype=np.uint64)
    total = 0
    for table in read_shards(train_dir, columns=["id"]):
        total += table.num_rows
        best = np.concatenate([best, _keys(table, seed)])
        if len(best) > size:
            best = np.partition(best, size - 1)[:size]
    if total < size:
        raise InputError(
            f"samanantar.subsets: a subset of {size} pairs was asked for, but the training split has only "
            f"{total}; lower the size or use a larger corpus"
        )
    return int(best.max()), total


def build_subset(*, train_dir: Path, out_dir: Path, size: int, seed: int, rows_per_shard: int) -> dict:
    """Write the `size` training rows with the smallest keys, in their order in the training split."""
    threshold, total = subset_threshold(train_dir, size, seed)
    written = 0
    with atomic_directory(Path(out_dir)) as tmp:
        writer = None
        for table in read_shards(train_dir):
            if writer is None:
                writer = ShardWriter(tmp, table.schema, rows_per_shard, ["."])
            chosen = table.filter(_keys(table, seed) <= np.uint64(threshold))
            written += chosen.num_rows
            writer.write(".", chosen)
        writer.close()
        if written != size:  # only a 64-bit key collision could cause this
            raise RuntimeError(f"subset of {size} selected {written} rows")
        meta = {"size": size, "seed": seed, "train_rows": total, "threshold_key": f"{threshold:016x}"}
        write_json(tmp / META_NAME, meta)
    return meta
