"""One run's planned cost: its examples (counted, or scaled for a plan made before the data is at its
size), the tokens training keeps of each (measured on a sample), the batches and steps the trainer
makes of them, the validation passes, and the GPU-hours these take at the table's throughput."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .batches import Batches, mean_interval, packed_rows, padded_batches
from .lengths import Lengths
from .throughput import Throughput

# validation_losses (train.outputs) passes over the validation examples twice after training: under
# the base model and under the fine-tuned one
FINAL_PASSES = 2


@dataclass
class Counts:
    """How many examples a run trains and validates on (before the recipe drops any)."""

    train: int
    validation: int
    estimated: bool  # scaled from a sample of other data (plan.estimate), not counted


def full_batches(lengths: np.ndarray, batch_size: int, *, group_by_length: bool, seed: int) -> Batches:
    """An epoch's batches of the sample, without the one short batch at its end (not the epoch's)."""
    batches = padded_batches(lengths, batch_size, group_by_length=group_by_length, seed=seed)
    full = batches.rows == batch_size
    return Batches(batches.processed[full], batches.rows[full]) if full.any() else batches


def epoch_seconds(lengths: np.ndarray, *, batch_size: int, group_by_length: bool, seed: int,
                  tp: Throughput, speedup: float = 1.0) -> tuple[float, float, float, float]:
    """Per example of a padded epoch: seconds (mean, low, high) and tokens processed (padding in).
    The seconds are those of batches in random order even where the run groups by length: perf.md
    measured grouping no faster (3,766 non-padding tokens/s against 3,890 in random order), though it
    processes less padding; the tokens processed are those of the run's own batches."""
    if not len(lengths):
        return 0.0, 0.0, 0.0, 0.0
    timed = full_batches(lengths, batch_size, group_by_length=False, seed=seed)
    mean, low, high = mean_interval(tp.step_seconds(timed.processed) / speedup / timed.rows)
    own = full_batches(lengths, batch_size, group_by_length=group_by_length, seed=seed)
    return mean, low, high, float(own.processed.sum() / own.rows.sum())


def plan_run(run: dict, *, settings: dict, train: Lengths, validation: Lengths, counts: Counts, tp: Throughput,
             eval_speedup: float, seed: int) -> dict:
    """The plan of one run (a row of cost.csv); `settings` as run_settings gives them (training,
    recipe, max_length, processes)."""
    t, recipe, max_length = settings["training"], settings["recipe"], settings["max_length"]
    processes = settings["processes"]
    examples = counts.train if t.get("max_train_examples") is None else min(counts.train, t["max_train_examples"])
    kept = round(examples * train.kept_share)
    per_example, per_example_low, per_example_high = mean_interval(train.kept.astype(float))
    per_step = t["batch_size"] * t["gradient_accumulation_steps"] * processes
    if recipe["packing"]:
        rows = packed_rows(kept * per_example, max_length)
        processed_epoch = rows * max_length
        seconds_epoch = tp.packed_seconds(processed_epoch)
        low_epoch = high_epoch = seconds_epoch * 1.0
        if per_example:
            low_epoch, high_epoch = (seconds_epoch * per_example_low / per_example,
                                     seconds_epoch * per_example_high / per_example)
        steps_epoch = math.ceil(rows / per_step)
    else:
        mean, low, high, processed = epoch_seconds(train.kept, batch_size=t["batch_size"],
                                                   group_by_length=t["group_by_length"], seed=seed, tp=tp)
        seconds_epoch, low_epoch, high_epoch = mean * kept, low * kept, high * kept
        processed_epoch = processed * kept
        steps_epoch = math.ceil(kept / per_step)
    if t["max_steps"] > 0:
        steps = t["max_steps"]
        epochs = steps / steps_epoch if steps_epoch else 0.0
    else:
        epochs = t["epochs"]
        steps = math.ceil(epochs * steps_epoch)
    # validation: at the start, every eval_steps (else `evaluations` times in the run where the trainer
    # has that setting, else every logging_steps), at the end, and the final passes
    eval_every = t.get("eval_steps") or (math.ceil(steps / t["evaluations"]) if t.get("evaluations") else
                                         t["logging_steps"])
    eval_every = max(1, eval_every)
    evaluations = 1 + steps // eval_every + (1 if steps % eval_every else 0) + FINAL_PASSES
    eval_limit = t.get("max_eval_examples")
    eval_examples = round((counts.validation if eval_limit is None else min(counts.validation, eval_limit))
                          * validation.kept_share)
    eval_mean, eval_low, eval_high, _ = epoch_seconds(validation.kept, batch_size=t["eval_batch_size"],
                                                      group_by_length=False, seed=seed, tp=tp, speedup=eval_speedup)
    eval_seconds = evaluations * eval_examples * np.array([eval_mean, eval_low, eval_high])
    train_seconds = epochs * np.array([seconds_epoch, low_epoch, high_epoch])
    hours = (train_seconds + eval_seconds) / 3600
    tokens = kept * per_example * epochs
    processed = processed_epoch * epochs
    return {
        **{key: run[key] for key in ("model", "dataset", "recipe", "subset", "seed")},
        "examples": examples, "examples_estimated": counts.estimated, "kept": kept,
        "sampled": train.sampled, "cut_share": round(train.cut / train.sampled, 4) if train.sampled else 0.0,
        "dropped_share": round(train.dropped / train.sampled, 4) if train.sampled else 0.0,
        "tokens_per_example": round(per_example, 1), "tokens_per_example_low": round(per_example_low, 1),
        "tokens_per_example_high": round(per_example_high, 1),
        "epochs": round(epochs, 4), "steps": steps, "batch_size": t["batch_size"], "processes": processes,
        "packing": recipe["packing"], "group_by_length": t["group_by_length"], "max_length": max_length,
        "tokens": round(tokens), "processed_tokens": round(processed),
        "padding_share": round(1 - tokens / processed, 4) if processed else 0.0,
        "gpu": tp.gpu, "throughput_entry": tp.key,
        "throughput_tokens_per_s": tp.packed_tokens_per_s if recipe["packing"] else tp.tokens_per_s,
        "throughput_source": tp.packed_source if recipe["packing"] else tp.source,
        "train_hours": round(train_seconds[0] / 3600, 4),
        "eval_examples": eval_examples, "evaluations": evaluations, "eval_hours": round(eval_seconds[0] / 3600, 4),
        "gpu_hours": round(hours[0], 4), "gpu_hours_low": round(hours[1], 4), "gpu_hours_high": round(hours[2], 4),
        "wall_hours": round(hours[0] / processes, 4),
    }
