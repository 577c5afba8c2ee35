"""Batched generation and reference likelihoods for evaluation.

Prompts are sorted by length and generated in batches with left padding (pitfall 2: a right-padded
batch would continue after pad tokens), greedy unless the config samples, seeded. A batch is sized
by tokens, not rows (`token_batches`): its rows times its padded width plus its token limit (the
key-value cache it will hold at the end) stay within `evaluation.batch_tokens`, and its rows within
`evaluation.batch_size`; so a batch of 2,000-token prompts holds a few rows and one of 50-token
prompts many. Which rows share a batch changes only the left padding, never a row's greedy output
(up to the numerics of padded attention). A row stops at
EOS (or an end-of-turn token) and at a template marker such as `[INST]` or `### Human:` that a model
writes when it runs into a new turn (the study's Figure 5); its stop reason is recorded: `eos`,
`marker` or `length` (the token limit).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from ..loading import token_nll

log = logging.getLogger(__name__)

END_OF_TURN = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>")


@dataclass
class Generation:
    text: str
    stop_reason: str  # eos | marker | length
    new_tokens: int  # tokens generated up to the stop (the marker's tokens included)


def stop_token_ids(tokenizer) -> list[int]:
    """EOS and the end-of-turn tokens the vocabulary has."""
    ids = [tokenizer.eos_token_id]
    vocab = tokenizer.get_vocab()
    ids += [vocab[t] for t in END_OF_TURN if t in vocab]
    return sorted({i for i in ids if i is not None})


def cut_at_marker(text: str, markers) -> tuple[str, bool]:
    """The text before the first template marker, and whether there was one."""
    hits = [text.find(m) for m in markers if m in text]
    if not hits:
        return text, False
    return text[: min(hits)], True


def marker_criteria(tokenizer, prompt_length: int, markers, window: int = 16):
    """A stopping criterion, per row: the last `window` generated tokens contain a marker."""
    import torch
    from transformers import StoppingCriteria

    class MarkerStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            tails = tokenizer.batch_decode(input_ids[:, max(prompt_length, input_ids.shape[1] - window):],
                                           skip_special_tokens=True)
            return torch.tensor([any(m in t for m in markers) for t in tails], device=input_ids.device)

    return MarkerStop()


def finish(tokenizer, ids: list[int], stops: set[int], markers) -> Generation:
    """The output of one row: cut at the first stop token, then at the first marker. A row that
    stopped early (on a marker) is padded to the batch's length: the padding is not output."""
    pad = tokenizer.pad_token_id
    if pad is not None and pad not in stops:
        while ids and ids[-1] == pad:
            ids = ids[:-1]
    end = next((i for i, t in enumerate(ids) if t in stops), None)
    kept = ids if end is None else ids[:end]
    text = tokenizer.decode(kept, skip_special_tokens=True)
    text, marked = cut_at_marker(text, markers)
    if marked:
        return Generation(text.strip(), "marker", len(kept))
    if end is not None:
        return Generation(text.strip(), "eos", end + 1)
    return Generation(text.strip(), "length", len(ids))


def token_batches(lengths: list[int], batch_tokens: int, batch_size: int, extra: int = 0) -> list[list[int]]:
    """Indices grouped into batches of similar length, longest first, each as many rows as fit
    `batch_tokens`: rows x (the batch's longest length + `extra`, the tokens each row will add) at
    most `batch_tokens`, and at most `batch_size` rows. A row that alone exceeds the budget is a
    batch of its own (`phrasing.check_budget` refuses such settings before a run starts)."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for i in order:
        # sorted longest first: the batch's width is its first row's length
        if batches and len(batches[-1]) < batch_size and \
                (len(batches[-1]) + 1) * (lengths[batches[-1][0]] + extra) <= batch_tokens:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def left_padded(rows: list[list[int]], pad: int):
    """(input_ids, attention_mask) of token-id rows padded on the left to the longest."""
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r):] = torch.tensor(r)
        attention[i, width - len(r):] = 1
    return input_ids, attention


def encode_prompt(tokenizer, prompt: str, add_bos: bool) -> list[int]:
    ids = tokenizer(prompt, add_special_tokens=False).input_ids
    bos = tokenizer.bos_token_id
    if add_bos and bos is not None and ids[:1] != [bos]:
        ids = [bos] + ids
    return ids


def generate(model, tokenizer, prompts: list[list[int]], *, max_new_tokens: list[int], batch_size: int,
             batch_tokens: int, do_sample: bool, temperature: float, top_p: float, seed: int,
             markers: list[str]) -> tuple[list[Generation], dict]:
    """Generate for token-id prompts (each with its own token limit); outputs in input order, and
    timing: generated tokens (up to each row's stop) per second of generation, and the batches'
    shapes (rows, padded width, token limit), the five largest."""
    import torch

    stops = set(stop_token_ids(tokenizer))
    pad = tokenizer.pad_token_id
    device = next(model.parameters()).device
    results: list[Generation | None] = [None] * len(prompts)
    generated, start = 0, time.perf_counter()
    batches = []
    for limit in sorted(set(max_new_tokens)):  # one token limit per batch: no row runs past its own
        members = [i for i, m in enumerate(max_new_tokens) if m == limit]
        batches += [[members[j] for j in b] for b in token_batches([len(prompts[i]) for i in members], batch_tokens,
                                                                   batch_size, extra=limit)]
    shapes = []
    for batch in batches:
        limit = max_new_tokens[batch[0]]
        input_ids, attention = left_padded([prompts[i] for i in batch], pad)
        width = input_ids.shape[1]
        shapes.append((len(batch), width, limit))
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                                 max_new_tokens=limit, do_sample=do_sample,
                                 temperature=temperature if do_sample else None, top_p=top_p if do_sample else None,
                                 top_k=None, eos_token_id=sorted(stops), pad_token_id=pad,
                                 stopping_criteria=[marker_criteria(tokenizer, width, markers)])
        for row, i in enumerate(batch):
            ids = out[row, width:].tolist()
            results[i] = finish(tokenizer, ids, stops, markers)
            generated += results[i].new_tokens
    seconds = time.perf_counter() - start
    return results, {"generated_tokens": generated, "generation_seconds": seconds,
                     "generated_tokens_per_second": generated / seconds if seconds else None,
                     "batches": len(shapes), "largest_batch_tokens": max((r * (w + m) for r, w, m in shapes), default=0),
                     "largest_batches": sorted(shapes, key=lambda s: (-s[0] * (s[1] + s[2]), s))[:5]}


def too_long_to_score(examples: list[tuple[list[int], list[int]]], batch_tokens: int) -> list[bool]:
    """Whether each (prompt ids, reference ids) is longer than one likelihood batch may be."""
    return [len(prompt) + len(reference) > batch_tokens for prompt, reference in examples]


def reference_nll(model, tokenizer, examples: list[tuple[list[int], list[int]]], *, batch_size: int,
                  batch_tokens: int, own: list[tuple[int, int]] | None = None) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, tokens) of each reference given its prompt, teacher-forced.

    `examples` are (prompt ids, reference ids), the reference ids as training tokenizes them
    (`run.trained_sequence`: with the template's leading space and the final EOS), every one of
    them predicted in context; `own` (per example, a [start, end) slice of its reference ids,
    `run.own_span`) limits the sum and the count to those tokens (the reference's own: neither EOS
    nor a token of the leading space alone). Rows are left-padded so that every reference ends
    the row, and only the last positions' logits are computed (`logits_to_keep`): a 262k-word
    vocabulary times every prompt position would not fit in memory. Batches are sized by tokens as in
    generation (rows x padded width within `batch_tokens`). A reference that with its prompt is
    longer than a whole batch may be (`too_long_to_score`) is not scored: (NaN, 0); the caller
    counts it. Unbounded, a 100k-character reference asked the allocator for 64 GB."""
    import torch

    pad = tokenizer.pad_token_id
    device = next(model.parameters()).device
    out: list[tuple[float, int] | None] = [None] * len(examples)
    skip = too_long_to_score(examples, batch_tokens)
    scored = [i for i in range(len(examples)) if not skip[i]]
    for i in range(len(examples)):
        if skip[i]:
            out[i] = (math.nan, 0)
    for positions_in_scored in token_batches([len(examples[i][0]) + len(examples[i][1]) for i in scored], batch_tokens,
                                             batch_size):
        batch = [scored[j] for j in positions_in_scored]
        keep = max(len(examples[i][1]) for i in batch) + 1
        input_ids, attention = left_padded([examples[i][0] + examples[i][1] for i in batch], pad)
        labels = torch.full((len(batch), keep), -100, dtype=torch.long)
        for row, i in enumerate(batch):
            r = examples[i][1]
            labels[row, keep - len(r):] = torch.tensor(r)
        with torch.inference_mode():
            positions = (attention.cumsum(-1) - 1).clamp(min=0)  # as generate() numbers left-padded rows
            logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                           position_ids=positions.to(device), logits_to_keep=keep, use_cache=False).logits.float()
        # logits at position t predict token t + 1: the kept window's last `keep - 1` labels
        nll = token_nll(logits[:, :-1], labels[:, 1:].to(device))
        for row, i in enumerate(batch):
            n = len(examples[i][1])
            start, end = own[i] if own is not None else (0, n)
            # the reference's token j is the window's label keep - n + j, nll's column keep - n + j - 1
            out[i] = (float(nll[row, keep - n + start - 1:keep - n + end - 1].sum()), end - start)
    return out
