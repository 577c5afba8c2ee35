"""The cost of a template: tokens per training example under each tokenizer and template, and the
share of examples a maximum length would truncate (read by the fertility summary and the report)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..loading import load_tokenizer
from .formats import IGNORE_INDEX, STUDY_TEMPLATES, check_example, tokenize_example


def template_costs(*, tokenizer_dir: str, prompt_dirs: dict[str, Path], template: str, max_lengths: list[int],
                   tokenizer_name: str) -> pd.DataFrame:
    """Tokens per training example under a template, and the share over each maximum length.
    Every example is checked for the training invariants (one BOS, EOS last, prompt masked)."""
    tokenizer = load_tokenizer(tokenizer_dir)
    single_bos = template in STUDY_TEMPLATES
    rows = []
    for dataset, directory in sorted(prompt_dirs.items()):
        for split_file in sorted(Path(directory).glob("*.parquet")):
            table = pq.read_table(split_file, columns=["prompt", "completion"])
            lengths, prompt_lengths = [], []
            for prompt, completion in zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist()):
                ids, labels = tokenize_example(tokenizer, prompt, completion)
                check_example(tokenizer, ids, labels, single_bos=single_bos)
                lengths.append(len(ids))
                prompt_lengths.append(labels.count(IGNORE_INDEX))
            n = np.asarray(lengths)
            for max_length in max_lengths:
                rows.append({
                    "tokenizer": tokenizer_name, "template": template, "dataset": dataset, "split": split_file.stem,
                    "examples": len(n),
                    "tokens_mean": round(float(n.mean()), 2) if len(n) else None,
                    "tokens_median": float(np.median(n)) if len(n) else None,
                    "tokens_p95": float(np.percentile(n, 95)) if len(n) else None,
                    "tokens_max": int(n.max()) if len(n) else None,
                    "prompt_tokens_mean": round(float(np.mean(prompt_lengths)), 2) if len(n) else None,
                    "max_length": max_length,
                    "truncated_share": round(float((n > max_length).mean()), 6) if len(n) else None,
                })
    return pd.DataFrame(rows)
