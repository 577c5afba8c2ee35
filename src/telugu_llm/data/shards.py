"""Parquet shards: written deterministically with a bounded number of rows in memory, read one at a time."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1


class _NoPandas:
    """A finder on `sys.meta_path` that refuses to import pandas."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError("pandas is kept out of this job (telugu_llm.data.shards.keep_pandas_out)",
                                      name=name)
        return None


def keep_pandas_out() -> None:
    """For a job that reads files only (not the hub, whose `datasets` needs pandas): pyarrow imports
    pandas, where it is installed, on its first conversion of a Python or NumPy value or read of a
    Parquet file, three tenths of a second at the start of every data job that uses none of it. A
    finder that refuses the import makes pyarrow go on without pandas (it catches the ImportError).
    Does nothing once pandas is imported."""
    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())


def write_table(table: pa.Table, path: Path, dictionary: Sequence[str] | None = None) -> None:
    """One shard: one row group, zstd; the bytes depend only on the table and the pyarrow version.
    `dictionary`: the columns to dictionary-encode (None: every column). A column of mostly distinct
    values (ids, sentences) gains nothing from it, and trying costs a tenth of the write."""
    pq.write_table(
        table,
        path,
        use_dictionary=True if dictionary is None else list(dictionary),
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        row_group_size=max(1, table.num_rows),
        write_statistics=True,
    )


class ShardWriter:
    """Rolls rows of each split into `<dir>/<split>/part-NNNNN.parquet` of `rows_per_shard` rows.

    At most `rows_per_shard` rows per split wait in memory. Every split gets at least one (possibly
    empty) shard so that readers always find the schema. `dictionary`: as in `write_table`."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_shard: int, splits: Sequence[str],
                 dictionary: Sequence[str] | None = None):
        if rows_per_shard < 1:
            raise ValueError("rows_per_shard must be at least 1")
        self.directory = Path(directory)
        self.schema = schema
        self.rows_per_shard = rows_per_shard
        self.dictionary = dictionary
        self._pending: dict[str, list[pa.Table]] = {s: [] for s in splits}
        self._pending_rows: dict[str, int] = dict.fromkeys(splits, 0)
        self.shards: dict[str, list[dict]] = {s: [] for s in splits}

    def write(self, split: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._pending[split].append(table.cast(self.schema))
        self._pending_rows[split] += table.num_rows
        while self._pending_rows[split] >= self.rows_per_shard:
            self._flush(split, self.rows_per_shard)

    def _flush(self, split: str, rows: int) -> None:
        combined = pa.concat_tables(self._pending[split]) if self._pending[split] else self.schema.empty_table()
        shard, rest = combined.slice(0, rows), combined.slice(rows)
        self._pending[split] = [rest] if rest.num_rows else []
        self._pending_rows[split] = rest.num_rows
        folder = self.directory / split
        folder.mkdir(parents=True, exist_ok=True)
        name = f"part-{len(self.shards[split]):05d}.parquet"
        write_table(shard.combine_chunks(), folder / name, self.dictionary)
        self.shards[split].append({"file": f"{split}/{name}", "rows": shard.num_rows})

    def close(self) -> dict[str, list[dict]]:
        for split, rows in self._pending_rows.items():
            if rows or not self.shards[split]:
                self._flush(split, rows)
        return self.shards


def shard_paths(directory: Path) -> list[Path]:
    """The shards of a directory, in name order."""
    return sorted(Path(directory).glob("part-*.parquet"))


def read_shards(directory: Path, columns: Sequence[str] | None = None) -> Iterator[pa.Table]:
    """Yield the shards of a directory one at a time, in name order (memory: one shard)."""
    for path in shard_paths(directory):
        yield pq.read_table(path, columns=list(columns) if columns else None)
