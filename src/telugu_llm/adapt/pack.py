"""Packed short sequences for continued pretraining: every sentence encoded as the model reads a
text (its BOS where the tokenizer adds one), ended with EOS, concatenated in order and cut into rows
of `seq_len` tokens; the last row is shorter (padded in the batch, its padding masked). Rows cross
sentence boundaries, as continued pretraining's packing does (Yamaguchi et al. 2024: short
sequences). Nothing is dropped: every token of every sentence is in exactly one row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Packed:
    rows: list[list[int]]
    sentences: int
    characters: int
    tokens: int


def ended(ids: list[int], eos: int | None) -> list[int]:
    """A sentence's ids as the stream holds them: ended with EOS unless the tokenizer added one."""
    return ids + [eos] if eos is not None and (not ids or ids[-1] != eos) else ids


def pack(tokenizer, sentences: list[str], seq_len: int) -> Packed:
    if seq_len < 2:
        raise ValueError("seq_len must be at least 2")
    ids = tokenizer(sentences, add_special_tokens=True)["input_ids"]
    stream: list[int] = []
    for one in ids:
        stream.extend(ended(one, tokenizer.eos_token_id))
    rows = [stream[i:i + seq_len] for i in range(0, len(stream), seq_len)]
    return Packed(rows=rows, sentences=len(sentences), characters=sum(map(len, sentences)), tokens=len(stream))


def batches(rows: list[list[int]], batch_size: int, pad_id: int, order):
    """(input_ids, attention_mask, labels) tensors of `batch_size` rows in `order`; padding is masked
    from attention and loss (label -100)."""
    import torch

    for start in range(0, len(order), batch_size):
        chosen = [rows[i] for i in order[start:start + batch_size]]
        width = max(map(len, chosen))
        ids = torch.full((len(chosen), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chosen), width), dtype=torch.long)
        for r, row in enumerate(chosen):
            ids[r, :len(row)] = torch.tensor(row)
            mask[r, :len(row)] = 1
        yield ids, mask, ids.masked_fill(mask == 0, -100)
