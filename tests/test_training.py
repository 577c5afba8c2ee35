"""QLoRA training on tiny random Llama and Mistral models with the real tokenizers: the
correctness list of pitfalls.md, resuming, and the bad inputs."""

import csv
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from telugu_llm.config import shipped_recipe, with_defaults
from telugu_llm.errors import InputError
from telugu_llm.loading import disable_avx512bf16_repacking, load_quantized, load_tokenizer, set_pad_token
from telugu_llm.prompts.formats import IGNORE_INDEX, render, tokenize_example
from telugu_llm.settings import from_dict
from telugu_llm.train.run import add_lora, prepare, recipe_example, run_quantization, train
from telugu_llm.train.tokenized import load_split, sampled_rows, tokenize_split
from telugu_llm.train.settings import Recipe, RunSettings, run_settings
from telugu_llm.train.weights import build_model
from test_vocab import extended_llama  # noqa: F401 (a fixture: a tiny Llama and Llama-2's tokenizer extended)

PAIRS = [("Good morning.", "శుభోదయం."), ("Drink boiled water.", "కాచిన నీళ్లు తాగండి."),
         ("Schools reopen in June.", "జూన్‌లో పాఠశాలలు తిరిగి తెరుచుకుంటాయి."), ("Thank you.", "ధన్యవాదాలు."),
         ("Where is the station?", "స్టేషన్ ఎక్కడ ఉంది?"), ("It is raining today.", "ఈ రోజు వర్షం పడుతోంది."),
         ("The farmer sold paddy.", "రైతు వడ్లు అమ్మాడు."), ("I am learning Telugu.", "నేను తెలుగు నేర్చుకుంటున్నాను.")]


def write_prompts(directory: Path, template: str, repeat: int = 4) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rows = [render(template, [("Human", f"Translate into Telugu: {en}"), ("Assistant", te)]) for en, te in PAIRS]
    for split, n in (("train", repeat), ("validation", 1)):
        pq.write_table(pa.table({"prompt": [r.prompt for r in rows] * n, "completion": [r.completion for r in rows] * n}),
                       directory / f"{split}.parquet")
    return directory


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenizer_dirs):
    """A tiny random model per architecture, with the study's tokenizer of that family."""
    root = tmp_path_factory.mktemp("tiny")
    out = {}
    for arch, tok in (("llama", "llama2"), ("mistral", "mistral")):
        build_model(f"tiny_{arch}", with_defaults({"source": "random", "architecture": arch}, "$defs/weights"),
                    root / arch, tokenizer=load_tokenizer(tokenizer_dirs[tok]))
        out[arch] = {"model": root / arch, "tokenizer": Path(tokenizer_dirs[tok]),
                     "prompts": write_prompts(root / f"prompts_{arch}", "llama2_study" if arch == "llama" else "mistral_study")}
    return out


def settings(arch: str, recipe: str = "corrected", compute_dtype: str = "bfloat16", recipe_choices: dict | None = None,
             **training) -> RunSettings:
    """A tiny model's run settings. `recipe_choices` change the shipped recipe's (the corrected
    recipe computes in bfloat16 wherever the CPU has it natively, AMX or AVX512-BF16, whatever
    `compute_dtype` says: `{"compute_dtype": "model"}` pins it)."""
    spec = {"tokenizer": "llama2" if arch == "llama" else "mistral",
            "template": "llama2_study" if arch == "llama" else "mistral_study", "max_length": 128,
            "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
            "quantization": {"load_in_4bit": True, "compute_dtype": compute_dtype},
            "training": {"max_steps": 6, "batch_size": 4, "learning_rate": 0.01, "warmup_ratio": 0.0, "logging_steps": 2,
                         "eval_steps": 6, "save_steps": 2, "gradient_checkpointing": False, "seed": 1, **training}}
    return run_settings(f"tiny_{arch}", "samanantar", with_defaults(spec, "$defs/model"), device="cpu",
                        recipe={**shipped_recipe(recipe), **(recipe_choices or {})}, subset="all",
                        seed=spec["training"]["seed"])


def test_pad_token_is_distinct_from_eos(tokenizer_dirs):
    tokenizer = type(load_tokenizer(tokenizer_dirs["llama2"])).from_pretrained(tokenizer_dirs["llama2"])
    tokenizer.pad_token = tokenizer.eos_token  # the tutorials' setting that breaks stopping (pitfall 1)
    set_pad_token(tokenizer)
    assert tokenizer.pad_token_id != tokenizer.eos_token_id and tokenizer.pad_token == "<unk>"
    tokenizer.pad_token, tokenizer.unk_token = tokenizer.eos_token, tokenizer.eos_token
    with pytest.raises(InputError, match="no pad or unknown token distinct from EOS"):
        set_pad_token(tokenizer)


def recipe(name: str = "corrected", **choices) -> Recipe:
    return from_dict(Recipe, {**shipped_recipe(name), **choices}, key=f"recipes.{name}")


def tokenized(tokenizer, parquet: Path, out: Path, **kwargs) -> tuple[list[dict], dict]:
    counts = tokenize_split(tokenizer, parquet, out, template="llama2_study", **{"limit": None, "seed": 0, **kwargs})
    with pa.memory_map(str(out)) as source:
        table = pa.ipc.open_stream(source).read_all()
    assert table.schema.field("input_ids").type == pa.list_(pa.int32())  # int32 on disk, not Python ints
    return table.select(["input_ids", "labels"]).to_pylist(), counts


def test_examples_end_with_eos_and_long_ones_are_counted(tiny, tmp_path):
    tokenizer = load_tokenizer(str(tiny["llama"]["tokenizer"]))
    parquet = tiny["llama"]["prompts"] / "train.parquet"
    examples, counts = tokenized(tokenizer, parquet, tmp_path / "a.arrow", max_length=128, recipe=recipe())
    assert {k: counts[k] for k in ("examples", "kept", "dropped_too_long", "cut", "not_sampled")} == {
        "examples": 32, "kept": 32, "dropped_too_long": 0, "cut": 0, "not_sampled": 0}
    assert counts["tokens"] == sum(len(e["input_ids"]) for e in examples)
    prompts = pq.read_table(parquet)
    for ex, prompt, completion in zip(examples, prompts["prompt"].to_pylist(), prompts["completion"].to_pylist()):
        assert ex["labels"][-1] == tokenizer.eos_token_id == ex["input_ids"][-1]
        assert ex["input_ids"][0] == tokenizer.bos_token_id and ex["input_ids"].count(tokenizer.bos_token_id) == 1
        assert ex["labels"][0] == IGNORE_INDEX
        assert (ex["input_ids"], ex["labels"]) == tokenize_example(tokenizer, prompt, completion)  # batched = one by one
    short, counts = tokenized(tokenizer, parquet, tmp_path / "b.arrow", max_length=40, recipe=recipe(long_examples="keep_eos"))
    assert counts["cut"] > 0 and all(len(e["input_ids"]) <= 40 and e["labels"][-1] == tokenizer.eos_token_id
                                     for e in short)
    dropped, counts = tokenized(tokenizer, parquet, tmp_path / "c.arrow", max_length=40, recipe=recipe())
    assert counts["dropped_too_long"] == counts["examples"] - len(dropped) > 0 and counts["cut"] == 0


def write_directional_prompts(directory: Path, pairs: int = 16) -> Path:
    """Prompt files laid out as format_prompts writes them: every en->te example of the shard, then
    every te->en one; `source_id` names the pair."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for direction in ("en-te", "te-en"):
        for n in range(pairs):
            en, te = PAIRS[n % len(PAIRS)]
            turns = [("Human", f"Translate ({n}): {en if direction == 'en-te' else te}"),
                     ("Assistant", te if direction == "en-te" else en)]
            r = render("llama2_study", turns)
            rows.append({"source_id": f"pair{n}", "source_lang": direction[:2], "prompt": r.prompt,
                         "completion": r.completion})
    for split in ("train", "validation"):
        pq.write_table(pa.Table.from_pylist(rows), directory / f"{split}.parquet")
    return directory


def test_a_capped_validation_is_a_seeded_sample_of_whole_pairs_in_both_directions(tiny, tmp_path):
    """Issue 20, defect 1: `max_eval_examples` took the head of the file, which holds every en->te row
    of a shard before its te->en ones, so a capped validation was one direction only."""
    prompts = write_directional_prompts(tmp_path / "prompts")
    trainer, _, info = prepare(settings=settings("llama", max_eval_examples=8), model_dir=tiny["llama"]["model"],
                               tokenizer_dir=tiny["llama"]["tokenizer"], prompts_dir=prompts,
                               checkpoint_dir=tmp_path / "ckpt")
    rows = pq.read_table(prompts / "validation.parquet").to_pylist()
    expected = [tokenize_example(load_tokenizer(str(tiny["llama"]["tokenizer"])), r["prompt"], r["completion"])[0]
                for r in rows]
    chosen = [expected.index(ids) for ids in trainer.eval_dataset["input_ids"]]
    assert len(chosen) == 8 and info["eval_examples"]["not_sampled"] == 24
    assert {rows[i]["source_lang"] for i in chosen} == {"en", "te"}
    pairs = [rows[i]["source_id"] for i in chosen]
    assert all(pairs.count(p) == 2 for p in pairs)  # a pair's two directions together (one cluster)
    assert chosen != list(range(8))
    again = tokenize_split(load_tokenizer(str(tiny["llama"]["tokenizer"])), prompts / "validation.parquet",
                           tmp_path / "again.arrow", template="llama2_study", max_length=128, recipe=recipe(), limit=8,
                           seed=settings("llama").training.seed)
    assert again["kept"] == 8  # the same seed draws the same sample (the same rows kept)
    assert sampled_rows(prompts / "validation.parquet", 8, 1).tolist() == sampled_rows(prompts / "validation.parquet", 8, 1).tolist()
    assert sampled_rows(prompts / "validation.parquet", 8, 1).tolist() != sampled_rows(prompts / "validation.parquet", 8, 2).tolist()
    assert sampled_rows(prompts / "validation.parquet", None, 1) is None


def test_validation_runs_at_a_cadence_set_by_the_runs_length_and_not_again_on_resume(tiny, tmp_path):
    """Issue 20, defect 1: with no eval_steps, validation ran every logging_steps (25 steps: hours of
    forward passes per hour of training at the study's size). Now `evaluations` times per run."""
    out = tmp_path / "out"
    metrics = train(settings=settings("llama", max_steps=8, eval_steps=None, evaluations=4, logging_steps=1),
                    model_dir=tiny["llama"]["model"], tokenizer_dir=tiny["llama"]["tokenizer"],
                    prompts_dir=tiny["llama"]["prompts"], out_dir=out, checkpoint_root=tmp_path / "ckpt")
    history = list(csv.DictReader(open(out / "log_history.csv")))
    evaluated = [int(row["step"]) for row in history if row["eval_loss"]]
    assert evaluated == [0, 2, 4, 6, 8] and metrics["steps"] == 8


EOS, BOS = 2, 1
# BOS, a prompt of three tokens (masked), a completion of two and EOS: as tokenize_example makes it
IDS = [BOS, 10, 11, 12, 20, 21, EOS]
LABELS = [IGNORE_INDEX] * 4 + [20, 21, EOS]


@pytest.mark.parametrize("choices, max_length, expected", [
    ({}, 16, (IDS, LABELS, "kept")),
    # the study's recipe: the loss on the whole text, and EOS (the pad token) left out of it
    ({"loss": "full_text", "pad_token": "eos", "long_examples": "truncate", "mixed_precision": "none"}, 16,
     (IDS, [BOS, 10, 11, 12, 20, 21, IGNORE_INDEX], "kept")),
    ({"append_eos": False, "long_examples": "drop"}, 16, (IDS[:-1], LABELS[:-1], "kept")),
    ({"long_examples": "drop"}, 6, ([], [], "dropped")),
    ({"long_examples": "keep_eos"}, 6, ([BOS, 10, 11, 12, 20, EOS], [IGNORE_INDEX] * 4 + [20, EOS], "cut")),
    ({"long_examples": "keep_eos"}, 5, ([], [], "dropped")),  # no room for any of the completion
    ({"long_examples": "truncate"}, 5, (IDS[:5], LABELS[:5], "cut")),  # the trainer's cut: EOS lost
    ({"long_examples": "truncate"}, 4, ([], [], "dropped")),  # the cut leaves only the prompt: nothing to learn
    # full text: the prompt is trained on, but a cut keeping EOS still needs room for the completion
    ({"loss": "full_text", "long_examples": "keep_eos"}, 5, ([], [], "dropped")),
    ({"loss": "full_text", "long_examples": "truncate"}, 5, (IDS[:5], IDS[:5], "cut")),
])
def test_a_recipe_makes_the_example_it_says(choices, max_length, expected):
    assert recipe_example(IDS, LABELS, recipe=recipe(**choices), eos_id=EOS, max_length=max_length) == expected


@pytest.mark.parametrize("compute_dtype, bf16, adapter_dtype", [("bfloat16", True, "bfloat16"), ("float32", False, "float32")])
def test_adapters_are_bfloat16_only_under_bf16_mixed_precision(tiny, tmp_path, compute_dtype, bf16, adapter_dtype):
    """trl casts a 4-bit model's adapters to bfloat16 whatever the run computes in; a float32 run
    (the default's on a CPU without native bfloat16) keeps them float32, or every adapter product is
    emulated bfloat16. The float32 run's dtype is pinned (recipe compute_dtype: model): on a CPU with
    native bfloat16 the corrected recipe would otherwise compute in bfloat16."""
    run = settings("llama", compute_dtype=compute_dtype, recipe_choices={"compute_dtype": "model"})
    _, _, info = prepare(settings=run, model_dir=tiny["llama"]["model"],
                         tokenizer_dir=tiny["llama"]["tokenizer"], prompts_dir=tiny["llama"]["prompts"],
                         checkpoint_dir=tmp_path / "ckpt")
    assert (info["bf16"], info["adapter_dtype"], info["compute_dtype"]) == (bf16, adapter_dtype, compute_dtype)


def test_the_study_recipe_never_trains_eos_and_pads_with_it(tiny, tmp_path):
    """Listing 4's set-up, reproduced: pad = EOS, so the collator's pad masking leaves EOS out of the
    loss (the cause of the study's models not stopping); the prompt is trained on; no mixed precision."""
    trainer, tokenizer, info = prepare(settings=settings("llama", recipe="study"), model_dir=tiny["llama"]["model"],
                                       tokenizer_dir=tiny["llama"]["tokenizer"], prompts_dir=tiny["llama"]["prompts"],
                                       checkpoint_dir=tmp_path / "ckpt")
    assert tokenizer.pad_token_id == tokenizer.eos_token_id and not info["bf16"] and not info["fp16"]
    assert info["adapter_dtype"] == "float32"  # trl would store them in bfloat16; the study's were float32
    batch = next(iter(trainer.get_train_dataloader()))
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert (ids == tokenizer.eos_token_id).any(), "Listing 2's examples end with </s>"
    assert (labels[ids == tokenizer.eos_token_id] == IGNORE_INDEX).all()
    prompt_tokens = (labels[:, 1:5] != IGNORE_INDEX) & (mask[:, 1:5] == 1)
    assert prompt_tokens.all(), "the study trains on the whole text, the prompt included"


def test_the_packing_recipe_fills_rows_of_max_length(tiny, tmp_path):
    """Listing 5's AutoTrain packs: examples concatenated and cut into rows of max_length."""
    study = settings("mistral", recipe="study")
    study.recipe = recipe("study", packing=True)
    trainer, tokenizer, _ = prepare(settings=study, model_dir=tiny["mistral"]["model"],
                                    tokenizer_dir=tiny["mistral"]["tokenizer"], prompts_dir=tiny["mistral"]["prompts"],
                                    checkpoint_dir=tmp_path / "ckpt")
    lengths = [len(row["input_ids"]) for row in trainer.train_dataset]
    assert len(lengths) < 32 and all(n == study.max_length for n in lengths[:-1])
    assert sum(lengths) > 32 * 8  # every token of every example is in some row


def test_batches_are_right_padded_with_eos_trained(tiny, tmp_path):
    trainer, tokenizer, _ = prepare(settings=settings("llama"), model_dir=tiny["llama"]["model"],
                                    tokenizer_dir=tiny["llama"]["tokenizer"], prompts_dir=tiny["llama"]["prompts"],
                                    checkpoint_dir=tmp_path / "ckpt")
    batch = next(iter(trainer.get_train_dataloader()))
    mask, ids, labels = batch["attention_mask"], batch["input_ids"], batch["labels"]
    assert (mask[:, 1:] <= mask[:, :-1]).all()  # ones then zeros: right padding
    assert (mask == 0).any(), "the batch should need padding"
    for row in range(ids.shape[0]):
        last = int(mask[row].sum()) - 1
        assert ids[row, 0] == tokenizer.bos_token_id and labels[row, last] == tokenizer.eos_token_id
        assert (labels[row, last + 1:] == IGNORE_INDEX).all() and (ids[row, last + 1:] == tokenizer.pad_token_id).all()
        assert tokenizer.pad_token_id != tokenizer.eos_token_id


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_a_qlora_run_per_architecture(tiny, tmp_path, arch):
    metrics = train(settings=settings(arch), model_dir=tiny[arch]["model"], tokenizer_dir=tiny[arch]["tokenizer"],
                    prompts_dir=tiny[arch]["prompts"], out_dir=tmp_path / "out", checkpoint_root=tmp_path / "ckpt")
    assert metrics["steps"] == 6 and metrics["optimizer"] == "adamw_torch" and metrics["device"] == "cpu"
    assert metrics["eval_loss"] < metrics["eval_loss_before"], "the validation loss must fall"
    for key in ("train_loss", "eval_loss", "steps", "tokens_per_second", "peak_memory_bytes"):
        assert metrics[key] and metrics[key] > 0, key
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["steps"] == 6
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").exists()
    history = (tmp_path / "out" / "log_history.csv").read_text().splitlines()
    assert history[0] == "step,loss,learning_rate,grad_norm,tokens_seen,eval_loss" and len(history) > 4
    assert not any((tmp_path / "ckpt").iterdir()), "checkpoints are removed after a successful run"
    # per validation example, its loss under the base model (adapter off) and the fine-tuned one: the
    # token-weighted means are the validation losses before and after (the trainer averages per batch)
    import pandas as pd

    losses = pd.read_csv(tmp_path / "out" / "validation_losses.csv")
    assert list(losses.columns) == ["example", "tokens", "base_nll", "tuned_nll"] and len(losses) == len(PAIRS)
    assert losses["base_nll"].sum() / losses["tokens"].sum() == pytest.approx(metrics["eval_loss_before"], rel=0.05)
    assert losses["tuned_nll"].sum() / losses["tokens"].sum() == pytest.approx(metrics["eval_loss"], rel=0.05)
    # the adapter loads onto the base model
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny[arch]["model"])
    PeftModel.from_pretrained(base, tmp_path / "out" / "adapter")
    if arch == "mistral":
        assert base.config.sliding_window == 16  # shorter than the examples: the sliding-window path ran


def test_lora_gradients_survive_generate(tiny):
    """Pitfall 5: after an inference pass a 4-bit layer on an AVX512-BF16 CPU must still give LoRA gradients."""
    s = settings("llama")
    model = add_lora(load_quantized(tiny["llama"]["model"], s.quantization, "cpu", s.model), s)
    tokenizer = load_tokenizer(str(tiny["llama"]["tokenizer"]))
    inputs = tokenizer(["[INST] Translate: Good morning. [/INST]"], return_tensors="pt")
    model.eval()
    with torch.no_grad():
        model.generate(**inputs, max_new_tokens=3, do_sample=False)
    model.train()
    out = model(**inputs, labels=inputs["input_ids"])
    out.loss.backward()
    grads = [p.grad for n, p in model.named_parameters() if "lora_" in n and p.grad is not None]
    assert grads and any(float(g.abs().sum()) > 0 for g in grads)
    assert disable_avx512bf16_repacking(model) > 0


RESUME_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {src!r})
sys.path.insert(0, {tests!r})
import transformers
from test_training import settings
from telugu_llm.train.run import train

kill_at, where = int(sys.argv[1]), sys.argv[2]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if where == "between":  # after checkpoint-<kill_at> is complete, before the next step ends
    class KillAfter(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == kill_at + 1:
                die()
    orig = transformers.Trainer.__init__
    def init(self, *a, **k):
        orig(self, *a, **k)
        self.add_callback(KillAfter())
    transformers.Trainer.__init__ = init
elif where == "inside":  # the adapter and optimizer of checkpoint-<kill_at> written, its state not yet
    save = transformers.TrainerState.save_to_json
    def save_to_json(self, path):
        if self.global_step == kill_at and os.path.basename(os.path.dirname(path)) == f"checkpoint-{{kill_at}}":
            with open(path, "w") as handle:
                handle.write('{{"global_step": ')  # a state file cut off mid-write
            die()
        return save(self, path)
    transformers.TrainerState.save_to_json = save_to_json
train(settings=settings("llama", max_steps=8, save_steps=2), model_dir={model!r}, tokenizer_dir={tokenizer!r},
      prompts_dir={prompts!r}, out_dir={out!r}, checkpoint_root={ckpt!r})
"""


@pytest.mark.parametrize("where, resumed_from, set_aside", [("between", "checkpoint-4", 0), ("inside", "checkpoint-2", 1)])
def test_resume_continues_the_step_count(tiny, tmp_path, where, resumed_from, set_aside):
    """A job killed (SIGKILL) between two checkpoint saves resumes from the last one; a job killed inside
    a save resumes from the newest complete checkpoint, and the incomplete one is set aside and counted."""
    script = RESUME_SCRIPT.format(src=str(Path(__file__).parents[1] / "src"), tests=str(Path(__file__).parent),
                                  model=str(tiny["llama"]["model"]), tokenizer=str(tiny["llama"]["tokenizer"]),
                                  prompts=str(tiny["llama"]["prompts"]), out=str(tmp_path / "out"),
                                  ckpt=str(tmp_path / "ckpt"))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1] / "src"))
    killed = subprocess.run([sys.executable, "-c", script, "4", where], env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    checkpoints = sorted(p.name for p in (tmp_path / "ckpt").glob("*/checkpoint-*"))
    assert "checkpoint-4" in checkpoints and not (tmp_path / "out" / "metrics.json").exists()
    if where == "inside":
        state = next((tmp_path / "ckpt").glob("*/checkpoint-4")) / "trainer_state.json"
        assert state.read_text() == '{"global_step": '  # the kill really cut the save short
    done = subprocess.run([sys.executable, "-c", script, "0", "none"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["resumed_from"] == resumed_from and metrics["steps"] == 8
    assert metrics["incomplete_checkpoints_set_aside"] == set_aside
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())  # removed after success


def test_bad_inputs_fail_before_training(tiny, tmp_path, monkeypatch):
    kwargs = dict(model_dir=tiny["llama"]["model"], tokenizer_dir=tiny["llama"]["tokenizer"],
                  prompts_dir=tiny["llama"]["prompts"], checkpoint_dir=tmp_path / "c")
    bad = settings("llama")
    bad.lora.target_modules = ["q_proj", "query_key_value"]
    with pytest.raises(InputError, match=r"models.tiny_llama.lora.target_modules: \['query_key_value'\] not in the model"):
        prepare(settings=bad, **kwargs)
    short = settings("llama")
    short.max_length = 10
    with pytest.raises(InputError, match=r"models.tiny_llama.max_length: no samanantar training example is left after truncation \(32 of 32"):
        prepare(settings=short, **kwargs)
    import builtins

    real_import = builtins.__import__

    def no_bnb(name, *args, **kw):
        if name == "bitsandbytes":
            raise ImportError("bitsandbytes is not available on this platform")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_bnb)
    with pytest.raises(InputError, match="models.tiny_llama.quantization.load_in_4bit: bitsandbytes cannot run here"):
        load_quantized(tiny["llama"]["model"], settings("llama").quantization, "cpu", "tiny_llama")


def test_unknown_architecture_is_one_error(tmp_path, tokenizer_dirs):
    with pytest.raises(InputError, match="architecture 'gpt9' is not one of llama, mistral"):
        build_model("x", with_defaults({"source": "random", "architecture": "gpt9"}, "$defs/weights"), tmp_path / "x",
                    tokenizer=load_tokenizer(tokenizer_dirs["llama2"]))
    assert not (tmp_path / "x").exists()


def test_two_processes_on_the_cpu(tiny, tmp_path):
    """torch.distributed data parallel with gloo: two processes, each with its own 4-bit model; rank 0
    writes the outputs a single process writes; the loss falls and the adapter loads."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from telugu_llm.train.launch import launch

    from telugu_llm.train.tokenized import tokenize_run

    run = settings("llama", max_steps=6, eval_steps=3, save_steps=100)
    run.processes = 2
    # tokenized once, as the tokenize_run job does; both ranks memory-map the same files
    tokenize_run(load_tokenizer(str(tiny["llama"]["tokenizer"])), prompts_dir=tiny["llama"]["prompts"],
                 out_dir=tmp_path / "tokenized", template=run.template, max_length=run.max_length, recipe=run.recipe,
                 max_train_examples=None, max_eval_examples=None, seed=0)
    metrics = launch(settings=run, model_dir=tiny["llama"]["model"], tokenizer_dir=tiny["llama"]["tokenizer"],
                     tokenized_dir=tmp_path / "tokenized", out_dir=tmp_path / "out", checkpoint_root=tmp_path / "ckpt",
                     threads=2)
    assert metrics["processes"] == 2 and metrics["steps"] == 6
    assert metrics["eval_loss"] < metrics["eval_loss_before"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["adapter", "log_history.csv", "metrics.json",
                                                                     "validation_losses.csv"]
    # each step saw both processes' batches: twice the tokens of one process's 6 steps of 4 examples at most
    assert metrics["non_padding_tokens"] > 0
    base = AutoModelForCausalLM.from_pretrained(tiny["llama"]["model"])
    model = PeftModel.from_pretrained(base, tmp_path / "out" / "adapter")
    trained = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert trained and any(p.abs().sum() > 0 for p in trained)  # B starts at zero: it was trained
    assert not (tmp_path / "ckpt").exists() or not any((tmp_path / "ckpt").iterdir())


def test_the_launcher_imports_no_training_library():
    """A training job's launcher starts its processes at once: before, it imported torch,
    transformers and peft first (7 s a job, the other core idle) only to hand the run to torchrun."""
    code = ("import sys; import telugu_llm.train.launch; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'trl') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_bad_input_in_a_training_process_is_the_jobs_one_line_error(tiny, tmp_path):
    """One process, started by the launcher: its InputError reaches the job as the same InputError
    (not as a traceback of a failed process), and no output is left behind."""
    from telugu_llm.train.launch import launch
    from telugu_llm.train.tokenized import tokenize_run

    run = settings("llama")
    tokenize_run(load_tokenizer(str(tiny["llama"]["tokenizer"])), prompts_dir=tiny["llama"]["prompts"],
                 out_dir=tmp_path / "tokenized", template=run.template, max_length=run.max_length, recipe=run.recipe,
                 max_train_examples=None, max_eval_examples=None, seed=0)
    run.lora.target_modules = ["q_proj", "query_key_value"]
    with pytest.raises(InputError) as error:
        launch(settings=run, model_dir=tiny["llama"]["model"], tokenizer_dir=tiny["llama"]["tokenizer"],
               tokenized_dir=tmp_path / "tokenized", out_dir=tmp_path / "out", checkpoint_root=tmp_path / "ckpt")
    assert str(error.value).startswith("models.tiny_llama.lora.target_modules: ['query_key_value'] not in the model")
    assert "Traceback" not in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out").exists()


def test_auto_compute_dtype_is_bfloat16_only_where_the_cpu_has_it(monkeypatch):
    import torch

    from telugu_llm.loading import Quantization, compute_dtype

    auto = Quantization(load_in_4bit=True, quant_type="nf4", compute_dtype="auto", double_quant=False)
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.setattr(torch.cpu, name, lambda: False, raising=False)
    assert compute_dtype(auto, "cpu") == "float32"  # emulated bfloat16 would be about 50x slower
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True, raising=False)
    assert compute_dtype(auto, "cpu") == "bfloat16"
    fixed = Quantization(load_in_4bit=True, quant_type="nf4", compute_dtype="float16", double_quant=False)
    assert compute_dtype(fixed, "cpu") == "float16"  # what the config says, where it says it


def test_token_nll_is_cross_entropy_per_label_with_ignored_labels_zero():
    import torch

    from telugu_llm.loading import token_nll

    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=generator)
    labels = torch.tensor([[3, -100, 7, 0, 10], [-100, -100, 1, 2, 4]])
    nll = token_nll(logits, labels)
    assert nll.shape == labels.shape
    for row in range(2):
        for position in range(5):
            label = int(labels[row, position])
            expected = 0.0 if label == -100 else float(-torch.log_softmax(logits[row, position], -1)[label])
            assert float(nll[row, position]) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("recipe_name, native, expected", [
    ("corrected", True, "bfloat16"), ("corrected", False, "float16"), ("study", True, "float16")])
def test_the_corrected_recipe_computes_in_bfloat16_where_the_gpu_has_it(monkeypatch, recipe_name, native, expected):
    """Issue 20, defect 5: paper.yaml pins float16 compute for both models (the study's Listings), and
    the corrected recipe trained in it on bfloat16-capable GPUs (pitfall 4: NaN losses with 4-bit
    weights). The study's recipe keeps its float16; the corrected one prefers bfloat16."""
    import telugu_llm.train.run as run

    monkeypatch.setattr(run, "native_bfloat16", lambda device: native)
    chosen = run_quantization(settings("llama", recipe=recipe_name, compute_dtype="float16"), "cuda")
    assert chosen.compute_dtype == expected


def test_a_loss_that_is_not_a_number_stops_the_run_naming_the_step(tiny, tmp_path):
    """Issue 20, defect 5: a NaN loss did not stop a run, which trained on and saved a NaN adapter."""
    from telugu_llm.train.callbacks import NonFiniteLoss

    with pytest.raises(NonFiniteLoss, match=r"^the loss is (nan|inf) at step \d+ \(compute dtype float32\); the run is stopped"):
        train(settings=settings("llama", compute_dtype="float32", recipe_choices={"compute_dtype": "model"},
                                learning_rate=1e25, max_steps=12, logging_steps=1),
              model_dir=tiny["llama"]["model"], tokenizer_dir=tiny["llama"]["tokenizer"],
              prompts_dir=tiny["llama"]["prompts"], out_dir=tmp_path / "out", checkpoint_root=tmp_path / "ckpt")
    assert not (tmp_path / "out" / "adapter").exists()


def test_checkpoints_come_by_the_clock_when_no_step_interval_is_set(monkeypatch):
    """Issue 20, defect 7: save_steps fixed before a run's length is known wrote thousands of saves in
    a 1M-pair run; with save_steps null a checkpoint is due every save_minutes, decided at logging
    steps (by rank 0 under data parallelism)."""
    from types import SimpleNamespace

    import telugu_llm.train.callbacks as callbacks

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])
    saver = callbacks.SaveEvery(minutes=30)
    args, control = SimpleNamespace(logging_steps=5), SimpleNamespace(should_save=False)
    due = []
    for step in range(1, 41):
        clock[0] = step * 60.0  # a step a minute
        control.should_save = False
        saver.on_step_end(args, SimpleNamespace(global_step=step), control)
        if control.should_save:
            due.append(step)
            saver.on_save(args, None, control)
    assert due == [30]  # at the first logging step 30 minutes after the start, then not before minute 60
    votes = []
    follower = callbacks.SaveEvery(minutes=30, decide=lambda mine: votes.append(mine) or True)  # rank 0 says save
    clock[0] = 0.0
    follower.on_step_end(args, SimpleNamespace(global_step=5), control)
    assert votes == [False] and control.should_save  # this rank's clock said no; rank 0's choice wins


def test_an_extended_runs_checkpoint_holds_its_new_rows_not_the_whole_embedding(extended_llama, tmp_path):
    """Issue 20, defect 7: every checkpoint of an extended run saved the whole resized embedding and head
    (peft's save_embedding_layers="auto" on a resized vocabulary): about 1.5 GB at 7B, every save."""
    from safetensors import safe_open

    trainer, tokenizer, _ = prepare(settings=settings("llama", compute_dtype="float32"), model_dir=extended_llama["model"],
                                    tokenizer_dir=extended_llama["tokenizer"], prompts_dir=write_prompts(tmp_path / "p", "llama2_study"),
                                    checkpoint_dir=tmp_path / "ckpt")
    trainer._save(str(tmp_path / "saved"))
    with safe_open(tmp_path / "saved" / "adapter_model.safetensors", "pt") as saved:
        shapes = {key: saved.get_slice(key).get_shape() for key in saved.keys()}
    assert not [k for k, shape in shapes.items() if shape and shape[0] == len(tokenizer)], shapes  # no full matrix
    new = [k for k in shapes if "token_adapter" in k or "trainable_tokens" in k]
    assert new and all(shapes[k][0] == len(tokenizer) - 32000 for k in new)


def test_grouping_by_length_reads_the_length_column_not_every_example(tiny, tmp_path, monkeypatch):
    """Issue 20, defect 3: the trainer measured each example to group by length, reading all of a
    2M-example split before the first step; the tokenized split carries its lengths."""
    import datasets

    trainer, _, _ = prepare(settings=settings("llama", group_by_length=True), model_dir=tiny["llama"]["model"],
                            tokenizer_dir=tiny["llama"]["tokenizer"], prompts_dir=tiny["llama"]["prompts"],
                            checkpoint_dir=tmp_path / "ckpt")

    def no_reading(self, *args, **kwargs):
        raise AssertionError("an example was read to measure its length")

    monkeypatch.setattr(datasets.Dataset, "__iter__", no_reading)
    sampler = trainer._get_train_sampler(trainer._remove_unused_columns(trainer.train_dataset))
    monkeypatch.undo()
    assert list(sampler.lengths) == [len(ids) for ids in trainer.train_dataset["input_ids"]]


def test_examples_seen_are_counted_from_the_sampler_packed_or_not():
    """Issue 21, point 5: with packing the sampler hands out packed rows (here 50 examples in 10
    rows); three epochs over them see every example three times, not 36 "examples" (9 steps x 4
    rows), which read as a run cut short. An epoch's last short batch is not counted as full."""
    from telugu_llm.train.seen import covered, examples_seen

    packed = examples_seen(steps=9, rows=10, examples=50, batch_size=4, accumulation=1, processes=1)
    assert packed == 150 and covered(packed, 50)
    assert examples_seen(steps=21, rows=50, examples=50, batch_size=8, accumulation=1, processes=1) == 150  # not 168
    # max_steps before the end of the first epoch: its share of the rows, so of the examples
    assert examples_seen(steps=1, rows=10, examples=50, batch_size=4, accumulation=1, processes=1) == 20
    # accumulation and processes: 2 processes x 2 rows x 2 accumulated = 8 rows a step; 13 rows are 2 steps an epoch
    assert examples_seen(steps=3, rows=13, examples=13, batch_size=2, accumulation=2, processes=2) == 13 + 8
    assert not covered(examples_seen(steps=1, rows=13, examples=13, batch_size=2, accumulation=2, processes=2), 13)


def test_a_size_contrast_is_budget_limited_only_when_both_runs_stopped_short():
    """Issue 21, point 5: 10k pairs seen twice against 100k with 20k seen is no budget limit on the
    10k run; only where both stopped before covering their own subset is the contrast about which
    examples, not how many."""
    from telugu_llm.report.runs import budget_limited

    row = {"model": "m", "from": "small", "to": "large"}
    assert budget_limited(row, {("m", "small"): (20000, 10000), ("m", "large"): (20000, 100000)}) == ""
    assert budget_limited(row, {("m", "small"): (5000, 10000), ("m", "large"): (100000, 100000)}) == ""
    assert budget_limited(row, {("m", "small"): (5000, 10000), ("m", "large"): (5000, 100000)}) == \
        "budget-limited: 5000 and 5000 examples seen, of 10000 and 100000"


def test_a_model_and_its_twin_keep_the_examples_both_keep(tokenizer_dirs, tmp_path):
    """Issue 21, point 6: one tokenizer spends more tokens on Telugu and drops more examples as too
    long; each side, tokenized with the other as its partner, keeps exactly the examples both keep,
    counts those only its partner dropped (`dropped_by_partner`), and records which (the checkpoint
    fingerprint reads tokenized.json); without a partner nothing changes."""
    from telugu_llm.train.tokenized import tokenize_run

    llama, mistral = (load_tokenizer(tokenizer_dirs[name]) for name in ("llama2", "mistral"))
    prompts = write_prompts(tmp_path / "prompts", "llama2_study", repeat=1)
    table = pq.read_table(prompts / "train.parquet")
    pairs = list(zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist()))
    lengths = {name: [len(tokenize_example(tok, p, c)[0]) for p, c in pairs] for name, tok in (("llama", llama),
                                                                                               ("mistral", mistral))}
    # the largest length that one tokenizer's examples exceed where the other's do not (the premise)
    limit = max(n for n in set(lengths["llama"] + lengths["mistral"])
                if any((a > n) != (b > n) for a, b in zip(lengths["llama"], lengths["mistral"])))
    alone, paired = {}, {}
    for name, tok, other in (("llama", llama, mistral), ("mistral", mistral, llama)):
        for out, partners in ((alone, []), (paired, [other])):
            out[name] = tokenize_run(tok, prompts_dir=prompts, out_dir=tmp_path / f"{name}{len(partners)}",
                                     template="llama2_study", max_length=limit, recipe=recipe(), max_train_examples=None,
                                     max_eval_examples=None, seed=0, partners=partners)
    drops = {name: [recipe_example(*tokenize_example(tok, p, c), recipe=recipe(), eos_id=tok.eos_token_id,
                                   max_length=limit)[2] == "dropped" for p, c in pairs]
             for name, tok in (("llama", llama), ("mistral", mistral))}
    assert drops["llama"] != drops["mistral"]
    both = [not a and not b for a, b in zip(drops["llama"], drops["mistral"])]
    assert sum(both) > 0
    train = {name: paired[name]["splits"]["train"] for name in paired}
    assert train["llama"]["kept"] + train["llama"]["cut"] == train["mistral"]["kept"] + train["mistral"]["cut"] == sum(both)
    for name, other in (("llama", "mistral"), ("mistral", "llama")):
        own = alone[name]["splits"]["train"]
        lost = [k for k, (mine, theirs) in enumerate(zip(drops[name], drops[other])) if theirs and not mine]
        assert train[name]["dropped_by_partner"] == len(lost) == own["kept"] + own["cut"] - sum(both)
        assert train[name]["dropped_too_long"] == own["dropped_too_long"] == sum(drops[name])
        assert train[name]["partner_drops_sha256"] == hashlib.sha256("".join(f"{k}," for k in lost).encode()).hexdigest()
        assert own["dropped_by_partner"] == 0 and alone[name]["partners"] == [] and "partner_drops_sha256" not in own
        assert paired[name]["partners"] == [Path(tokenizer_dirs["mistral" if name == "llama" else "llama2"]).name]
    kept = load_split(tmp_path / "llama1", "train")
    assert [len(row) for row in kept["input_ids"]] == [n for n, b in zip(lengths["llama"], both) if b]
