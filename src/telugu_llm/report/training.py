"""The report's training section: runs as columns, settings and results as rows, and findings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..train.summary import run_label
from .format import interval_text, number


def training_context(summary_csv: Path, confidence: float) -> dict:
    """Runs as columns, settings and results as rows (the hyperparameter table of the report), and
    what the numbers say: "fell" only where the paired interval of the validation loss says so."""
    level = f"{100 * confidence:g} %"
    table = pd.read_csv(summary_csv, dtype={"subset": str})
    runs = [run_label(r.model, r.dataset, r.recipe, r.subset, r.seed) for r in table.itertuples()]
    rows = [(column, [number(v.item() if hasattr(v, "item") else v) for v in table[column]])
            for column in table.columns if column not in ("model", "dataset", "recipe", "subset", "seed")]
    findings = []
    for r in table.itertuples():
        if r.eval_loss_before != r.eval_loss_before or r.eval_loss != r.eval_loss:  # NaN: no validation split
            continue
        if r.validation_verdict in ("fell", "rose"):
            said = f"the validation loss {r.validation_verdict}"
        elif r.validation_verdict == "no clear change":
            said = "the validation loss did not change clearly"
        else:
            said = "too few validation examples to say whether the validation loss changed"
        findings.append(f"{run_label(r.model, r.dataset, r.recipe, r.subset, r.seed)}: {said} (mean loss per token over {r.validation_examples} validation "
                        f"examples, paired: {r.validation_loss_base:.3f} under the base model, {r.validation_loss_tuned:.3f} "
                        f"after {r.steps} steps, a change of {r.validation_change:+.3f}, "
                        f"{interval_text(level, r.validation_change_low, r.validation_change_high, '+.3f')}), at "
                        f"{r.tokens_per_second:.0f} non-padding tokens/s on {r.device} with {r.peak_memory_gib:.2f} GiB "
                        f"peak memory.")
    return {"runs": runs, "rows": rows, "findings": findings}
