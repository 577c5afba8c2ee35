"""Parquet shards: written deterministically with a bounded number of rows in memory, read one at a time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
COMPRESSION_LEVEL = 1


def write_table(table: pa.Table, path: Path) -> None:
    """One shard: one row group, zstd; the bytes depend only on the table and the pyarrow version."""
    pq.write_table(
        table,
        path,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        row_group_size=max(1, table.num_rows),
        write_statistics=True,
    )


class ShardWriter:
    """Rolls rows of each split into `<dir>/<split>/part-NNNNN.parquet` of `rows_per_shard` rows.

    At most `rows_per_shard` rows per split wait in memory. Every split gets at least one (possibly
    empty) shard so that readers always find the schema."""

    def __init__(self, directory: Path, schema: pa.Schema, rows_per_shard: int, splits: Sequence[str]):
        if rows_per_shard < 1:
            raise ValueError("rows_per_shard must be at least 1")
        self.directory = Path(directory)
        self.schema = schema
        self.rows_per_shard = rows_per_shard
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
        write_table(shard.combine_chunks(), folder / name)
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
