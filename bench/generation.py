"""Generation-throughput benchmark (issue 5).

On the same prompts (the evaluation sets, formatted with the model's template), the same model
loaded the same way (4-bit NF4 by default, as the evaluation loads it), greedy, the same token
limit, in the same process, alternating:
- plain: `model.generate` one prompt at a time (batch 1), stopping at EOS;
- project: the workflow's evaluation generation (`telugu_llm.evaluation.generation.generate`): batches
  grouped by length, left padding, stopping at EOS and at template markers per row.
Reports generated tokens per second (tokens up to each answer's stop, EOS included) of both and
the ratio, medians over the repeats, and writes bench/out/generation.json.

With --batching, instead: the project's generation batched by rows (`batch_size` rows whatever
their length, as before issue 20) against batched by tokens (`--batch-tokens`), on mixed-length
prompts (every task, Telugu summaries and passages included), alternating; tokens/s medians, the
largest batch in tokens (rows x (width + limit)) and the peak memory of each (CUDA: peak allocated;
CPU: run each alone with --only rows|tokens under /usr/bin/time -v), bench/out/batching.json.

    .venv/bin/python bench/generation.py --random tiny --tokenizer <llama2 tokenizer> --batching \
        --prompts 48 --max-prompt-tokens 1024 --batch-size 16 --batch-tokens 4096

    .venv/bin/python bench/generation.py [--model resources/models/smollm2_135m]
        [--tokenizer resources/tokenizers/smollm2] [--template llama2_study] [--prompts 32]
        [--batch-size 8] [--max-new-tokens 48] [--repeats 3]
    # a 7B-shaped random Llama on a GPU (weights made on the spot, NF4):
    python bench/generation.py --random 7b --tokenizer resources/tokenizers/llama2 --batch-size 16
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "src"))



def default_instructions() -> dict:
    """The instructions of the embedded default (config/schema.yaml's defaults)."""
    import yaml

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text(encoding="utf-8"))
    tasks = schema["properties"]["evaluation"]["properties"]["instructions"]["properties"]
    return {task: spec["default"] for task, spec in tasks.items()}


def default_markers() -> list[str]:
    from telugu_llm.config import with_defaults

    return with_defaults({}, "evaluation")["markers"]


def prompts(tokenizer, template: str, count: int, max_prompt_tokens: int, mixed: bool = False) -> list[list[int]]:
    from telugu_llm.evaluation.sets import build_sets, read_sets
    from telugu_llm.evaluation.generation import encode_prompt
    from telugu_llm.prompts.formats import adds_bos, render

    with tempfile.TemporaryDirectory() as tmp:
        build_sets(out_dir=Path(tmp) / "sets", lang="te", instructions=default_instructions(), max_candidates=None, seed=1,
                   embedded_root=REPO / "data" / "eval", samanantar_dir=None, probes=None, hub=[], hub_max_rows=0)
        items = read_sets(Path(tmp) / "sets").to_pylist()
    if not mixed:
        items = [i for i in items if i["task"] in ("translation", "completion")]  # short prompts, long answers
    out = []
    for item in items:
        text = render(template, [("Human", item["instruction"]), ("Assistant", "")], tokenizer=tokenizer).prompt
        ids = encode_prompt(tokenizer, text, adds_bos(tokenizer))
        if len(ids) <= max_prompt_tokens:
            out.append(ids)
    step = max(1, len(out) // count)
    return out[::step][:count]


def load(args):
    import torch

    from telugu_llm.config import with_defaults
    from telugu_llm.settings import from_dict
    from telugu_llm.loading import Quantization, load_quantized, padded_tokenizer, resolve_device

    device = resolve_device(args.device)
    tokenizer = padded_tokenizer(args.tokenizer, "left")
    model_dir = Path(args.model) if args.model else None
    if args.random:
        from telugu_llm.train.weights import build_model

        model_dir = Path(tempfile.mkdtemp()) / "random"
        build_model("bench", with_defaults({"source": "random", "architecture": "llama", "size": args.random},
                                           "$defs/weights"), model_dir, tokenizer=tokenizer)
    spec = with_defaults({"tokenizer": "bench", "template": args.template,
                          "quantization": {"load_in_4bit": not args.bf16, "compute_dtype": "bfloat16"}}, "$defs/model")
    model = load_quantized(model_dir, from_dict(Quantization, spec["quantization"]), device, "bench").eval()
    torch.manual_seed(0)
    return model, tokenizer, device


def plain(model, tokenizer, batch: list[list[int]], max_new_tokens: int) -> tuple[int, float]:
    """model.generate at batch size 1; tokens up to and including EOS."""
    import torch

    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    tokens, start = 0, time.perf_counter()
    for ids in batch:
        with torch.inference_mode():
            out = model.generate(input_ids=torch.tensor([ids], device=device), max_new_tokens=max_new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=eos)
        new = out[0, len(ids):].tolist()
        tokens += new.index(eos) + 1 if eos in new else len(new)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return tokens, time.perf_counter() - start


def project(model, tokenizer, batch, max_new_tokens: int, batch_size: int, batch_tokens: int = 10**9,
            speed_out: dict | None = None) -> tuple[int, float]:
    """The evaluation's generation; batch_tokens 10**9: batched by rows only."""
    import torch

    from telugu_llm.evaluation.generation import generate

    start = time.perf_counter()
    _, speed = generate(model, tokenizer, batch, max_new_tokens=[max_new_tokens] * len(batch), batch_size=batch_size,
                        batch_tokens=batch_tokens, do_sample=False, temperature=1.0, top_p=1.0, seed=0,
                        markers=default_markers())
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    if speed_out is not None:
        speed_out.update(speed)
    return speed["generated_tokens"], time.perf_counter() - start


def batching(args, model, tokenizer, device) -> None:
    """Rows against tokens (module docstring)."""
    import resource

    import torch

    batch = prompts(tokenizer, args.template, args.prompts, args.max_prompt_tokens, mixed=True)
    budgets = {"rows": 10**9, "tokens": args.batch_tokens}
    names = [args.only] if args.only else ["rows", "tokens"]
    project(model, tokenizer, batch[:2], 4, 2)  # warm-up
    runs = {name: [] for name in names}
    for repeat in range(args.repeats):
        for name in names if repeat % 2 == 0 else names[::-1]:
            if device == "cuda":
                torch.cuda.reset_peak_memory_stats()
            speed: dict = {}
            tokens, seconds = project(model, tokenizer, batch, args.max_new_tokens, args.batch_size, budgets[name], speed)
            peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else None
            runs[name].append({"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds,
                               "batches": speed["batches"], "largest_batch_tokens": speed["largest_batch_tokens"],
                               "peak_cuda_mib": peak})
            print(f"repeat {repeat}: {name:6s} {tokens:6d} tokens in {seconds:7.2f} s = {tokens / seconds:8.1f} tokens/s, "
                  f"{speed['batches']} batches, largest {speed['largest_batch_tokens']} tokens"
                  + (f", peak {peak:.0f} MiB" if peak else ""), flush=True)
    result = {"prompts": len(batch), "prompt_tokens": sorted(map(len, batch)), "max_new_tokens": args.max_new_tokens,
              "batch_size": args.batch_size, "batch_tokens": args.batch_tokens, "device": device,
              "threads": torch.get_num_threads(), "runs": runs,
              "median_tokens_per_second": {n: statistics.median(r["tokens_per_second"] for r in rs) for n, rs in runs.items()},
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"batching{'_' + args.only if args.only else ''}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("median_tokens_per_second", "peak_rss_mib")}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(REPO / "resources" / "models" / "smollm2_135m"))
    parser.add_argument("--random", choices=["tiny", "7b"], help="a random Llama of this size instead of --model")
    parser.add_argument("--tokenizer", default=str(REPO / "resources" / "tokenizers" / "smollm2"))
    parser.add_argument("--template", default="llama2_study")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-prompt-tokens", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads on a CPU (default: torch's)")
    parser.add_argument("--bf16", action="store_true", help="bf16 weights instead of 4-bit NF4")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batching", action="store_true", help="rows against a token budget (module docstring)")
    parser.add_argument("--batch-tokens", type=int, default=8192)
    parser.add_argument("--only", choices=["rows", "tokens"], help="with --batching: one of them (memory per process)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer, device = load(args)
    if args.batching:
        return batching(args, model, tokenizer, device)
    batch = prompts(tokenizer, args.template, args.prompts, args.max_prompt_tokens)
    project(model, tokenizer, batch[: args.batch_size], 4, args.batch_size)  # warm-up of both paths
    plain(model, tokenizer, batch[:1], 4)
    runs = {"plain": [], "project": []}
    for repeat in range(args.repeats):
        for name in ("plain", "project") if repeat % 2 == 0 else ("project", "plain"):
            tokens, seconds = (plain(model, tokenizer, batch, args.max_new_tokens) if name == "plain"
                               else project(model, tokenizer, batch, args.max_new_tokens, args.batch_size))
            runs[name].append({"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds})
            print(f"repeat {repeat}: {name:8s} {tokens:6d} tokens in {seconds:7.2f} s = {tokens / seconds:8.1f} tokens/s",
                  flush=True)
    median = {name: statistics.median(r["tokens_per_second"] for r in rs) for name, rs in runs.items()}
    result = {
        "prompts": len(batch), "prompt_tokens_mean": sum(map(len, batch)) / len(batch),
        "max_new_tokens": args.max_new_tokens, "batch_size": args.batch_size,
        "weights": "bf16" if args.bf16 else "nf4", "model": args.random and f"random {args.random}" or args.model,
        "device": device, "device_name": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(), "runs": runs, "median_tokens_per_second": median,
        "ratio": median["project"] / median["plain"],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "generation.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"plain batch 1: {median['plain']:.1f} tokens/s; project batch {args.batch_size}: {median['project']:.1f} "
          f"tokens/s; ratio {result['ratio']:.2f} ({result['device_name']}, {result['threads']} threads, {result['weights']})")


if __name__ == "__main__":
    main()
