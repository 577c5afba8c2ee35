"""Adaptation benchmark (issue 23): SmolLM2 extended with Telugu pieces and adapted on a Telugu text,
against the same adaptation of SmolLM2 with its own tokenizer (the same text, English replay and
settings, as many rows of tokens under adapt.budget: tokens: the baseline, in the same run), and both
against the untouched model, on the held-out Samanantar sample (the embedded test split, never
learned from or trained on).

It runs the workflow itself, in a copy under --work, with the vocabulary and the adaptation learned
from `--text` (default: bench/out/te_strings.txt, the 10,188 Telugu lines of three Debian packages
that bench/telugu_strings.py writes) and English replay from `--replay-text` (default:
bench/out/en_strings.txt, the same packages' English originals) at `--replay-share` of the base's
tokens, up to the `adapt` target; then prints and writes (bench/out/adapt.json) the comparison rows:
bits per character (te, en) with paired intervals, generated characters per second on the same
prompts, training sentences per second.

    .venv/bin/python bench/adapt.py [--text FILE] [--pieces 400] [--sentences 10188] [--model smollm2_135m]
        [--measure-sentences 35] [--prompts 8] [--chars 64] [--inits mean overlap] [--replay-share 0.25]
        [--cores 2]

On a 2-core CPU an adaptation step of 8 rows of 64 tokens takes about 1 s: 3,000 lines with a
quarter of English are about 1,000 steps per system, 33 min in all with `--inits mean`; `--sentences`
takes the text's first N lines.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "tests"))

from conftest import copy_workflow  # noqa: E402
from telugu_llm.evaluation.adaptation import adaptation_rows, read_items  # noqa: E402



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text", default=str(OUT / "te_strings.txt"))
    parser.add_argument("--model", default="smollm2_135m")
    parser.add_argument("--pieces", type=int, default=400)
    parser.add_argument("--sentences", type=int, default=None, help="adapt on the first N lines (default: all)")
    parser.add_argument("--measure-sentences", type=int, default=None, help="test pairs measured (default: all)")
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--chars", type=int, default=64)
    parser.add_argument("--replay-text", default=str(OUT / "en_strings.txt"),
                        help="adapt.replay's English file (bench/telugu_strings.py writes the packages' English originals)")
    parser.add_argument("--replay-share", type=float, default=0.25, help="adapt.replay.share (0: no replay)")
    parser.add_argument("--inits", nargs="+", default=["mean", "overlap"], help="adapt.inits compared")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--rerun-triggers", nargs="+", default=None,
                        help="Snakemake's (e.g. mtime: keep the work folder's adaptations whatever the code's edits)")
    parser.add_argument("--work", default="/tmp/telugu-llm-bench-adapt")
    args = parser.parse_args()
    text = Path(args.text).resolve()
    if not text.is_file():
        parser.error(f"{text} does not exist: run bench/telugu_strings.py first (or give --text)")
    work = Path(args.work)
    if not (work / "Snakefile").is_file():
        copy_workflow(work)
    overrides = {
        "train": {"models": [args.model]},
        "vocab": {"extend": {args.model: {"pieces": args.pieces}}, "sources": ["file"], "text_path": str(text),
                  "curve": []},
        "adapt": {"enabled": True, "inits": args.inits, "sources": ["file"], "text_path": str(text), "max_sentences": args.sentences,
                  "replay": {"share": args.replay_share, "sources": ["file"], "text_path": str(Path(args.replay_text).resolve())},
                  "measure": {"sentences": args.measure_sentences, "prompts": args.prompts, "max_new_chars": args.chars}},
    }
    (work / "bench_adapt.yaml").write_text(yaml.safe_dump(overrides, allow_unicode=True))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(args.cores), "adapt",
                           "--configfile", "bench_adapt.yaml",
                           *(["--rerun-triggers", *args.rerun_triggers] if args.rerun_triggers else [])], cwd=work, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"the workflow failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    twin = f"{args.model}_te{args.pieces}"
    measures = work / "results" / "adapt" / args.model
    summary = json.loads((measures / "measures.json").read_text())
    rows = adaptation_rows(model=args.model, twin=twin, inits=args.inits, lang="te",
                           items=read_items(measures / "measures.parquet"), summary=summary, confidence=0.95)
    print(f"adapted on {args.sentences or 'every'} line(s) of {text.name}; measured on {summary['sentences']} test "
          f"pairs and {len(summary['prompts'])} prompts; workflow {seconds:.0f} s\n")
    print(f"{'base side':32}{'other side':36}{'measure':26}{'base':>9}{'other':>9}{'ratio':>7}  difference [95 % interval]")
    for r in rows:
        interval = "" if r["ci_low"] != r["ci_low"] else f" [{r['ci_low']:+.3g}, {r['ci_high']:+.3g}]"
        print(f"{r['model']:32}{r['twin']:36}{r['measure']:26}{r['base']:9.3g}{r['extended']:9.3g}"
              f"{r['ratio']:7.2f}  {r['diff']:+.3g}{interval}")
    for name, system in summary["systems"].items():
        a = system["adaptation"]
        if a:
            print(f"\n{name}: {a['text']['sentences']} sentences, {a['text']['tokens']} tokens in {a['rows']} rows, "
                  f"{a['steps']} steps, loss {a['loss_first']:.3f} -> {a['loss_last']:.3f}, {a['train_seconds']:.1f} s; "
                  f"English replay {a['text'].get('replay')}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "adapt.json").write_text(json.dumps({"args": vars(args), "workflow_seconds": seconds, "rows": rows,
                                                "systems": summary["systems"]}, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
