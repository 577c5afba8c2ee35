"""QLoRA fine-tuning: a 4-bit NF4 base model, LoRA adapters, trl's SFTTrainer, on a CPU or a GPU.

One entry point, `train`, whose every knob comes from a `RunSettings` built from the config.
Examples come tokenized (`train.tokenized`: one BOS, EOS last, prompt masked, then made as the run's
recipe says), memory-mapped, so the trainer gets `input_ids` and `labels` and never re-tokenizes,
truncates or masks on its own. What the length handling dropped or cut is counted there.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, replace
from pathlib import Path

from ..atomic import write_json
from ..errors import InputError
from ..loading import (Quantization, compute_dtype, device_name, load_quantized, native_bfloat16, padded_tokenizer,
                       peak_memory_bytes, resolve_device, versions, world_size)
from ..resources import SOURCE_JSON, sha256_file
from ..vocab.embeddings import extend_model, is_adapted, read_extension
from .callbacks import SaveEvery, StopOnNonFiniteLoss
from .outputs import VALIDATION_LOSSES, validation_losses, write_log_history, write_validation_losses
from .seen import examples_seen as seen_by_sampler
from .settings import RunSettings
from .tokenized import SPLITS, TOKENIZED_JSON, load_split, recipe_example, tokenize_run  # noqa: F401 (recipe_example: the run's API)

log = logging.getLogger(__name__)


def add_lora(model, settings: RunSettings, trainable_token_indices: dict | None = None):
    """LoRA adapters on the target modules; with `trainable_token_indices` (an extended vocabulary,
    vocab.embeddings.extend_model), the new rows of the embeddings are trained with them."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in settings.lora.target_modules if m not in names]
    if missing:
        raise InputError(f"models.{settings.model}.lora.target_modules: {missing} not in the model "
                         f"({model.config.model_type}); it has e.g. {sorted(n for n in names if n.endswith('proj'))}")
    if settings.quantization.load_in_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=settings.training.gradient_checkpointing)
    elif settings.training.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    config = LoraConfig(r=settings.lora.r, lora_alpha=settings.lora.alpha, lora_dropout=settings.lora.dropout,
                        target_modules=list(settings.lora.target_modules), task_type="CAUSAL_LM", bias="none",
                        trainable_token_indices=trainable_token_indices)
    return get_peft_model(model, config)


CHECKPOINT_FILES = ("trainer_state.json", "adapter_config.json", "adapter_model.safetensors", "optimizer.pt",
                    "scheduler.pt")


def checkpoint_complete(path: Path) -> bool:
    """Whether a checkpoint folder was saved to the end: the trainer writes its state last, so a
    state file that parses, beside the adapter, optimizer and scheduler files, means every file is whole."""
    if not all((path / name).is_file() for name in CHECKPOINT_FILES):
        return False
    try:
        json.loads((path / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def resumable_checkpoint(directory: Path) -> tuple[Path | None, int]:
    """The newest complete checkpoint under `directory`, and how many incomplete ones (a job killed
    inside a save) were set aside: renamed out of the trainer's `checkpoint-N` pattern, so that neither
    resuming nor a later save of the same step ever reads their files."""
    directory = Path(directory)
    if not directory.is_dir():
        return None, 0
    found = sorted((int(p.name.split("-", 1)[1]), p) for p in directory.iterdir()
                   if p.is_dir() and p.name.startswith("checkpoint-") and p.name.split("-", 1)[1].isdigit())
    set_aside = 0
    for _, path in reversed(found):
        if checkpoint_complete(path):
            return path, set_aside
        aside = path.with_name(f"incomplete-{path.name}-{os.getpid()}")
        path.rename(aside)
        set_aside += 1
        log.warning("checkpoint %s is incomplete (the job was killed while saving it): set aside as %s",
                    path.name, aside.name)
    return None, set_aside


def broadcast_choice(value):
    """Rank 0's value on every process of a data-parallel run (the process group is up once the
    trainer exists); the value itself where there is no group."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def run_fingerprint(settings: RunSettings, model_dir: Path, data_dir: Path) -> str:
    """What a checkpoint belongs to: the settings, the weights and the training data (a tokenized
    run's `tokenized.json`, which holds the sha256 of its prompt files, or the prompt files). A run
    resumes only from a checkpoint with the same fingerprint, never from one of an edited config."""
    source, data_dir = Path(model_dir) / SOURCE_JSON, Path(data_dir)
    data = ({"tokenized": json.loads((data_dir / TOKENIZED_JSON).read_text())} if (data_dir / TOKENIZED_JSON).exists()
            else {split: sha256_file(data_dir / f"{split}.parquet") for split in SPLITS})
    parts = {"settings": asdict(settings), "model": json.loads(source.read_text()) if source.exists() else None, **data}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def own_loss_trainer():
    """trl's SFTTrainer computing the loss as the model does (transformers' `Trainer.compute_loss`:
    the causal LM's own cross-entropy over its logits, labels as given). trl 1.16's fused LM head
    reads the output layer's weight directly, past peft's wrappers: the trained rows of an extended
    vocabulary (trainable tokens) would never reach the loss, and reading the wrapper's bias fails.
    Every run computes its loss this way, so that a run with an extended vocabulary and its base
    are timed on the same path."""
    from transformers import Trainer
    from trl import SFTTrainer

    class OwnLossSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

        def _get_train_sampler(self, train_dataset=None):
            # group_by_length reads the tokenized examples' `length` column (dropped with the other
            # columns the model does not take before the sampler is built, so the trainer would read
            # every example of the memory-mapped split to measure it: minutes at 2M examples)
            full = self.train_dataset
            if (self.args.train_sampling_strategy == "group_by_length" and full is not None
                    and "length" in full.column_names and (train_dataset is None or len(train_dataset) == len(full))):
                from transformers.trainer_pt_utils import LengthGroupedSampler

                return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                            dataset=train_dataset if train_dataset is not None else full,
                                            lengths=full["length"], model_input_name="input_ids")
            return super()._get_train_sampler(train_dataset)

        def _save(self, output_dir=None, state_dict=None):
            # A checkpoint holds what the adapter holds: with an extended vocabulary, peft's "auto"
            # would save the whole resized embedding and head (about 1.5 GB at 7B) in every checkpoint,
            # though only the new rows train (trainable tokens, saved by themselves)
            self.model.save_pretrained = functools.partial(type(self.model).save_pretrained, self.model,
                                                           save_embedding_layers=False)
            try:
                super()._save(output_dir, state_dict)
            finally:
                del self.model.save_pretrained

    return OwnLossSFTTrainer


def run_quantization(settings: RunSettings, device: str) -> Quantization:
    """The model's quantization as the recipe computes it: `prefer_bfloat16` trains in bfloat16 where
    the device has it natively (pitfall 4: float16 compute with 4-bit weights gives NaN losses,
    notably on Mistral), whatever the model's entry pins; `model` keeps the model's compute dtype
    (the study's Listings: float16)."""
    if settings.recipe.compute_dtype == "prefer_bfloat16" and native_bfloat16(device):
        return replace(settings.quantization, compute_dtype="bfloat16")
    return settings.quantization


def prepare(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, checkpoint_dir: Path,
            prompts_dir: Path | None = None, tokenized_dir: Path | None = None, resuming: bool = False):
    """The tokenizer, the examples and the trainer of one run (everything but the training itself).
    The examples are the tokenized run (`tokenized_dir`, the tokenize rule's output); given the
    prompts instead (tests, benchmarks), they are tokenized here first, into the checkpoint folder."""
    import datasets
    import torch
    from trl import SFTConfig

    OwnLossSFTTrainer = own_loss_trainer()
    device = resolve_device(settings.device)
    torch.manual_seed(settings.training.seed)
    recipe = settings.recipe
    tokenizer = padded_tokenizer(tokenizer_dir, "right")
    t = settings.training
    if tokenized_dir is None:  # never reused: the folder may hold another tokenizer's examples
        tokenized_dir = Path(checkpoint_dir) / "tokenized"
        tokenize_run(tokenizer, prompts_dir=Path(prompts_dir), out_dir=tokenized_dir, template=settings.template,
                     max_length=settings.max_length, recipe=recipe, max_train_examples=t.max_train_examples,
                     max_eval_examples=t.max_eval_examples, seed=t.seed)
    if recipe.pad_token == "eos":  # the study's tokenizer.pad_token = tokenizer.eos_token
        tokenizer.pad_token = tokenizer.eos_token
    counts = json.loads((Path(tokenized_dir) / TOKENIZED_JSON).read_text())["splits"]
    # trl's packing and shuffling write through datasets' cache: into temporary files, never into the
    # tokenize rule's output beside the memory-mapped examples
    datasets.disable_caching()
    train_dataset, eval_dataset = load_split(tokenized_dir, "train"), load_split(tokenized_dir, "validation")
    if train_dataset is None:
        c = counts["train"]
        raise InputError(f"models.{settings.model}.max_length: no {settings.dataset} training example is left "
                         f"after truncation ({c['dropped_too_long']} of {c['examples']} are longer "
                         f"than {settings.max_length} tokens, {c.get('dropped_by_partner', 0)} more under the "
                         "tokenizer of its vocabulary pair)")
    quantization = run_quantization(settings, device)
    model = load_quantized(Path(model_dir), quantization, device, settings.model)
    new_rows = extend_model(model, read_extension(tokenizer_dir), len(tokenizer), model_name=settings.model,
                            tokenizer=Path(tokenizer_dir).name, rows_ready=is_adapted(model_dir))
    model = add_lora(model, settings, new_rows)
    model.config.pad_token_id = tokenizer.pad_token_id

    mixed = recipe.mixed_precision == "auto"  # the study's recipe: fp16 = False, bf16 = False
    dtype = compute_dtype(quantization, device)
    bf16 = mixed and dtype == "bfloat16" and (device == "cpu" or torch.cuda.is_bf16_supported())
    fp16 = mixed and dtype == "float16" and device == "cuda"
    optim = t.optim if device == "cuda" or "paged" not in t.optim else "adamw_torch"  # pitfall 6
    config = SFTConfig(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=t.batch_size,
        per_device_eval_batch_size=t.eval_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        warmup_steps=t.warmup_ratio,  # transformers 5: a fraction below 1 is a ratio (pitfall 7)
        max_grad_norm=t.max_grad_norm,
        weight_decay=t.weight_decay,
        optim=optim,
        gradient_checkpointing=t.gradient_checkpointing,
        train_sampling_strategy="group_by_length" if t.group_by_length else "random",
        packing=recipe.packing,
        packing_strategy="wrapped",  # AutoTrain's packing: the examples concatenated and cut into rows
        max_length=settings.max_length if recipe.packing else None,
        completion_only_loss=None,  # the labels are the recipe's (recipe_example); trl uses them as they are
        bf16=bf16,
        fp16=fp16,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        logging_nan_inf_filter=False,  # a NaN loss is logged as NaN (and stops the run), not hidden as 0
        # validation: the tokenized sample, every eval_steps or at `evaluations` points of the run
        # (a ratio of its steps, which transformers turns into steps once the run's length is known)
        eval_strategy="steps" if eval_dataset is not None else "no",
        eval_steps=t.eval_steps or 1 / t.evaluations,
        eval_on_start=eval_dataset is not None,  # the loss before training; not again on a resume (train)
        # checkpoints: every save_steps, or by the clock (SaveEvery)
        save_strategy="steps" if t.save_steps else "no",
        save_steps=t.save_steps or 500,
        save_total_limit=2,
        seed=t.seed,
        data_seed=t.seed,
        report_to="none",
        use_cpu=device == "cpu",
        ddp_backend=("gloo" if device == "cpu" else "nccl") if world_size() > 1 else None,
        ddp_find_unused_parameters=False if world_size() > 1 else None,
        dataloader_num_workers=0,
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
    )
    callbacks = [StopOnNonFiniteLoss(dtype)]
    if not t.save_steps:
        callbacks.append(SaveEvery(t.save_minutes, decide=broadcast_choice))
    trainer = OwnLossSFTTrainer(model=model, args=config, processing_class=tokenizer, train_dataset=train_dataset,
                                eval_dataset=eval_dataset, callbacks=callbacks)
    if not bf16:
        # trl stores a 4-bit model's LoRA weights in bfloat16 whatever the run computes in. Only bf16
        # mixed precision keeps them so: the study's trl of 2023 left them in float32 (fp16 = bf16 =
        # False: every adapter computation was float32), fp16 mixed precision keeps float32 master
        # weights, and a float32 run on a CPU without native bfloat16 would emulate every adapter
        # product (about 50 times slower there)
        for parameter in trainer.model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.float()
    adapter_dtypes = sorted({str(p.dtype).removeprefix("torch.") for p in trainer.model.parameters() if p.requires_grad})
    info = {"device": device, "optimizer": optim, "compute_dtype": dtype, "bf16": bf16, "fp16": fp16,
            "adapter_dtype": ",".join(adapter_dtypes), "new_rows": len(next(iter(new_rows.values()))) if new_rows else 0,
            "train_examples": counts["train"], "eval_examples": counts["validation"]}
    return trainer, tokenizer, info


def train(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, out_dir: Path, checkpoint_root: Path,
          prompts_dir: Path | None = None, tokenized_dir: Path | None = None) -> dict:
    """Fine-tune one model on one dataset; write the adapter, log_history.csv and metrics.json.

    Checkpoints go under `checkpoint_root` (not an output: Snakemake deletes the outputs of a failed
    job), in a folder named by the run's fingerprint; a run that finds a checkpoint there resumes
    from it, and the folder is removed once the run has succeeded."""
    import torch

    checkpoint_dir = Path(checkpoint_root) / run_fingerprint(settings, model_dir, tokenized_dir or prompts_dir)
    trainer, tokenizer, info = prepare(settings=settings, model_dir=model_dir, tokenizer_dir=tokenizer_dir,
                                       prompts_dir=prompts_dir, tokenized_dir=tokenized_dir, checkpoint_dir=checkpoint_dir)
    device = info["device"]
    resume, set_aside = resumable_checkpoint(checkpoint_dir) if trainer.is_world_process_zero() else (None, 0)
    if world_size() > 1:  # rank 0 decides (and renames); the others follow its choice
        resume = broadcast_choice(str(resume) if resume else None)
    tokens_before = steps_before = 0
    if resume:
        log.info("resuming from %s", resume)
        state = json.loads((Path(resume) / "trainer_state.json").read_text())
        tokens_before, steps_before = state.get("num_input_tokens_seen", 0), state.get("global_step", 0)
        trainer.args.eval_on_start = False  # the loss before training is in the resumed log already
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    wall = time.perf_counter() - start
    tokens = trainer.state.num_input_tokens_seen - tokens_before  # non-padding tokens trained on in this process
    logged = [h for h in trainer.state.log_history if "eval_loss" in h]
    if logged and logged[-1].get("step") == trainer.state.global_step:
        final_eval = logged[-1]  # the last step was just evaluated; do not pay for it twice
    else:
        final_eval = trainer.evaluate() if trainer.eval_dataset is not None else {}

    if not trainer.is_world_process_zero():
        return {}  # the other processes of a data-parallel run: rank 0 writes the outputs
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # the new rows of an extended vocabulary are saved by themselves (trainable tokens), never the
    # whole resized embedding: evaluation rebuilds the rest exactly (vocab.embeddings)
    trainer.model.save_pretrained(out_dir / "adapter", safe_serialization=True, save_embedding_layers=False)
    history = write_log_history(trainer.state.log_history, out_dir / "log_history.csv")
    write_validation_losses(validation_losses(trainer.model, trainer.eval_dataset, tokenizer.pad_token_id,
                                              settings.training.eval_batch_size), out_dir / VALIDATION_LOSSES)
    evals = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    examples_seen = seen_by_sampler(steps=trainer.state.global_step, rows=len(trainer.train_dataset),
                                    examples=info["train_examples"]["kept"] + info["train_examples"]["cut"],
                                    batch_size=settings.training.batch_size,
                                    accumulation=settings.training.gradient_accumulation_steps,
                                    processes=world_size())
    metrics = {
        "model": settings.model,
        "dataset": settings.dataset,
        "recipe": settings.recipe.name,
        "subset": settings.subset,
        "train_loss": result.training_loss,
        "eval_loss": final_eval.get("eval_loss"),
        "eval_loss_before": evals[0] if evals else None,
        "steps": trainer.state.global_step,
        "resumed_from": Path(resume).name if resume else None,
        "incomplete_checkpoints_set_aside": set_aside,
        "tokens_per_second": tokens / wall if wall else None,
        "non_padding_tokens": trainer.state.num_input_tokens_seen,
        "peak_memory_bytes": peak_memory_bytes(device),
        "wall_time_s": wall,
        "device": device,
        "device_name": device_name(device),
        "optimizer": info["optimizer"],
        "bf16": info["bf16"],
        "fp16": info["fp16"],
        "adapter_dtype": info["adapter_dtype"],
        "compute_dtype": info["compute_dtype"],
        # examples the optimizer saw, from the sampler's rows (packed or not: seen.py): below the
        # training set's size, a run stopped short and its subset size says which examples, not how many
        "examples_seen": examples_seen,
        # examples per second of this run's own steps (a resumed run's earlier steps took other time)
        "examples_per_second": (examples_seen * (1 - steps_before / trainer.state.global_step) / wall
                                if wall and trainer.state.global_step else None),
        "train_examples": info["train_examples"],
        "eval_examples": info["eval_examples"],
        "new_rows": info["new_rows"],
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "settings": asdict(settings),
        "versions": versions(),
        "seed": settings.training.seed,
        "log_rows": len(history),
        "threads": torch.get_num_threads(),
        "processes": world_size(),
    }
    write_json(out_dir / "metrics.json", metrics)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return metrics
