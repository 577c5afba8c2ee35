"""What a training run writes besides its adapter: the validation loss of each example under the
base and the fine-tuned model (validation_losses.csv) and the trainer's log (log_history.csv)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..atomic import atomic_file
from ..loading import token_nll
from ..prompts.formats import IGNORE_INDEX


VALIDATION_LOSSES = "validation_losses.csv"
VALIDATION_COLUMNS = ("example", "tokens", "base_nll", "tuned_nll")


def validation_losses(model, dataset, pad_id: int, batch_size: int) -> list[dict]:
    """Per validation example: its trained tokens and the summed negative log-likelihood of them under
    the base model (the adapter switched off: what training started from, LoRA's B being zero) and
    under the fine-tuned one. The training summary turns them into a paired interval, so that "the
    validation loss fell" is said only where the interval says so."""
    import torch

    if dataset is None or not len(dataset):
        return []
    device = next(model.parameters()).device
    rows = []
    model.eval()
    for start in range(0, len(dataset), batch_size):
        batch = dataset[start:start + batch_size]
        width = max(len(ids) for ids in batch["input_ids"])
        input_ids = torch.full((len(batch["input_ids"]), width), pad_id, dtype=torch.long)
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        attention = torch.zeros_like(input_ids)
        for row, (ids, lab) in enumerate(zip(batch["input_ids"], batch["labels"])):  # right padding, as trained
            input_ids[row, :len(ids)] = torch.tensor(ids)
            labels[row, :len(lab)] = torch.tensor(lab)
            attention[row, :len(ids)] = 1
        sums = {}
        for which in ("tuned", "base"):
            with torch.inference_mode():
                if which == "base":
                    with model.disable_adapter():
                        logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
                else:
                    logits = model(input_ids=input_ids.to(device), attention_mask=attention.to(device)).logits
                sums[which] = token_nll(logits[:, :-1], labels[:, 1:].to(device)).sum(dim=1).tolist()
        for row in range(len(batch["input_ids"])):
            rows.append({"example": start + row, "tokens": int((labels[row, 1:] != IGNORE_INDEX).sum()),
                         "base_nll": sums["base"][row], "tuned_nll": sums["tuned"][row]})
    return rows


def write_validation_losses(rows: list[dict], path: Path) -> None:
    with atomic_file(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=VALIDATION_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


LOG_COLUMNS = ("step", "loss", "learning_rate", "grad_norm", "tokens_seen", "eval_loss")


def write_log_history(history: list[dict], path: Path) -> list[dict]:
    rows = []
    for entry in history:
        if "loss" not in entry and "eval_loss" not in entry:
            continue
        rows.append({"step": entry.get("step"), "loss": entry.get("loss"), "learning_rate": entry.get("learning_rate"),
                     "grad_norm": entry.get("grad_norm"), "tokens_seen": entry.get("num_input_tokens_seen"),
                     "eval_loss": entry.get("eval_loss")})
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows
