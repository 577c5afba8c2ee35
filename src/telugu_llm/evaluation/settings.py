"""The settings of an evaluation run, field for field the keys of the config's `evaluation` section.
Defaults live in config/schema.yaml only; `settings.from_dict` builds these. The summary's settings
are the top-level `intervals` (intervals.Intervals): editing them re-runs the summary, never a
generation."""

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

    max_items: int | None  # per (set, task, lang): the first that fit, in the sets' seeded order
    answer_budget: str  # chars | tokens (budget.py)
    max_new_chars: dict[str, int]  # per task: the answer budget in characters (answer_budget: chars)
    max_new_tokens: dict[str, int]  # per task: the token limit (answer_budget: tokens) or ceiling (chars)
    max_prompt_tokens: int
    batch_size: int  # rows per batch, at most
    batch_tokens: int  # rows x (padded width + token limit) per batch, at most
    decoding: Decoding
    markers: list[str]
    perplexity: bool
    seed: int
