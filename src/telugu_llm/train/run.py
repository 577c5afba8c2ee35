"""QLoRA fine-tuning: a 4-bit NF4 base model, LoRA adapters, trl's SFTTrainer, on a CPU or a GPU.

One entry point, `train`, whose every knob comes from a `RunSettings` built from the config.
Examples are tokenized by `prompts.formats.tokenize_example` (one BOS, EOS last, prompt masked) and
then made as the run's recipe says (`recipe_example`: the loss, the EOS, the pad token, long
examples), so the trainer gets `input_ids` and `labels` and never re-tokenizes, truncates or masks
on its own. What the length handling dropped or cut is counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow.parquet as pq

from ..atomic import write_json
from ..errors import InputError
from ..loading import (compute_dtype, device_name, load_quantized, padded_tokenizer, peak_memory_bytes, resolve_device,
                       versions, world_size)
from ..prompts.formats import IGNORE_INDEX, STUDY_TEMPLATES, check_example, tokenize_example
from ..resources import SOURCE_JSON, sha256_file
from ..vocab.embeddings import extend_model, read_extension
from .outputs import VALIDATION_LOSSES, validation_losses, write_log_history, write_validation_losses
from .settings import Recipe, RunSettings

log = logging.getLogger(__name__)


def recipe_example(ids: list[int], labels: list[int], *, recipe: Recipe, eos_id: int,
                   max_length: int) -> tuple[list[int], list[int], str]:
    """An example as `prompts.formats.tokenize_example` makes it (BOS, prompt masked, EOS last) made
    as the recipe says; and what its length did: "kept", "cut" (keep_eos or truncate) or "dropped"
    (then the lists are empty; also an example left with no trained token). The order: EOS removed if not appended, the loss widened to every
    token, the length handled, then the pad id (EOS, under `pad_token: eos`) left out of the loss,
    as the data collator of the study's time did with every pad id."""
    n_prompt = labels.count(IGNORE_INDEX)  # BOS and prompt, whatever the loss
    if not recipe.append_eos:
        ids, labels = ids[:-1], labels[:-1]
    if recipe.loss == "full_text":
        labels = list(ids)
    status = "kept"
    if len(ids) > max_length:
        if recipe.long_examples == "truncate":
            ids, labels, status = ids[:max_length], labels[:max_length], "cut"
        elif recipe.long_examples == "keep_eos" and recipe.append_eos and n_prompt < max_length - 1:
            ids, labels, status = ids[: max_length - 1] + [ids[-1]], labels[: max_length - 1] + [labels[-1]], "cut"
        else:
            return [], [], "dropped"
    if recipe.pad_token == "eos":
        labels = [IGNORE_INDEX if token == eos_id else label for token, label in zip(ids, labels)]
    if all(label == IGNORE_INDEX for label in labels[1:]):  # nothing left to learn (a cut inside the prompt)
        return [], [], "dropped"
    return ids, labels, status


def tokenized_split(tokenizer, parquet: Path, *, template: str, max_length: int, recipe: Recipe,
                    limit: int | None = None) -> tuple[list[dict], dict]:
    """Examples as {input_ids, labels}: each tokenized as the template says and checked for its
    invariants, then made as the recipe says (`recipe_example`); and what was dropped or cut for
    length."""
    table = pq.read_table(parquet, columns=["prompt", "completion"])
    if limit is not None:
        table = table.slice(0, limit)
    examples, counts = [], {"kept": 0, "cut": 0, "dropped": 0}
    single_bos = template in STUDY_TEMPLATES
    for prompt, completion in zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist()):
        ids, labels = tokenize_example(tokenizer, prompt, completion)
        check_example(tokenizer, ids, labels, single_bos=single_bos)
        ids, labels, status = recipe_example(ids, labels, recipe=recipe, eos_id=tokenizer.eos_token_id,
                                             max_length=max_length)
        counts[status] += 1
        if status != "dropped":
            examples.append({"input_ids": ids, "labels": labels})
    return examples, {"examples": table.num_rows, "kept": len(examples), "dropped_too_long": counts["dropped"],
                      "cut": counts["cut"]}


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


def run_fingerprint(settings: RunSettings, model_dir: Path, prompts_dir: Path) -> str:
    """What a checkpoint belongs to: the settings, the weights and the training data. A run resumes
    only from a checkpoint with the same fingerprint, never from one of an edited config."""
    source = Path(model_dir) / SOURCE_JSON
    parts = {"settings": asdict(settings),
             "model": json.loads(source.read_text()) if source.exists() else None,
             "train": sha256_file(Path(prompts_dir) / "train.parquet"),
             "validation": sha256_file(Path(prompts_dir) / "validation.parquet")}
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

    return OwnLossSFTTrainer


def prepare(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, prompts_dir: Path, checkpoint_dir: Path):
    """The tokenizer, the examples and the trainer of one run (everything but the training itself)."""
    import torch
    from datasets import Dataset
    from trl import SFTConfig

    OwnLossSFTTrainer = own_loss_trainer()
    device = resolve_device(settings.device)
    torch.manual_seed(settings.training.seed)
    recipe = settings.recipe
    tokenizer = padded_tokenizer(tokenizer_dir, "right")
    if recipe.pad_token == "eos":  # the study's tokenizer.pad_token = tokenizer.eos_token
        tokenizer.pad_token = tokenizer.eos_token
    t = settings.training
    train_examples, train_counts = tokenized_split(tokenizer, Path(prompts_dir) / "train.parquet", template=settings.template,
                                                   max_length=settings.max_length, recipe=recipe,
                                                   limit=t.max_train_examples)
    eval_examples, eval_counts = tokenized_split(tokenizer, Path(prompts_dir) / "validation.parquet",
                                                 template=settings.template, max_length=settings.max_length,
                                                 recipe=recipe, limit=t.max_eval_examples)
    if not train_examples:
        raise InputError(f"models.{settings.model}.max_length: no {settings.dataset} training example is left "
                         f"after truncation ({train_counts['dropped_too_long']} of {train_counts['examples']} are longer "
                         f"than {settings.max_length} tokens)")
    model = load_quantized(Path(model_dir), settings.quantization, device, settings.model)
    new_rows = extend_model(model, read_extension(tokenizer_dir), len(tokenizer), model_name=settings.model,
                            tokenizer=Path(tokenizer_dir).name)
    model = add_lora(model, settings, new_rows)
    model.config.pad_token_id = tokenizer.pad_token_id

    mixed = recipe.mixed_precision == "auto"  # the study's recipe: fp16 = False, bf16 = False
    dtype = compute_dtype(settings.quantization, device)
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
        eval_strategy="steps" if eval_examples else "no",
        eval_steps=t.eval_steps or t.logging_steps,
        eval_on_start=bool(eval_examples),
        save_strategy="steps",
        save_steps=t.save_steps,
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
    trainer = OwnLossSFTTrainer(model=model, args=config, processing_class=tokenizer,
                         train_dataset=Dataset.from_list(train_examples),
                         eval_dataset=Dataset.from_list(eval_examples) if eval_examples else None)
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
            "train_examples": train_counts, "eval_examples": eval_counts}
    return trainer, tokenizer, info


def train(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, prompts_dir: Path, out_dir: Path,
          checkpoint_root: Path) -> dict:
    """Fine-tune one model on one dataset; write the adapter, log_history.csv and metrics.json.

    Checkpoints go under `checkpoint_root` (not an output: Snakemake deletes the outputs of a failed
    job), in a folder named by the run's fingerprint; a run that finds a checkpoint there resumes
    from it, and the folder is removed once the run has succeeded."""
    import torch

    checkpoint_dir = Path(checkpoint_root) / run_fingerprint(settings, model_dir, prompts_dir)
    trainer, tokenizer, info = prepare(settings=settings, model_dir=model_dir, tokenizer_dir=tokenizer_dir,
                               prompts_dir=prompts_dir, checkpoint_dir=checkpoint_dir)
    device = info["device"]
    resume, set_aside = resumable_checkpoint(checkpoint_dir) if trainer.is_world_process_zero() else (None, 0)
    if world_size() > 1:  # rank 0 decides (and renames); the others follow its choice
        resume = broadcast_choice(str(resume) if resume else None)
    tokens_before = steps_before = 0
    if resume:
        log.info("resuming from %s", resume)
        state = json.loads((Path(resume) / "trainer_state.json").read_text())
        tokens_before, steps_before = state.get("num_input_tokens_seen", 0), state.get("global_step", 0)
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
    examples_seen = (trainer.state.global_step * settings.training.batch_size
                     * settings.training.gradient_accumulation_steps * world_size())
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
        # examples the optimizer saw (steps x batch x accumulation x processes): below the training
        # set's size, a run is budget-limited and its subset size says which examples, not how many
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
