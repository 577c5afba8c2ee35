"""The report's templates section: one formatted training example per template and dataset."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq


def template_examples(prompt_dirs: list[Path]) -> list[dict]:
    """The first training example of each (template, dataset), as prompt and completion; the folders
    are `<prompts>/<template key>/<dataset>/<subset>`."""
    out = []
    for directory in prompt_dirs:
        directory = Path(directory)
        table = pq.read_table(directory / "train.parquet", columns=["prompt", "completion", "task"])
        if table.num_rows:
            row = table.slice(0, 1).to_pylist()[0]
            out.append({"template": directory.parent.parent.name, "dataset": directory.parent.name,
                        "subset": directory.name, **row})
    return out
