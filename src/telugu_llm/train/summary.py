"""The training stage's summary: one row per run, and the logged curves, for the report.

Whether the validation loss fell is decided per run from its per-example losses before (the base
model: the adapter switched off) and after training, paired on the same examples: the change of the
token-weighted mean loss with its jackknife-t interval (`intervals`); "fell" or "rose" only where the
interval excludes 0 and the run has at least `intervals.min_items` validation examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..intervals import Intervals, paired_jackknife_t

SUMMARY_COLUMNS = [
    "model", "dataset", "recipe", "subset", "seed", "steps", "train_loss", "eval_loss_before", "eval_loss", "tokens_per_second",
    "non_padding_tokens", "peak_memory_gib", "wall_time_s", "device", "optimizer", "compute_dtype", "lora_r",
    "lora_alpha", "lora_dropout", "target_modules", "learning_rate", "lr_scheduler", "warmup_ratio", "batch_size",
    "gradient_accumulation_steps", "max_length", "gradient_checkpointing", "group_by_length", "packing",
    "max_grad_norm", "weight_decay", "train_examples", "dropped_too_long", "dropped_by_partner", "cut_too_long",
    "examples_seen", "adapter_dtype", "trainable_parameters",
    "loss", "pad_token", "long_examples", "mixed_precision", "append_eos",
    "validation_examples", "validation_loss_base", "validation_loss_tuned", "validation_change", "validation_change_low",
    "validation_change_high", "validation_verdict",
]


def run_label(model: str, dataset: str, recipe: str, subset: str, seed: int) -> str:
    """A run's name in tables and figures: every dimension of its path."""
    return f"{model} / {dataset} / {recipe} / {subset} / seed {seed}"


def mean_loss(total: np.ndarray) -> float:
    return float(total[0] / total[1]) if total[1] else float("nan")


def validation_change(path: Path, settings: Intervals) -> dict:
    """The paired change of the mean validation loss per token, after minus before training."""
    losses = pd.read_csv(path)
    base = losses[["base_nll", "tokens"]].to_numpy(dtype=float)
    tuned = losses[["tuned_nll", "tokens"]].to_numpy(dtype=float)
    d = paired_jackknife_t(base, tuned, mean_loss, settings.confidence)
    if d["n"] < settings.min_items:
        word = "too few examples"
    else:
        word = "fell" if d["ci_high"] < 0 else "rose" if d["ci_low"] > 0 else "no clear change"
    return {"validation_examples": d["n"], "validation_loss_base": d["base"], "validation_loss_tuned": d["tuned"],
            "validation_change": d["diff"], "validation_change_low": d["ci_low"],
            "validation_change_high": d["ci_high"], "validation_verdict": word}


def gather_runs(metrics_files: list[Path], history_files: list[Path], validation_files: list[Path],
                settings: Intervals) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, curves = [], []
    for metrics_file, history_file, validation_file in zip(metrics_files, history_files, validation_files):
        m = json.loads(Path(metrics_file).read_text())
        s = m["settings"]
        t, lora, quant = s["training"], s["lora"], s["quantization"]
        rows.append({
            "model": m["model"], "dataset": m["dataset"], "recipe": s["recipe"]["name"], "subset": s["subset"],
            "seed": m["seed"], "steps": m["steps"], "train_loss": m["train_loss"],
            "eval_loss_before": m["eval_loss_before"], "eval_loss": m["eval_loss"],
            "tokens_per_second": m["tokens_per_second"], "non_padding_tokens": m["non_padding_tokens"],
            "peak_memory_gib": m["peak_memory_bytes"] / 2**30, "wall_time_s": m["wall_time_s"], "device": m["device"],
            "optimizer": m["optimizer"], "compute_dtype": m["compute_dtype"] if quant["load_in_4bit"] else "full",
            "lora_r": lora["r"], "lora_alpha": lora["alpha"], "lora_dropout": lora["dropout"],
            "target_modules": ",".join(lora["target_modules"]), "learning_rate": t["learning_rate"],
            "lr_scheduler": t["lr_scheduler"], "warmup_ratio": t["warmup_ratio"], "batch_size": t["batch_size"],
            "gradient_accumulation_steps": t["gradient_accumulation_steps"], "max_length": s["max_length"],
            "gradient_checkpointing": t["gradient_checkpointing"], "group_by_length": t["group_by_length"],
            "packing": s["recipe"]["packing"], "max_grad_norm": t["max_grad_norm"], "weight_decay": t["weight_decay"],
            "train_examples": m["train_examples"]["kept"] + m["train_examples"]["cut"],  # trained on, cut or not
            "dropped_too_long": m["train_examples"]["dropped_too_long"],
            "dropped_by_partner": m["train_examples"].get("dropped_by_partner", 0),  # by the twin's pair (tokenized.py)
            "cut_too_long": m["train_examples"]["cut"], "examples_seen": m["examples_seen"],
            "adapter_dtype": m["adapter_dtype"], "trainable_parameters": m["trainable_parameters"],
            **{key: s["recipe"][key] for key in ("loss", "pad_token", "long_examples", "mixed_precision", "append_eos")},
            **validation_change(validation_file, settings),
        })
        history = pd.read_csv(history_file)
        history["run"] = run_label(m["model"], m["dataset"], s["recipe"]["name"], s["subset"], m["seed"])
        curves.append(history)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS), pd.concat(curves, ignore_index=True) if curves else pd.DataFrame()
