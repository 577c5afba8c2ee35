"""What the GPU processes in an epoch: examples padded to the longest of their batch (in random
order, or grouped by length as transformers' LengthGroupedSampler groups them), or packed into rows
of max_length (trl's wrapped packing: every row full but the last)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MEGABATCH = 50  # transformers' LengthGroupedSampler: sorted within megabatches of 50 batches


@dataclass
class Batches:
    """Per batch of the simulated epoch: its rows and the tokens it processes (padding included)."""

    processed: np.ndarray  # tokens processed per batch (rows x the longest row)
    rows: np.ndarray


def padded_batches(lengths: np.ndarray, batch_size: int, *, group_by_length: bool, seed: int) -> Batches:
    """An epoch's batches of the given examples: random order, or each megabatch sorted by length."""
    order = np.random.default_rng(seed).permutation(len(lengths))
    shuffled = lengths[order]
    if group_by_length:
        mega = batch_size * MEGABATCH
        shuffled = np.concatenate([np.sort(shuffled[i:i + mega])[::-1] for i in range(0, len(shuffled), mega)]
                                  or [shuffled])
    starts = np.arange(0, len(shuffled), batch_size)
    longest = np.maximum.reduceat(shuffled, starts) if len(shuffled) else np.zeros(0, dtype=np.int64)
    rows = np.diff(np.append(starts, len(shuffled)))
    return Batches(longest * rows, rows)


def packed_rows(tokens: float, max_length: int) -> int:
    """Rows of max_length that `tokens` fill when packed end to end."""
    return math.ceil(tokens / max_length)


def mean_interval(values: np.ndarray, z: float = 1.96) -> tuple[float, float, float]:
    """The mean of the values and its normal interval (a sample of thousands: the mean is normal)."""
    if not len(values):
        return 0.0, 0.0, 0.0
    mean = float(values.mean())
    half = z * float(values.std(ddof=1)) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, mean - half, mean + half
