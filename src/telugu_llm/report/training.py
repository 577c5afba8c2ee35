"""The report's training section: runs as columns, settings and results as rows, and findings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .format import number


def training_context(summary_csv: Path) -> dict:
    """Runs as columns, settings and results as rows (the hyperparameter table of the report)."""
    table = pd.read_csv(summary_csv)
    runs = [f"{r.model} / {r.dataset}" for r in table.itertuples()]
    rows = [(column, [number(v.item() if hasattr(v, "item") else v) for v in table[column]])
            for column in table.columns if column not in ("model", "dataset")]
    findings = []
    for r in table.itertuples():
        if r.eval_loss_before == r.eval_loss_before and r.eval_loss == r.eval_loss:  # not NaN
            change = "fell" if r.eval_loss < r.eval_loss_before else "did not fall"
            findings.append(f"{r.model} on {r.dataset}: the validation loss {change} from {r.eval_loss_before:.3f} to "
                            f"{r.eval_loss:.3f} in {r.steps} steps, at {r.tokens_per_second:.0f} non-padding tokens/s "
                            f"on {r.device} with {r.peak_memory_gib:.2f} GiB peak memory.")
    return {"runs": runs, "rows": rows, "findings": findings}
