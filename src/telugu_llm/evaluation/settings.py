"""The settings of an evaluation run and of the summary, field for field the keys of the config's
`evaluation` section. Defaults live in config/schema.yaml only; `config.from_dict` builds these.

Generation and the bootstrap are apart so that each rule gets (and each output records) only
what it depends on: editing the bootstrap re-runs the summary, never a generation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Decoding:
    """evaluation.decoding"""

    do_sample: bool
    temperature: float
    top_p: float


@dataclass
class GenerationSettings:
    """What generation and scoring of one (model, adapter) run depend on."""

    max_new_tokens: dict[str, int]  # per task
    max_prompt_tokens: int
    batch_size: int
    decoding: Decoding
    markers: list[str]
    perplexity: bool
    seed: int


@dataclass
class Bootstrap:
    """evaluation.bootstrap"""

    resamples: int
    confidence: float


@dataclass
class SummarySettings:
    """What the summary of every run (intervals, paired differences) depends on."""

    bootstrap: Bootstrap
    seed: int
