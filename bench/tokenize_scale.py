"""The tokenization of a training run at the study's size (issue 20, defect 3), measured.

Builds the formatted training examples of a 1M-pair subset (2M examples, both directions, the
study's Llama-2 template), recombined from the embedded Samanantar sample's sentences so that lengths
are Samanantar-like, and runs the workflow's `tokenize_run` job function on them with the real
Llama-2 tokenizer in a child process under `/usr/bin/time -v`: wall time and peak resident memory.
The baseline is what training did before, in its own process on the same file: every example
tokenized into Python lists held at once (`tokenize_example` per example), measured on a slice
(`--baseline-rows`, default 200,000) and scaled, since at 2M it needs tens of GB.

    python bench/tokenize_scale.py [--pairs 1000000] [--baseline-rows 200000]

Writes bench/out/tokenize_scale.json and prints a table last.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "tokenize_scale"
sys.path.insert(0, str(REPO / "src"))


def build_prompts(pairs: int, out_dir: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from telugu_llm.prompts.formats import render

    en_lines = (REPO / "data/samanantar/en-te/train.en").read_text(encoding="utf-8").splitlines()
    te_lines = (REPO / "data/samanantar/en-te/train.te").read_text(encoding="utf-8").splitlines()
    rng = random.Random(0)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "train.parquet"
    writer = None
    chunk = 100_000
    for start in range(0, pairs, chunk):
        rows = {"source_id": [], "prompt": [], "completion": []}
        for direction in ("en-te", "te-en"):  # as format_prompts writes a shard: one direction, then the other
            for n in range(start, min(pairs, start + chunk)):
                i = rng.randrange(len(en_lines))
                en, te = en_lines[i], te_lines[i]
                src, tgt = (en, te) if direction == "en-te" else (te, en)
                r = render("llama2_study", [("Human", f"Translate the following sentence:\n{src}"), ("Assistant", tgt)])
                rows["source_id"].append(f"p{n}")
                rows["prompt"].append(r.prompt)
                rows["completion"].append(r.completion)
        table = pa.table(rows)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=50_000)
    writer.close()
    pq.write_table(pq.read_table(path).slice(0, 20_000), out_dir / "validation.parquet")
    return out_dir


JOB = """
import sys, json, time
sys.path.insert(0, {src!r})
from pathlib import Path
from telugu_llm.loading import load_tokenizer
from telugu_llm.train.tokenized import LengthRecipe, tokenize_run
start = time.perf_counter()
record = tokenize_run(load_tokenizer({tokenizer!r}), prompts_dir=Path({prompts!r}), out_dir=Path({out!r}),
                      template="llama2_study", max_length=1024,
                      recipe=LengthRecipe("corrected", "completion", "distinct", "drop", True),
                      max_train_examples=None, max_eval_examples=1000, seed=1234)
print(json.dumps({{"seconds": time.perf_counter() - start, "splits": record["splits"]}}))
"""

BASELINE = """
import sys, json, time
sys.path.insert(0, {src!r})
import pyarrow.parquet as pq
from telugu_llm.loading import load_tokenizer
from telugu_llm.prompts.formats import tokenize_example
tokenizer = load_tokenizer({tokenizer!r})
table = pq.read_table({parquet!r}, columns=["prompt", "completion"]).slice(0, {rows})
start = time.perf_counter()
examples = [dict(zip(("input_ids", "labels"), tokenize_example(tokenizer, p, c)))
            for p, c in zip(table.column("prompt").to_pylist(), table.column("completion").to_pylist())]
print(json.dumps({{"seconds": time.perf_counter() - start, "examples": len(examples)}}))
"""


def llama2_tokenizer(dest: Path) -> Path:
    import yaml

    from telugu_llm.config import with_defaults
    from telugu_llm.tokens.tokenizer import build_tokenizer

    if not dest.exists():
        spec = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]["llama2"]
        build_tokenizer("llama2", with_defaults(spec, "$defs/tokenizer"), dest)
    return dest


def timed(code: str) -> dict:
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", proc.stderr).group(1)
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "peak_rss_mib": peak / 1024, "wall": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=200_000)
    parser.add_argument("--tokenizer", help="Llama-2's tokenizer folder (default: retrieved and verified as the workflow does)")
    args = parser.parse_args()
    if args.tokenizer is None:
        args.tokenizer = str(llama2_tokenizer(OUT / "llama2"))
    t0 = time.perf_counter()
    prompts = build_prompts(args.pairs, OUT / "prompts")
    print(f"built {2 * args.pairs:,} examples in {time.perf_counter() - t0:.0f} s", flush=True)
    job = timed(JOB.format(src=str(REPO / "src"), tokenizer=args.tokenizer, prompts=str(prompts), out=str(OUT / "tokenized")))
    base = timed(BASELINE.format(src=str(REPO / "src"), tokenizer=args.tokenizer, parquet=str(prompts / "train.parquet"),
                                 rows=args.baseline_rows))
    scale = 2 * args.pairs / base["examples"]
    result = {"examples": 2 * args.pairs, "tokenize_run": job, "baseline": base,
              "baseline_scaled": {"seconds": base["seconds"] * scale, "peak_rss_mib_at_slice": base["peak_rss_mib"]}}
    (OUT / "tokenize_scale.json").write_text(json.dumps(result, indent=2))
    train = job["splits"]["train"]
    print(f"\n| path | examples | tokens | wall | peak RSS MiB |\n|---|---|---|---|---|")
    print(f"| tokenize_run job (batched, streamed, int32 Arrow) | {train['kept']:,} | {train['tokens']:,} | {job['wall']} "
          f"| {job['peak_rss_mib']:,.0f} |")
    print(f"| before: Python lists in the training job, {base['examples']:,} rows | {base['examples']:,} | | {base['wall']} "
          f"| {base['peak_rss_mib']:,.0f} (x{scale:.0f} rows at full size) |")


if __name__ == "__main__":
    main()
