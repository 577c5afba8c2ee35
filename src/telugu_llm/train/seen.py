"""How many training examples a run's optimizer saw, counted from its sampler.

The sampler hands out rows: examples, or with packing the rows the examples were packed into
(several examples, or pieces of them, per row). Counting steps x batch x accumulation counts rows,
not examples, and counts an epoch's last, short batch as full: a 3-epoch packed run over its whole
subset then reads as cut short (issue 21). Here an epoch is what the trainer makes of it (the
dataloader's batches per process, grouped by the accumulation; transformers' Trainer), every full
epoch sees every example once, and a part of an epoch sees its share of the rows, and so that share
of the examples.
"""

from __future__ import annotations

import math


def examples_seen(*, steps: int, rows: int, examples: int, batch_size: int, accumulation: int, processes: int) -> int:
    """Examples seen in `steps` optimizer steps over `rows` sampler rows that hold `examples` examples."""
    if not rows or not steps:
        return 0
    batches = math.ceil(rows / (batch_size * processes))  # per process, the last one short
    steps_per_epoch = max(math.ceil(batches / accumulation), 1)
    epochs, rest = divmod(steps, steps_per_epoch)
    rows_seen = epochs * rows + min(rest * accumulation * batch_size * processes, rows)
    return round(rows_seen * examples / rows)


def covered(seen: int, examples: int) -> bool:
    """Whether a run saw at least its whole training set once (else it stopped short: max_steps)."""
    return seen >= examples


def budget_limited(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """Whether a contrast of two training sizes is budget-limited: both runs, each (examples seen,
    training examples), stopped before covering their own subset, so they differ in which examples
    they saw, not in how many. One that covered its subset is the size it says."""
    return not covered(*a) and not covered(*b)
