"""Seconds of GPU time per batch, from a throughput table per GPU kind (plan.throughput).

An entry gives the tokens per second measured at a number of tokens per step; a kind's marginal rate
(the cost of one token more per step, from two batch sizes of one model) carries it to the run's own
batches: a step of t tokens takes tokens_per_step / tokens_per_s + (t - tokens_per_step) / marginal.
A short batch pays the fixed part of a step (the 4-bit weights dequantized in every pass) for fewer
tokens. Packed runs use the entry's packed figure: their rows are full and long."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DEFAULT = "default"


@dataclass
class Throughput:
    """One entry of plan.throughput.<gpu>.architectures, for one run."""

    gpu: str
    key: str  # the architecture it is listed under (or `default`)
    tokens_per_s: float
    tokens_per_step: int
    marginal_tokens_per_s: float | None
    packed_tokens_per_s: float
    source: str
    packed_source: str

    def step_seconds(self, tokens: np.ndarray | float) -> np.ndarray | float:
        """Seconds of a training step (forward, recompute, backward, update) that processes `tokens`."""
        base = self.tokens_per_step / self.tokens_per_s
        if self.marginal_tokens_per_s is None:
            return np.asarray(tokens) / self.tokens_per_s
        return base + (np.asarray(tokens) - self.tokens_per_step) / self.marginal_tokens_per_s

    def packed_seconds(self, tokens: float) -> float:
        return tokens / self.packed_tokens_per_s


def throughput(plan: dict, architecture: str) -> Throughput:
    """The entry of plan.throughput.<plan.gpu> for an architecture, else its `default` entry."""
    gpu = plan["gpu"]
    kinds = plan["throughput"]
    if gpu not in kinds:
        raise InputError(f"plan.gpu: {gpu!r} has no table under plan.throughput (kinds: {', '.join(sorted(kinds))})")
    table = kinds[gpu]
    entries = table["architectures"]
    key = architecture if architecture in entries else DEFAULT
    if key not in entries:
        raise InputError(f"plan.throughput.{gpu}.architectures: no entry for {architecture!r} and no {DEFAULT!r} one")
    entry = entries[key]
    marginal = table.get("marginal_tokens_per_s")
    if marginal is not None and marginal <= entry["tokens_per_s"]:
        raise InputError(f"plan.throughput.{gpu}.marginal_tokens_per_s: {marginal} must exceed the tokens_per_s "
                         f"of architectures.{key} ({entry['tokens_per_s']}): a step has a fixed part")
    note = "" if key == architecture else f" (no entry for {architecture}: the default one)"
    source = entry["source"] + note
    packed_source = (entry.get("packed_source") or entry["source"]) + note
    return Throughput(gpu=gpu, key=key, tokens_per_s=entry["tokens_per_s"], tokens_per_step=entry["tokens_per_step"],
                      marginal_tokens_per_s=marginal, packed_tokens_per_s=entry.get("packed_tokens_per_s") or entry["tokens_per_s"],
                      source=source, packed_source=packed_source)
