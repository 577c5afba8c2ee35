"""The summary of every evaluation run: each metric with its bootstrap interval, and each adapter
against its base on the same items by paired bootstrap. Runs on a CPU, without a model."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from ..atomic import atomic_file
from ..errors import InputError
from . import metrics as M
from .scoring import HIGHER_IS_BETTER, group_metrics, groups
from .settings import SummarySettings

COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "value", "ci_low", "ci_high", "n"]
DIFFERENCE_COLUMNS = ["model", "adapter", "set", "task", "lang", "metric", "base", "tuned", "diff", "ci_low", "ci_high",
                      "p_not_better", "better", "n"]


def summarize(runs: dict[tuple[str, str], Path], *, settings: SummarySettings, summary_csv: Path,
              differences_csv: Path) -> None:
    """summary.csv: every metric of every run with its interval; differences.csv: every adapter
    against its base on the same items, by paired bootstrap."""
    summary, differences = [], []
    by_run = {key: groups(pq.read_table(path)) for key, path in sorted(runs.items())}
    # each group's metrics once (chrF++ and BLEU statistics are the costly part), by name
    scored = {run: {key: {m.name: m for m in group_metrics(group)} for key, group in grouped.items()}
              for run, grouped in by_run.items()}
    for (model, adapter), grouped in by_run.items():
        for key, group in grouped.items():
            for metric in scored[(model, adapter)][key].values():
                low, high = M.bootstrap_ci(metric, resamples=settings.bootstrap.resamples,
                                           confidence=settings.bootstrap.confidence, seed=settings.seed)
                summary.append([model, adapter, *key, metric.name, metric.score(), low, high, len(group["id"])])
            base = by_run.get((model, "base"), {}).get(key)
            if adapter == "base" or base is None:
                continue
            if base["id"] != group["id"]:
                raise InputError(f"evaluation of {model}/{adapter} and {model}/base cover different items of {key}")
            base_metrics = scored[(model, "base")][key]
            for metric in scored[(model, adapter)][key].values():
                if metric.name not in base_metrics:
                    continue
                higher = HIGHER_IS_BETTER[metric.name]
                d = M.paired_bootstrap(base_metrics[metric.name], metric, resamples=settings.bootstrap.resamples,
                                       confidence=settings.bootstrap.confidence, seed=settings.seed, higher_is_better=higher)
                lo, hi = (d["ci_low"], d["ci_high"]) if higher else (-d["ci_high"], -d["ci_low"])
                better = "better" if lo > 0 else "worse" if hi < 0 else "no clear difference"
                differences.append([model, adapter, *key, metric.name, base_metrics[metric.name].score(), metric.score(),
                                    d["diff"], d["ci_low"], d["ci_high"], d["p_not_better"], better, len(group["id"])])
    for path, rows, columns in ((summary_csv, summary, COLUMNS), (differences_csv, differences, DIFFERENCE_COLUMNS)):
        with atomic_file(path) as tmp:
            pd.DataFrame(rows, columns=columns).to_csv(tmp, index=False, float_format="%.6g")
