"""How long an answer may be: the same amount of text under every tokenizer.

A budget in tokens is not the same answer under two tokenizers: 16 tokens hold about 3.4 times
more Telugu text under an extended tokenizer than under its base (issue 21). With
`evaluation.answer_budget: chars` (the default) the budget of a task is `max_new_chars` characters,
turned into each item's token limit by the tokenizer's measured fertility on that item's group
(set, task, language): tokens per character of the group's references, tokenized as an answer is
(the template's leading space, no special tokens), or of its instructions where the group has no
reference (the study's probes). `max_new_tokens` stays the ceiling (it sizes the key-value cache of
a batch): a group whose character budget needs more is cut to it, and `metrics.json` says so
(`answer_budget.<group>.capped`). With `tokens` the study's budgets apply: `max_new_tokens`.
"""

from __future__ import annotations

import logging
import math

log = logging.getLogger(__name__)


def tokens_per_char(tokenizer, texts: list[str]) -> float | None:
    """Tokens per character of `texts`, each tokenized as an answer (leading space, no special tokens)."""
    texts = [t for t in texts if t]
    chars = sum(len(t) for t in texts)
    if not chars:
        return None
    return sum(len(ids) for ids in tokenizer([" " + t for t in texts], add_special_tokens=False).input_ids) / chars


def answer_limits(tokenizer, items: list[dict], *, answer_budget: str, max_new_chars: dict[str, int],
                  max_new_tokens: dict[str, int]) -> tuple[list[int], dict[str, dict]]:
    """The token limit of each item, and per "set/task/lang" group the budget it was derived from:
    `chars`, `tokens_per_char`, `max_new_tokens` (the limit) and `capped` (the ceiling was lower)."""
    groups: dict[str, list[dict]] = {}
    for item in items:
        groups.setdefault(f"{item['set']}/{item['task']}/{item['lang']}", []).append(item)
    budgets = {}
    for key, members in sorted(groups.items()):
        task, ceiling = members[0]["task"], max_new_tokens[members[0]["task"]]
        if answer_budget == "tokens":
            budgets[key] = {"unit": "tokens", "chars": None, "tokens_per_char": None, "max_new_tokens": ceiling,
                            "capped": False}
            continue
        refs = [r for item in members for r in item["references"] if r]
        fertility = tokens_per_char(tokenizer, refs or [item["instruction"] for item in members])
        wanted = math.ceil(max_new_chars[task] * fertility) if fertility else ceiling
        budgets[key] = {"unit": "chars", "chars": max_new_chars[task], "tokens_per_char": fertility,
                        "max_new_tokens": max(1, min(wanted, ceiling)), "capped": wanted > ceiling}
        if wanted > ceiling:
            log.warning("%s: %d characters need %d tokens at %.2f tokens per character; cut to "
                        "evaluation.max_new_tokens.%s = %d", key, max_new_chars[task], wanted, fertility, task, ceiling)
    limits = [budgets[f"{item['set']}/{item['task']}/{item['lang']}"]["max_new_tokens"] for item in items]
    return limits, budgets


def cut_at_budget(keys: list[str], stop_reasons: list[str]) -> dict:
    """The answers that ran into their token limit (stop reason `length`): their number and share,
    over the run and per group."""
    groups: dict[str, list[int]] = {}
    for key, reason in zip(keys, stop_reasons):
        groups.setdefault(key, []).append(reason == "length")
    cut = sum(sum(g) for g in groups.values())
    return {"answers": len(stop_reasons), "cut": cut, "share": cut / len(stop_reasons) if stop_reasons else None,
            "groups": {key: sum(g) / len(g) for key, g in sorted(groups.items())}}
