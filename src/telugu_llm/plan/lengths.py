"""Tokens per training example, measured as training makes the examples: a seeded sample of a
prompts file tokenized by `prompts.formats.tokenize_example`, then made as the run's recipe says
(`train.run.recipe_example`: EOS, loss, long examples cut or dropped)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from ..prompts.formats import tokenize_example
from ..train.tokenized import recipe_example
from ..train.settings import Recipe


@dataclass
class Sample:
    """A seeded sample of a prompts file's rows, tokenized: (input_ids, labels) per sampled row."""

    rows: int  # rows of the whole file
    examples: list[tuple[list[int], list[int]]]


def sample_indices(rows: int, size: int, seed: int) -> np.ndarray:
    """Sorted row numbers of a seeded sample without replacement; every row when there are fewer."""
    if rows <= size:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=size, replace=False))


def read_sample(parquet: Path, size: int, seed: int) -> tuple[int, list[tuple[str, str]]]:
    """(rows of the file, the sampled (prompt, completion) pairs), read one row group at a time, so
    that a file of millions of examples is never held whole."""
    handle = pq.ParquetFile(parquet)
    rows = handle.metadata.num_rows
    wanted = sample_indices(rows, size, seed)
    pairs, start = [], 0
    for group in range(handle.num_row_groups):
        n = handle.metadata.row_group(group).num_rows
        local = wanted[(wanted >= start) & (wanted < start + n)] - start
        if len(local):
            table = handle.read_row_group(group, columns=["prompt", "completion"]).take(local)
            pairs += zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist())
        start += n
    return rows, pairs


def tokenized_sample(tokenizer, parquet: Path, *, size: int, seed: int) -> Sample:
    rows, pairs = read_sample(Path(parquet), size, seed)
    return Sample(rows, [tokenize_example(tokenizer, prompt, completion) for prompt, completion in pairs])


@dataclass
class Lengths:
    """Lengths of the sampled examples that training keeps, and the share it keeps."""

    sampled: int
    kept: np.ndarray  # tokens of each kept example, after the recipe
    cut: int
    dropped: int

    @property
    def kept_share(self) -> float:
        return len(self.kept) / self.sampled if self.sampled else 0.0


def recipe_lengths(sample: Sample, *, recipe: Recipe, eos_id: int, max_length: int) -> Lengths:
    lengths, cut, dropped = [], 0, 0
    for ids, labels in sample.examples:
        ids, _, status = recipe_example(ids, labels, recipe=recipe, eos_id=eos_id, max_length=max_length)
        if status == "dropped":
            dropped += 1
            continue
        cut += status == "cut"
        lengths.append(len(ids))
    return Lengths(len(sample.examples), np.asarray(lengths, dtype=np.int64), cut, dropped)
