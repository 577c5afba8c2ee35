"""The settings of one training run, field for field the keys of the config (`models.<name>` and
`train.device`). Defaults live in config/schema.yaml only; `config.from_dict` builds these."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import from_dict
from ..loading import Quantization


@dataclass
class Lora:
    """models.<name>.lora"""

    r: int
    alpha: float
    dropout: float
    target_modules: list[str]


@dataclass
class Training:
    """models.<name>.training: the trainer's settings (the schema's defaults are the study's Listing 4)."""

    epochs: float
    max_steps: int
    batch_size: int
    eval_batch_size: int
    gradient_accumulation_steps: int
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    max_grad_norm: float
    weight_decay: float
    optim: str
    gradient_checkpointing: bool
    group_by_length: bool
    packing: bool
    completion_only_loss: bool
    truncation: str  # drop | keep_eos: cut the completion, keep the final EOS
    logging_steps: int
    eval_steps: int | None
    save_steps: int
    max_train_examples: int | None
    max_eval_examples: int | None
    seed: int


@dataclass
class RunSettings:
    """One (model, dataset) run: the model's config entry, its processes (models.<name>.resources.
    processes) and the device (train.device)."""

    model: str
    dataset: str
    device: str  # auto | cpu | cuda
    processes: int  # torch.distributed data-parallel processes
    template: str
    max_length: int
    lora: Lora
    quantization: Quantization
    training: Training


# The keys of a model's config entry that a run depends on (besides its processes).
MODEL_KEYS = ("template", "max_length", "lora", "quantization", "training")


def run_settings(model: str, dataset: str, spec: dict, device: str) -> RunSettings:
    """A run's settings from a model's config entry (completed with the schema's defaults)."""
    values = {key: spec[key] for key in MODEL_KEYS}
    return from_dict(RunSettings, {"model": model, "dataset": dataset, "device": device,
                                   "processes": spec["resources"]["processes"], **values}, key=f"models.{model}")
