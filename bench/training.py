"""Training-throughput benchmark (issue 4).

On the same formatted Samanantar data and the same model, alternating, each run in its own process:
- stock: trl's SFTTrainer as tutorials use it with the study's Listing 4 settings (4-bit NF4 with
  float16 compute, LoRA r=64/alpha=16/dropout 0.1 on q,v, batch 4, gradient checkpointing, paged
  AdamW 32-bit (plain AdamW on a CPU), lr 2e-4 cosine, warmup 3 %, group by length, max grad norm
  0.3), padding per batch, no packing; the dataset as prompt/completion text, tokenized by trl;
- project: the workflow's training path (`telugu_llm.train.run.prepare`) with the embedded
  default's settings for the same model;
- extended (issue 15): the project path with the model's tokenizer extended with Telugu pieces
  (the vocabulary stage's `--extended-tokenizer`, e.g. resources/tokenizers/smollm2_te400): the same
  examples, fewer tokens each, the new embedding rows trained with the adapter.
Prints non-padding tokens/s and examples/s over the timed steps (after warm-up) and peak resident
memory (peak GPU memory on a GPU) of each, the ratios project/stock (tokens/s) and extended/project
(examples/s), and writes bench/out/training.json.

    .venv/bin/python bench/training.py [--model resources/models/smollm2_135m]
        [--tokenizer resources/tokenizers/smollm2] [--prompts results/prompts/llama2_study/samanantar/200]
        [--steps 6] [--warmup 2] [--repeats 2] [--paths stock,project,extended]
        [--extended-tokenizer resources/tokenizers/smollm2_te400]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "src"))


class Timer:
    """Times optimizer steps after the warm-up ones and counts their non-padding tokens."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.tokens0 = warmup, None, 0
        self.seconds = self.tokens = 0.0

    def callback(self):
        import transformers

        timer = self

        class _Callback(transformers.TrainerCallback):
            def on_step_begin(self, args, state, control, **kw):
                if state.global_step >= timer.warmup:
                    timer.start, timer.tokens0 = time.perf_counter(), state.num_input_tokens_seen

            def on_step_end(self, args, state, control, **kw):
                if timer.start is not None:
                    timer.seconds += time.perf_counter() - timer.start
                    timer.tokens += state.num_input_tokens_seen - timer.tokens0
                    timer.start = None

        return _Callback()


def run_stock(args) -> dict:
    import pyarrow.parquet as pq
    import torch
    import transformers
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from telugu_llm.loading import disable_avx512bf16_repacking

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.tokenizer)
    tokenizer.pad_token = tokenizer.unk_token if tokenizer.unk_token_id != tokenizer.eos_token_id else tokenizer.pad_token
    table = pq.read_table(Path(args.prompts) / "train.parquet", columns=["prompt", "completion"])
    dataset = Dataset.from_dict({"prompt": table.column("prompt").to_pylist(), "completion": table.column("completion").to_pylist()})
    bnb = transformers.BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.float16,
                                          bnb_4bit_use_double_quant=False)
    model = transformers.AutoModelForCausalLM.from_pretrained(args.model, quantization_config=bnb,
                                                              device_map={"": 0} if device == "cuda" else {"": "cpu"})
    disable_avx512bf16_repacking(model)  # without it the CPU run would not train at all (pitfall 5)
    config = SFTConfig(output_dir=str(OUT / "stock-ckpt"), per_device_train_batch_size=4, gradient_accumulation_steps=1,
                       gradient_checkpointing=True, max_grad_norm=0.3, learning_rate=2e-4, weight_decay=0.001,
                       optim="paged_adamw_32bit" if device == "cuda" else "adamw_torch", lr_scheduler_type="cosine",
                       warmup_steps=0.03, train_sampling_strategy="group_by_length", max_steps=args.warmup + args.steps,
                       fp16=device == "cuda", bf16=False, packing=False, max_length=args.max_length, logging_steps=1000,
                       save_strategy="no", report_to="none", include_num_input_tokens_seen="non_padding", use_cpu=device == "cpu",
                       disable_tqdm=True, seed=42)
    lora = LoraConfig(r=64, lora_alpha=16, lora_dropout=0.1, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer, peft_config=lora)
    return timed(trainer, args, device)


def run_project(args) -> dict:
    import torch
    import yaml

    from telugu_llm.config import with_defaults
    from telugu_llm.train.run import prepare
    from telugu_llm.config import shipped_recipe
    from telugu_llm.train.settings import run_settings

    device = "cuda" if torch.cuda.is_available() else "cpu"
    spec = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["models"][args.config_model]
    spec = {**spec, "training": {**spec["training"], "max_steps": args.warmup + args.steps, "max_eval_examples": None,
                                 "eval_steps": None, "logging_steps": 1000, "save_steps": 10_000}}
    filled = with_defaults(spec, "$defs/model")
    settings = run_settings(args.config_model, "samanantar", filled, device=device, recipe=shipped_recipe("corrected"),
                            subset="200", seed=filled["training"]["seed"])
    settings.max_length = args.max_length
    tokenizer = args.extended_tokenizer if args.path == "extended" else args.tokenizer
    trainer, _, _ = prepare(settings=settings, model_dir=Path(args.model), tokenizer_dir=Path(tokenizer),
                            prompts_dir=Path(args.prompts), checkpoint_dir=OUT / f"{args.path}-ckpt")  # tokenized per path
    trainer.args.eval_strategy = "no"
    trainer.args.eval_on_start = False
    trainer.args.save_strategy = "no"
    return timed(trainer, args, device)


def timed(trainer, args, device: str) -> dict:
    import torch

    timer = Timer(args.warmup)
    trainer.add_callback(timer.callback())
    trainer.train()
    peak = torch.cuda.max_memory_allocated() if device == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    batch = trainer.args.per_device_train_batch_size * trainer.args.gradient_accumulation_steps
    return {"tokens_per_second": timer.tokens / timer.seconds, "examples_per_second": args.steps * batch / timer.seconds,
            "timed_steps": args.steps, "seconds": timer.seconds,
            "tokens": timer.tokens, "peak_memory_bytes": peak, "device": device, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "resources" / "models" / "smollm2_135m"))
    parser.add_argument("--config-model", default="smollm2_135m")
    parser.add_argument("--tokenizer", default=str(REPO / "resources" / "tokenizers" / "smollm2"))
    parser.add_argument("--prompts", default=str(REPO / "results" / "prompts" / "llama2_study" / "samanantar" / "200"))
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds a run may take; a run that takes longer is reported as not finished")
    parser.add_argument("--extended-tokenizer", default=str(REPO / "resources" / "tokenizers" / "smollm2_te400"))
    parser.add_argument("--paths", default="stock,project,extended", help="the paths measured, in this order")
    parser.add_argument("--path", choices=["stock", "project", "extended"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.path:  # one measured run, in this process
        result = run_stock(args) if args.path == "stock" else run_project(args)
        print("RESULT " + json.dumps(result))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    paths = args.paths.split(",")
    runs: dict[str, list[dict]] = {path: [] for path in paths}
    for repeat in range(args.repeats):
        for path in paths:
            cmd = [sys.executable, __file__, "--path", path] + sys.argv[1:]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ), timeout=args.timeout)
            except subprocess.TimeoutExpired:
                runs[path].append({"tokens_per_second": None, "peak_memory_bytes": None, "device": "?", "threads": "?",
                                   "timed_out_after_s": args.timeout})
                print(f"repeat {repeat + 1} {path}: did not finish {args.warmup + args.steps} steps in {args.timeout:.0f} s",
                      flush=True)
                continue
            line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
            if proc.returncode or not line:
                raise SystemExit(f"{path} failed:\n{proc.stderr[-3000:]}")
            runs[path].append(json.loads(line[0][7:]))
            r = runs[path][-1]
            print(f"repeat {repeat + 1} {path}: {r['tokens_per_second']:.1f} tokens/s, "
                  f"{r['examples_per_second']:.3f} examples/s, {r['peak_memory_bytes'] / 2**30:.2f} GiB", flush=True)

    def summary(rs):
        done = [r for r in rs if r["tokens_per_second"] is not None]
        if not done:
            return {"tokens_per_second": None, "examples_per_second": None, "peak_memory_gib": None, "device": "?", "threads": "?",
                    "timed_out_after_s": rs[0]["timed_out_after_s"]}
        return {"tokens_per_second": statistics.median(r["tokens_per_second"] for r in done),
                "examples_per_second": statistics.median(r["examples_per_second"] for r in done),
                "peak_memory_gib": max(r["peak_memory_bytes"] for r in done) / 2**30, "device": done[0]["device"],
                "threads": done[0]["threads"]}

    med = {p: summary(rs) for p, rs in runs.items()}

    def ratio(a: str, b: str, measure: str):
        if a not in med or b not in med or not med[a][measure] or not med[b][measure]:
            return None
        return round(med[a][measure] / med[b][measure], 3)

    ratios = {"project/stock tokens/s": ratio("project", "stock", "tokens_per_second"),
              "extended/project examples/s": ratio("extended", "project", "examples_per_second")}
    result = {"model": args.model, "prompts": args.prompts, "extended_tokenizer": args.extended_tokenizer,
              "steps": args.steps, "warmup": args.warmup, "repeats": args.repeats, "median": med, "ratios": ratios}
    (OUT / "training.json").write_text(json.dumps(result, indent=2))
    print(f"\n{'':10}{'non-padding tokens/s':>22}{'examples/s':>12}{'peak GiB':>10}   device")
    for p, m in med.items():
        if m["tokens_per_second"] is None:
            print(f"{p:10}{'did not finish':>22}{'':22}   in {m['timed_out_after_s']:.0f} s")
        else:
            print(f"{p:10}{m['tokens_per_second']:22.1f}{m['examples_per_second']:12.3f}{m['peak_memory_gib']:10.2f}   "
                  f"{m['device']} ({m['threads']} threads)")
    for name, goal in (("project/stock tokens/s", ">= 1.00 on a CPU"), ("extended/project examples/s", ">= 2.00")):
        print(f"{name:30}{(f'{ratios[name]:.2f}' if ratios[name] else 'n/a'):>8}   goal: {goal}")

if __name__ == "__main__":
    main()
