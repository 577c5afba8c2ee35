"""The plan of every training run of a configuration: each run's prompts sampled and tokenized once
per tokenizer (its seeds and recipes share the sample), its cost planned (cost.plan_run), the
whole written as cost.csv with its summaries (summary.write_plan)."""

from __future__ import annotations

import logging
from pathlib import Path

import pyarrow.parquet as pq

from ..errors import InputError
from ..loading import padded_tokenizer
from ..settings import from_dict
from ..train.settings import Recipe
from .cost import Counts, plan_run
from .lengths import recipe_lengths, tokenized_sample
from .throughput import throughput

log = logging.getLogger(__name__)


def example_counts(run: dict, prompts: Path, estimate: dict | None) -> Counts:
    """The run's training and validation examples: the rows of its prompts, or under plan.estimate
    the sampled subset's rows scaled to the run's subset (Samanantar) and the stated counts."""
    train = pq.ParquetFile(prompts / "train.parquet").metadata.num_rows
    validation = pq.ParquetFile(prompts / "validation.parquet").metadata.num_rows
    if estimate is None:
        return Counts(train, validation, estimated=False)
    if run["dataset"] == "samanantar":
        train = round(train * int(run["subset"]) / estimate["samanantar_subset"])
    else:
        train = estimate["train_examples"].get(run["dataset"], train)
    validation = estimate["validation_examples"].get(run["dataset"], validation)
    return Counts(train, validation, estimated=True)


def plan_runs(runs: list[dict], plan: dict) -> list[dict]:
    """A row per run (cost.plan_run) with the run's settings fingerprint. Each run: its dimensions,
    `settings` (run_settings), `architecture`, `prompts` and `tokenizer` folders, `fingerprint`."""
    tokenizers, samples = {}, {}
    rows = []
    for run in runs:
        if run["tokenizer"] not in tokenizers:
            tokenizers[run["tokenizer"]] = padded_tokenizer(Path(run["tokenizer"]), "right")
        tokenizer = tokenizers[run["tokenizer"]]
        prompts = Path(run["prompts"])
        for split in ("train", "validation"):
            key = (run["tokenizer"], str(prompts), split)
            if key not in samples:
                if not (prompts / f"{split}.parquet").is_file():
                    raise InputError(f"{prompts / f'{split}.parquet'}: missing (the prompts of run {run['name']})")
                samples[key] = tokenized_sample(tokenizer, prompts / f"{split}.parquet", size=plan["sample"],
                                                seed=plan["seed"])
                log.info("%s %s: %d of %d examples sampled and tokenized", prompts, split,
                         len(samples[key].examples), samples[key].rows)
        recipe = from_dict(Recipe, run["settings"]["recipe"], key=f"recipes.{run['recipe']}")
        lengths = {split: recipe_lengths(samples[(run["tokenizer"], str(prompts), split)], recipe=recipe,
                                         eos_id=tokenizer.eos_token_id, max_length=run["settings"]["max_length"])
                   for split in ("train", "validation")}
        if not len(lengths["train"].kept):
            raise InputError(f"models.{run['model']}.max_length: no sampled training example of run {run['name']} "
                             "is kept by its recipe; nothing to plan")
        row = plan_run(run, settings=run["settings"], train=lengths["train"], validation=lengths["validation"],
                       counts=example_counts(run, prompts, plan["estimate"]),
                       tp=throughput(plan, run["architecture"]), eval_speedup=plan["eval_speedup"], seed=plan["seed"])
        rows.append({**row, "twin": run["twin"], "fingerprint": run["fingerprint"]})
        log.info("%s: %.2f GPU-hours (%d steps)", run["name"], row["gpu_hours"], row["steps"])
    return rows
