"""Fertility benchmark (issue 3).

The analysis of 200,000 English–Telugu sentence pairs with both default tokenizers (Llama-2's and
Mistral's), against bare `tokenizers` batch encoding of the same texts with the same passes (each
sentence, batched; and the joined pass of the Petrov et al. protocol), alternating, in one run.
Both sides include loading the tokenizer. Prints the medians and the overhead of the analysis, and
writes bench/out/fertility.json.

    .venv/bin/python bench/fertility.py [--pairs 200000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

import yaml  # noqa: E402
from data_prep import write_corpus  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

from telugu_llm import loading  # noqa: E402
from telugu_llm.config import with_defaults  # noqa: E402
from telugu_llm.tokens import tokenizer as tokenizer_resources  # noqa: E402
from telugu_llm.tokens.fertility import analyse_tokenizer  # noqa: E402
from telugu_llm.tokens.tokenizer import build_tokenizer  # noqa: E402

BATCH = 10_000


def bare(tokenizer_json: Path, sides: list[list[str]]) -> int:
    tok = Tokenizer.from_file(str(tokenizer_json))
    total = 0
    for lines in sides:
        for i in range(0, len(lines), BATCH):
            total += sum(len(e) for e in tok.encode_batch(lines[i:i + BATCH], add_special_tokens=False))
        total += len(tok.encode(" ".join(lines), add_special_tokens=False))
    return total


def ours(name: str, directory: Path, src: list[str], tgt: list[str]) -> list[dict]:
    loading.load_tokenizer.cache_clear()
    tokenizer_resources.vocabulary_facts.cache_clear()
    rows, _, _ = analyse_tokenizer(name=name, resource_dir=str(directory), batch_size=BATCH,
                                   corpora=[{"name": "bench", "lang": "te", "src": src, "tgt": tgt}])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(OUT / "corpus-fertility", args.pairs, seed=1)
    src = (corpus / "en-te" / "train.en").read_text(encoding="utf-8").splitlines()
    tgt = (corpus / "en-te" / "train.te").read_text(encoding="utf-8").splitlines()
    specs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]
    dirs = {}
    for name in ("llama2", "mistral"):
        dirs[name] = OUT / "tokenizers" / name
        if not dirs[name].exists():
            build_tokenizer(name, with_defaults(specs[name], "$defs/tokenizer"), dirs[name])
    print(f"{args.pairs:,} pairs; tokenizers: {', '.join(dirs)}", flush=True)

    times: dict[str, dict[str, list[float]]] = {n: {"bare": [], "analysis": []} for n in dirs}
    rows = {}
    for repeat in range(args.repeats):
        for name, directory in dirs.items():
            t = time.perf_counter()
            bare(directory / "tokenizer.json", [src, tgt])
            times[name]["bare"].append(time.perf_counter() - t)
            t = time.perf_counter()
            rows[name] = ours(name, directory, src, tgt)
            times[name]["analysis"].append(time.perf_counter() - t)
            print(f"repeat {repeat + 1} {name}: bare {times[name]['bare'][-1]:.2f} s, analysis {times[name]['analysis'][-1]:.2f} s",
                  flush=True)

    med = {n: {k: statistics.median(v) for k, v in t.items()} for n, t in times.items()}
    total_bare = sum(m["bare"] for m in med.values())
    total_ours = sum(m["analysis"] for m in med.values())
    result = {"pairs": args.pairs, "repeats": args.repeats, "median_s": med,
              "total": {"bare": round(total_bare, 3), "analysis": round(total_ours, 3)},
              "overhead": round(total_ours / total_bare - 1, 4), "goal_overhead_at_most": 0.25,
              "te_premium": {n: r[1]["premium"] for n, r in rows.items()}}
    (OUT / "fertility.json").write_text(json.dumps(result, indent=2))
    print(f"\n{'':22}{'bare tokenizers s':>18}{'analysis s':>12}{'overhead':>10}")
    for name, m in med.items():
        print(f"{name:22}{m['bare']:18.2f}{m['analysis']:12.2f}{100 * (m['analysis'] / m['bare'] - 1):9.1f}%")
    print(f"{'both':22}{total_bare:18.2f}{total_ours:12.2f}{100 * result['overhead']:9.1f}%   goal <= 25 %")


if __name__ == "__main__":
    main()
