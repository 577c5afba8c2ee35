"""One adaptation: continued pretraining of a model on text in the language (the adaptation stage).

The model is loaded whole (not quantized: its merged weights are the output, in the compute dtype:
bfloat16 where the device has it natively, else float32). An extended model's new rows are
initialised first (`adapt.init`) and trained (peft's `trainable_token_indices`); LoRA adapters on
`target_modules` of the top and bottom `layers` layers (all layers with `layers: null`) train
beside them, as Yamaguchi, Villavicencio and Aletras (2024) adapt the new rows plus the top and
bottom two layers. The same settings adapt the base model with its own tokenizer (no new rows): the
fair baseline, on the same sentences. The extended tokenizer spells them in fewer tokens, so on as
many rows of tokens (adapt.budget: tokens, `baseline_rows`) the extension passes over the text
more often; with adapt.budget: text it takes the same epochs in fewer steps (both are recorded).

The result is merged (LoRA and new rows written into the weights) and saved as safetensors, with
source.json as every weights resource has and adaptation.json: the settings, the text's counts and
checksum, the rows, steps, losses and the training time (sentences and tokens per second)."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..atomic import atomic_directory, write_json
from ..errors import InputError
from ..loading import load_tokenizer, native_bfloat16, resolve_device, versions
from ..resources import SOURCE_JSON
from ..vocab.embeddings import extend_model, is_adapted, read_extension
from .init import init_parts
from .pack import batches, pack

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdaptSettings:
    """adapt's settings (config/schema.yaml: adapt), with train.device."""
    seq_len: int
    batch_size: int
    epochs: int
    learning_rate: float
    lora_r: int
    lora_alpha: int
    layers: int | None
    target_modules: list[str]
    seed: int
    device: str


def settings_of(adapt: dict, *, device: str) -> dict:
    """AdaptSettings' fields from the config's adapt section (what adapt_run depends on)."""
    lora = adapt["lora"]
    return {"seq_len": adapt["seq_len"], "batch_size": adapt["batch_size"], "epochs": adapt["epochs"],
            "learning_rate": adapt["learning_rate"], "lora_r": lora["r"], "lora_alpha": lora["alpha"],
            "layers": lora["layers"], "target_modules": list(lora["target_modules"]), "seed": adapt["seed"],
            "device": device}


def system_names(model: str, twin: str, inits: list[str]) -> dict[str, str]:
    """The names of the systems the adaptation stage measures (adapt_measure, comparison.csv): the
    model untouched, adapted with its own tokenizer, and its extended twin adapted and not adapted
    for each initialisation."""
    names = {"untouched": model, "adapted": f"{model} adapted"}
    for init in inits:
        names[f"twin_adapted_{init}"] = f"{twin} adapted ({init})"
        names[f"twin_initialised_{init}"] = f"{twin} not adapted ({init})"
    return names


def adapted_layers(n_layers: int, layers: int | None) -> list[int] | None:
    """The layer indices LoRA goes on: the bottom and top `layers` (None: every layer)."""
    if layers is None or 2 * layers >= n_layers:
        return None
    return sorted(set(range(layers)) | set(range(n_layers - layers, n_layers)))


def compute_dtype_of(device: str):
    """bfloat16 where the device has it natively, else float32 (the adaptation's and its measures')."""
    import torch

    return torch.bfloat16 if native_bfloat16(device) else torch.float32


def load_system(model_dir: Path, tokenizer_dir: Path, *, name: str, init: str | None, device: str):
    """The model of `model_dir` in the compute dtype on `device`, read with the tokenizer of
    `tokenizer_dir`: an extended tokenizer's new rows initialised with `init` (default mean), or kept
    where the folder is an adaptation's. Returns (model, tokenizer, new rows as peft's
    `trainable_token_indices`, None without an extension). The adaptation's and its measures' loader."""
    import transformers

    tokenizer = load_tokenizer(str(tokenizer_dir))
    model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=compute_dtype_of(device),
                                                              trust_remote_code=False, use_safetensors=True,
                                                              device_map={"": device})
    extension = read_extension(tokenizer_dir)
    rows_ready = is_adapted(model_dir)
    parts = None
    if extension is not None and not rows_ready:
        tokenizer_json = json.loads((Path(tokenizer_dir) / "tokenizer.json").read_text(encoding="utf-8"))
        parts = init_parts(init or "mean", tokenizer_json, extension)
    new_rows = extend_model(model, extension, len(tokenizer), model_name=name, tokenizer=Path(tokenizer_dir).name,
                            parts=parts, rows_ready=rows_ready)
    return model, tokenizer, new_rows


def baseline_rows(base_tokenizer_dir: Path, sentences: list[str], settings: AdaptSettings) -> int:
    """The rows of `seq_len` tokens the base's adaptation trains on `sentences` with its own tokenizer
    in `epochs` passes (adapt.budget: tokens): the extended model trains on as many."""
    return len(pack(load_tokenizer(str(base_tokenizer_dir)), sentences, settings.seq_len).rows) * settings.epochs


def row_order(n_rows: int, total: int, generator) -> list[int]:
    """`total` row indices: passes over the `n_rows` rows, each in a new seeded order, the last cut
    where the total ends (batches run on across passes)."""
    import torch

    order: list[int] = []
    while len(order) < total:
        order += torch.randperm(n_rows, generator=generator).tolist()
    return order[:total]


def adapt(*, name: str, model_dir: Path, tokenizer_dir: Path, sentences: list[str], init: str | None,
          settings: AdaptSettings, out_dir: Path, facts_path: Path, text_facts: dict | None = None,
          rows: int | None = None) -> dict:
    """Adapt the model of `model_dir` read with the tokenizer of `tokenizer_dir` (extended or not) on
    `sentences`; write the merged model to `out_dir` and the facts to `facts_path` (adaptation.json),
    and return them. `init`: the new rows' initialisation (adapt.init; None for a tokenizer that was
    not extended). `rows`: train on this many rows of `seq_len` tokens, passing over the text again
    (in a new order each pass) until they are done (adapt.budget: tokens, `baseline_rows`); None,
    `settings.epochs` passes."""
    import torch
    from peft import LoraConfig, get_peft_model

    if not sentences:
        raise InputError("adapt.sources: no adaptation text (every source is empty or held out)")
    if (read_extension(tokenizer_dir) is None) != (init is None):
        raise ValueError(f"{name}: an initialisation is for an extended tokenizer only")
    device = resolve_device(settings.device)
    torch.manual_seed(settings.seed)
    dtype = compute_dtype_of(device)
    model, tokenizer, new_rows = load_system(model_dir, tokenizer_dir, name=name, init=init, device=device)
    packed = pack(tokenizer, sentences, settings.seq_len)
    layers = adapted_layers(model.config.num_hidden_layers, settings.layers)
    lora = LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=0.0,
                      target_modules=list(settings.target_modules), layers_to_transform=layers,
                      trainable_token_indices=new_rows, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:  # adapter weights in float32 (bfloat16 updates of a small learning rate round to 0)
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(trainable, lr=settings.learning_rate, weight_decay=0.0)
    generator = torch.Generator().manual_seed(settings.seed)
    order = row_order(len(packed.rows), rows if rows is not None else len(packed.rows) * settings.epochs, generator)
    total = math.ceil(len(order) / settings.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    losses, tokens_trained, every = [], 0, max(1, total // 20)
    model.train()
    start = time.perf_counter()
    for ids, mask, labels in batches(packed.rows, settings.batch_size, pad, order):
        with torch.autocast(device_type=device, dtype=dtype, enabled=dtype != torch.float32):
            loss = model(input_ids=ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
        if not torch.isfinite(loss):
            raise InputError(f"adapt: {name}'s loss is {loss.item()} at step {len(losses) + 1}: lower "
                             "adapt.learning_rate")
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 4))
        if len(losses) % every == 0 or len(losses) == total:  # progress of a long run, about 20 lines
            log.info("%s: step %d of %d, loss %.3f, %.0f s", name, len(losses), total, losses[-1],
                     time.perf_counter() - start)
        tokens_trained += int(mask.sum())
    seconds = time.perf_counter() - start
    passes = tokens_trained / packed.tokens
    model = model.merge_and_unload()
    model.to(dtype)
    facts = {"name": name, "init": init, "settings": asdict(settings), "device": device, "dtype": str(dtype).split(".")[-1],
             "layers": layers if layers is not None else "all", "new_rows": len(next(iter(new_rows.values()))) if new_rows else 0,
             "trainable_parameters": sum(p.numel() for p in trainable), "text": {**(text_facts or {}),
             "sentences": packed.sentences, "characters": packed.characters, "tokens": packed.tokens},
             "rows": len(packed.rows), "steps": len(losses), "budget": "text" if rows is None else "tokens",
             "passes": passes, "tokens_trained": tokens_trained,
             "loss_first": losses[0], "loss_last": losses[-1], "losses": losses, "train_seconds": seconds,
             "sentences_per_second": packed.sentences * passes / seconds,
             "tokens_per_second": tokens_trained / seconds, "versions": versions()}
    base_source = json.loads((Path(model_dir) / SOURCE_JSON).read_text())
    with atomic_directory(Path(out_dir)) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        write_json(tmp / SOURCE_JSON, {**base_source, "name": name, "adapted_from": base_source["name"],
                                       "adaptation": {"init": init, "rows": len(tokenizer)},
                                       "parameters": sum(p.numel() for p in model.parameters())})
    write_json(Path(facts_path), facts)
    log.info("%s (%s): %d sentences, %d tokens in %d rows of %d, %d steps, loss %.3f -> %.3f, %.1f s "
             "(%.1f sentences/s)", name, init or "own tokenizer", packed.sentences, packed.tokens, len(packed.rows),
             settings.seq_len, len(losses), losses[0], losses[-1], seconds, facts["sentences_per_second"])
    return facts

