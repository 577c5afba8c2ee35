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
    logging_steps: int
    eval_steps: int | None
    evaluations: int
    save_steps: int | None
    save_minutes: float
    max_train_examples: int | None
    max_eval_examples: int | None
    seed: int


@dataclass
class Recipe:
    """recipes.<name> with the model's recipe_overrides.<name>: every training choice that the study
    made differently (config/config.yaml says where each of the study's comes from)."""

    name: str
    loss: str  # completion | full_text
    pad_token: str  # distinct | eos (pad ids, EOS among them, left out of the loss)
    long_examples: str  # drop | keep_eos | truncate
    packing: bool  # trl's wrapped packing into rows of max_length
    mixed_precision: str  # auto | none
    compute_dtype: str  # model | prefer_bfloat16
    append_eos: bool


@dataclass
class RunSettings:
    """One run: (model, dataset, recipe, subset, seed). The model's config entry, the recipe, its
    processes (models.<name>.resources.processes) and the device (train.device); the seed is
    training.seed's value for this run."""

    model: str
    dataset: str
    subset: str  # a size of samanantar.subsets, or "all"
    device: str  # auto | cpu | cuda
    processes: int  # torch.distributed data-parallel processes
    template: str
    max_length: int
    lora: Lora
    quantization: Quantization
    training: Training
    recipe: Recipe


# The keys of a model's config entry that a run depends on (besides its processes and its recipe).
MODEL_KEYS = ("template", "max_length", "lora", "quantization", "training")
ALL = "all"  # the subset of a run on a whole training split


def recipe_of(config: dict, model: str, name: str) -> dict:
    """The recipe `name` for `model`: recipes.<name> with models.<model>.recipe_overrides.<name>."""
    return {"name": name, **config["recipes"][name], **config["models"][model]["recipe_overrides"].get(name, {})}


def run_settings(model: str, dataset: str, spec: dict, device: str, *, recipe: dict, subset: str | int,
                 seed: int) -> RunSettings:
    """A run's settings from a model's config entry (completed with the schema's defaults), its
    recipe (`recipe_of`), its subset and its seed."""
    values = {key: spec[key] for key in MODEL_KEYS}
    values["training"] = {**values["training"], "seed": seed}
    return from_dict(RunSettings, {"model": model, "dataset": dataset, "subset": str(subset), "device": device,
                                   "processes": spec["resources"]["processes"], "recipe": recipe, **values},
                     key=f"models.{model}")
