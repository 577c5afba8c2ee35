"""Peak host memory of the study's two heaviest jobs at the real 7B shapes, measured on this CPU
(issue 20: "no job of the study peaks above 16 GiB"):

- model_weights: `train/weights.py: build_model` loads a checkpoint stored as the hub stores
  Llama-2-7b-chat-hf and Mistral-7B-Instruct-v0.1 (fp16/bf16 safetensors in two shards of up to
  10 GB, with an index; the real config.json of tests/hub_replicas.py, unshrunk) and saves it again;
- train_run: `train/run.py: prepare` + one optimizer step of the study's recipe (4-bit NF4 weights,
  LoRA of paper.yaml, gradient checkpointing) on this CPU. On a GPU the 4-bit weights (about 3.9 GB)
  live on the device, so this CPU figure bounds the GPU job's host memory from above, save the CUDA
  runtime's own host memory (measure it there: bench/training.py prints it).

The checkpoints hold seeded random weights (N(0, 0.02)), written tensor by tensor (the writer holds
one tensor at a time) into a cache folder that is reused; about 14 GB of disk each.

    .venv/bin/python bench/host_memory_7b.py --arch llama mistral --tokenizer DIR --prompts DIR
        [--cache /tmp/telugu-llm-7b] [--jobs weights,train] [--max-length 64]

Each job runs in a fresh process, its memory sampled from /proc (the peak resident set, as /usr/bin/time
reports it, and the peak of anonymous memory, which the mapped checkpoint's pages do not count in);
results: bench/out/host_memory_7b.json.

`--limit-gib 16` runs each job in a memory cgroup of its own limited to that (as Slurm's cgroup
plugin limits a job to its `mem_mb`; cgroup v1 or v2, where this user may create one): the kernel
then reclaims the mapped checkpoint's clean pages instead of letting the resident set grow past the
limit, and the OOM killer ends the job if its memory cannot be reclaimed. The row records the
limit, whether the OOM killer fired, and the cgroup's peak charge. `--timeout S` stops a job after
S seconds (a 7B training step on 2 CPU cores takes longer than its load) and records how far it got.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
from hub_replicas import LLAMA2_CONFIG, MISTRAL_CONFIG  # noqa: E402

CONFIGS = {"llama": LLAMA2_CONFIG, "mistral": MISTRAL_CONFIG}
PAPER_MODEL = {"llama": "llama2_7b_chat", "mistral": "mistral_7b_instruct"}
SHARD_BYTES = 10 * 10**9  # the hub's 10 GB shards of both checkpoints
GIB = 2**30

WEIGHTS = r"""
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from telugu_llm.train.weights import build_model
meta = build_model("m", {"source": "local", "path": sys.argv[1], "format": "safetensors", "architecture": sys.argv[3]}, Path(sys.argv[2]))
print("PARAMS", meta["parameters"])
"""

TRAIN = r"""
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import yaml
from telugu_llm.config import with_defaults, shipped_recipe
from telugu_llm.train.run import prepare
from telugu_llm.train.settings import run_settings
args = json.loads(sys.argv[2])
spec = yaml.safe_load(Path(args["paper"]).read_text())["models"][args["model"]]
spec = {**spec, "max_length": args["max_length"],
        "training": {**spec["training"], "max_steps": 1, "batch_size": 1, "eval_batch_size": 1, "max_eval_examples": 2,
                     "max_train_examples": 8, "eval_steps": None, "logging_steps": 1, "save_steps": 10_000}}
filled = with_defaults(spec, "$defs/model")
settings = run_settings(args["model"], "samanantar", filled, device="cpu", recipe=shipped_recipe(args["recipe"]),
                        subset="rehearsal", seed=1)
start = time.perf_counter()
trainer, _, _ = prepare(settings=settings, model_dir=Path(args["weights"]), tokenizer_dir=Path(args["tokenizer"]),
                        prompts_dir=Path(args["prompts"]), checkpoint_dir=Path(args["checkpoints"]))
loaded = time.perf_counter()
print("LOADED", round(loaded - start, 1), flush=True)
trainer.args.eval_strategy = "no"
trainer.args.eval_on_start = False
trainer.args.save_strategy = "no"
trainer.train()
print("TIMES", json.dumps({"load_s": round(loaded - start, 1), "step_s": round(time.perf_counter() - loaded, 1)}))
"""


def write_checkpoint(arch: str, folder: Path, seed: int = 0) -> int:
    """A checkpoint of the real config, seeded random weights in the config's dtype, written as the
    hub shards it (two files of up to 10 GB and model.safetensors.index.json); returns its bytes."""
    import torch
    import transformers

    config = transformers.AutoConfig.for_model(**{k: v for k, v in CONFIGS[arch].items() if k != "model_type"},
                                               model_type=CONFIGS[arch]["model_type"])
    with torch.device("meta"):
        model = transformers.AutoModelForCausalLM.from_config(config)
    dtype = {"float16": (torch.float16, "F16"), "bfloat16": (torch.bfloat16, "BF16")}[CONFIGS[arch]["torch_dtype"]]
    tensors = [(name, tuple(p.shape)) for name, p in model.state_dict().items()]
    shards, current, size = [], [], 0
    for name, shape in tensors:
        nbytes = 2 * int(torch.Size(shape).numel())
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    shards.append(current)
    folder.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards, 1):
        file = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in shard:
            nbytes = 2 * int(torch.Size(shape).numel())
            header[name] = {"dtype": dtype[1], "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = file
        raw = json.dumps(header).encode()
        raw += b" " * (-len(raw) % 8)
        partial = folder / f".{file}.part"
        with open(partial, "wb") as out:
            out.write(struct.pack("<Q", len(raw)) + raw)
            for name, shape in shard:
                values = (torch.ones(shape) if "norm" in name else torch.randn(shape, generator=generator) * 0.02)
                out.write(values.to(dtype[0]).view(torch.int16).numpy().tobytes())
        partial.rename(folder / file)
        total += offset
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                     "weight_map": weight_map}, indent=1))
    config.save_pretrained(folder)
    return total


def _status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/<pid>/status (RssAnon, RssFile, VmHWM, ...); empty once it has exited."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in text.splitlines())
            if v.strip().endswith("kB")}


class MemoryCgroup:
    """A memory cgroup of its own with a limit (v2 under the unified hierarchy, else v1), which a
    child process joins before it starts; its OOM kills and peak charge read after the child exits."""

    def __init__(self, limit_bytes: int):
        name = f"telugu-llm-bench-{os.getpid()}-{time.monotonic_ns()}"
        v2 = Path("/sys/fs/cgroup/cgroup.controllers")
        unified = Path("/sys/fs/cgroup/unified")
        if v2.is_file() and "memory" in v2.read_text():
            self.path, self.v2 = Path("/sys/fs/cgroup") / name, True
        elif (unified / "cgroup.controllers").is_file() and "memory" in (unified / "cgroup.controllers").read_text():
            self.path, self.v2 = unified / name, True
        else:
            self.path, self.v2 = Path("/sys/fs/cgroup/memory") / name, False
        try:
            self.path.mkdir()
            (self.path / ("memory.max" if self.v2 else "memory.limit_in_bytes")).write_text(str(limit_bytes))
            if self.v2:
                (self.path / "memory.swap.max").write_text("0")
        except OSError as exc:
            raise SystemExit(f"--limit-gib: cannot make a memory cgroup at {self.path} ({exc}); run where this "
                             "user may create one (root in a container, or a systemd user slice)") from None
        self.limit = limit_bytes

    def join(self) -> None:  # in the child, before exec
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def report(self) -> dict:
        if self.v2:
            events = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
            peak_file = self.path / "memory.peak"
            peak = int(peak_file.read_text()) if peak_file.is_file() else None
            oom = int(events.get("oom_kill", 0))
        else:
            control = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
            peak = int((self.path / "memory.max_usage_in_bytes").read_text())
            oom = int(control.get("oom_kill", 0))
        return {"limit_gib": round(self.limit / GIB, 2), "oom_kills": oom,
                "cgroup_peak_gib": None if peak is None else round(peak / GIB, 2)}

    def remove(self) -> None:
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.1)


def measured(command: list[str], log: Path, limit_gib: float | None = None, timeout: float | None = None) -> dict:
    """Run `command`, sampling its memory every 0.2 s: the peak resident set (VmHWM, as /usr/bin/time
    reports it) counts the pages of the memory-mapped checkpoint, which the kernel can drop and reread
    (file-backed, clean); the peak of anonymous memory (RssAnon) is what the job cannot give back,
    the part a cluster's memory limit must hold. With `limit_gib`, in a memory cgroup of that limit;
    with `timeout`, stopped after that many seconds (recorded, not a failure)."""
    cgroup = MemoryCgroup(int(limit_gib * GIB)) if limit_gib else None
    start = time.perf_counter()
    stopped = False
    try:
        with open(log, "w") as out:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=out, text=True,
                                    preexec_fn=cgroup.join if cgroup else None)
            peak = {"RssAnon": 0, "VmHWM": 0, "RssFile": 0}
            while proc.poll() is None:
                status = _status(proc.pid)
                for key in peak:
                    peak[key] = max(peak[key], status.get(key, 0))
                if timeout and time.perf_counter() - start > timeout:
                    proc.terminate()
                    proc.wait()
                    stopped = True
                    break
                time.sleep(0.2)
            stdout = proc.stdout.read()
            out.write(stdout)
        wall = time.perf_counter() - start
        limited = cgroup.report() if cgroup else {}
    finally:
        if cgroup:
            cgroup.remove()
    if proc.returncode != 0 and not stopped:
        raise SystemExit(f"{command[:3]} failed (exit {proc.returncode}, {limited}; log {log}):\n{log.read_text()[-3000:]}")
    times = re.search(r"TIMES (\{.*\})", stdout)
    loaded = re.search(r"LOADED ([0-9.]+)", stdout)
    return {"peak_rss_gib": round(peak["VmHWM"] / 2**20, 2), "peak_anon_gib": round(peak["RssAnon"] / 2**20, 2),
            "peak_file_gib": round(peak["RssFile"] / 2**20, 2), "wall_s": round(wall, 1),
            **({"stopped_after_s": timeout, "loaded_s": float(loaded.group(1)) if loaded else None} if stopped else {}),
            **limited, **(json.loads(times.group(1)) if times else {})}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", nargs="+", choices=sorted(CONFIGS), default=["llama", "mistral"])
    ap.add_argument("--cache", type=Path, default=Path("/tmp/telugu-llm-7b"))
    ap.add_argument("--jobs", default="weights,train")
    ap.add_argument("--tokenizer", type=Path, help="the model's tokenizer folder (resources/tokenizers/<name>)")
    ap.add_argument("--prompts", type=Path, help="a prompts folder of the model's template (results/prompts/<template>/samanantar/<subset>)")
    ap.add_argument("--recipe", default="study")
    ap.add_argument("--max-length", type=int, default=64, help="tokens per example (one step at 7B on 2 cores takes minutes)")
    ap.add_argument("--limit-gib", type=float, help="run each job in a memory cgroup of this limit (Slurm's, for mem_mb)")
    ap.add_argument("--timeout", type=float, help="stop a job after this many seconds, recording how far it got")
    ap.add_argument("--out", type=Path, default=OUT / "host_memory_7b.json")
    args = ap.parse_args()
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for arch in args.arch:
        folder = args.cache / arch
        if not (folder / "model.safetensors.index.json").exists():
            start = time.perf_counter()
            size = write_checkpoint(arch, folder)
            print(f"{arch}: wrote {size / 1e9:.2f} GB in {time.perf_counter() - start:.0f} s", flush=True)
        row = results.setdefault(arch, {})
        row["stored_gb"] = round(sum(p.stat().st_size for p in folder.glob("*.safetensors")) / 1e9, 2)
        row["shards"] = len(list(folder.glob("*.safetensors")))
        if "weights" in args.jobs.split(","):
            out = args.cache / f"{arch}-resaved"
            if out.exists():
                shutil.rmtree(out)
            key = "model_weights" + (f"_limit_{args.limit_gib:g}gib" if args.limit_gib else "")
            row[key] = measured([sys.executable, "-c", WEIGHTS, str(folder), str(out), arch, str(REPO / "src")],
                                args.cache / f"{arch}-weights.log", args.limit_gib, args.timeout)
            shutil.rmtree(out)  # 14 GB of disk
            print(f"{arch}: {key} {row[key]}", flush=True)
        if "train" in args.jobs.split(","):
            settings = {"paper": str(REPO / "config" / "paper.yaml"), "model": PAPER_MODEL[arch], "recipe": args.recipe,
                        "max_length": args.max_length, "weights": str(folder), "tokenizer": str(args.tokenizer),
                        "prompts": str(args.prompts), "checkpoints": str(args.cache / f"{arch}-ckpt")}
            key = "train_run" + (f"_limit_{args.limit_gib:g}gib" if args.limit_gib else "")
            row[key] = {**measured([sys.executable, "-c", TRAIN, str(REPO / "src"), json.dumps(settings)],
                                   args.cache / f"{arch}-train.log", args.limit_gib, args.timeout),
                        "recipe": args.recipe, "max_length": args.max_length, "device": "cpu"}
            print(f"{arch}: {key} {row[key]}", flush=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print("| model | stored GB | job | peak RSS GiB | peak anonymous GiB | wall s |")
    print("|---|---|---|---|---|---|")
    for arch, row in results.items():
        for job in [k for k in row if k.startswith(("model_weights", "train_run"))]:
            if job in row:
                print(f"| {arch} | {row.get('stored_gb')} | {job} | {row[job].get('peak_rss_gib')} | "
                      f"{row[job].get('peak_anon_gib', '')} | {row[job].get('wall_s')} |")


if __name__ == "__main__":
    main()
