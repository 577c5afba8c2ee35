"""What a job asks of its host or cluster, where it depends on the config: the memory of the
model_weights job from the model's parameter count, and the wall-time and retries of a training
job under a cluster's time limit. Plain functions; rules/common.smk calls them."""

from __future__ import annotations

import math

# model_weights loads the whole model in its stored dtype (fp16 on the hub: 2 bytes a parameter) and
# writes it as safetensors. Measured with bench/weights_memory.py, Llama shapes stored as two fp16
# shards as the hub stores Llama-2-7B: peak RSS 668 MiB at 0.17B parameters, 1,758 MiB at 0.74B, a
# slope of 2.0 bytes a parameter (the fp16 weights, held once) over about 350 MiB: 13.9 GB for
# Llama-2-7B, 14.9 GB for Mistral-7B. At the real size (bench/host_memory_7b.py, Llama-2-7B's config,
# 6.74B parameters in two fp16 shards): 12.92 GiB (13,873 MB), the same slope. Declared 10 % above it:
# 15,300 MB for Llama-2-7B, 16,400 MB for Mistral-7B, both under 16 GiB.
BYTES_PER_PARAMETER = 2.0
IMPORTS_MB = 400
MARGIN = 1.1


def weights_mem_mb(billions: float) -> int:
    """Memory in MB of the model_weights job of a model of `billions` parameters."""
    return int(math.ceil((IMPORTS_MB + billions * 1e9 * BYTES_PER_PARAMETER / 1e6) * MARGIN / 100.0)) * 100


def decoder_parameters(shape: dict, vocab_size: int) -> float:
    """Parameters in billions of a Llama/Mistral-shaped decoder (untied head), from its config
    fields: embedding and head, and per layer attention (grouped key/value heads), MLP and norms."""
    hidden, inter, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    heads = shape["num_attention_heads"]
    kv = shape.get("num_key_value_heads", heads) * (hidden // heads)
    per_layer = 2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * inter + 2 * hidden
    return (2 * vocab_size * hidden + layers * per_layer + hidden) / 1e9


def job_minutes(planned: int, limit: int | None) -> int:
    """A training job's wall-time: its run's planned minutes, at most the cluster's limit."""
    return planned if limit is None else min(planned, limit)


def job_retries(planned: list[int], limit: int | None) -> int | None:
    """Retries of training jobs so that the longest planned run finishes under a time limit, each
    attempt resuming from its checkpoint: one attempt per `limit` minutes it needs, plus one for the
    time each resumption spends reloading (or a node lost). None without a limit: Snakemake's own
    --retries then applies (0 unless given)."""
    if limit is None or not planned:
        return None
    return math.ceil(max(planned) / limit)
