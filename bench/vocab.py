"""Vocabulary-extension benchmark (issue 15): the premium (Telugu tokens against English on the same
held-out sentences, Petrov et al.'s joined pass) and fertility of Llama-2's, Mistral's and SmolLM2's
tokenizers extended with N learned pieces, against N, and the time each extension takes.

Learns from the language's side of a Samanantar training split and measures on its test split (the
workflow's shards: run `snakemake results/data/samanantar/en-te/shards` first), or from `--text`, a
file of one sentence per line, measured on the shards' test split. The embedded sample's training
split has 271 sentences: its curve says what a small text buys on held-out sentences of its own
domain, not what 10,000 to 100,000 sentences would.

    .venv/bin/python bench/vocab.py [--shards results/data/samanantar/en-te/shards]
        [--tokenizers llama2,mistral,smollm2] [--sizes 250,500,1000,2000,4000] [--text FILE [--measure all]]

With `--text` (say 10,000 Telugu sentences from elsewhere) and `--measure all`, every Samanantar
pair of the shards is held out: none of it is learned from (a text line equal to a Samanantar
sentence is left out and counted).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "src"))

from telugu_llm.errors import InputError  # noqa: E402
from telugu_llm.vocab.compare import curve  # noqa: E402
from telugu_llm.vocab.extend import tokenizer_kind  # noqa: E402
from telugu_llm.vocab.learn import learn  # noqa: E402
from telugu_llm.vocab.text import file_sentences, learning_text, samanantar_sentences  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", default=str(REPO / "results" / "data" / "samanantar" / "en-te" / "shards"))
    parser.add_argument("--tokenizers", default="llama2,mistral,smollm2")
    parser.add_argument("--sizes", default="250,500,1000,2000,4000")
    parser.add_argument("--text", help="learn from this file (one sentence per line) instead of the training split")
    parser.add_argument("--measure", choices=["test", "all"], default="test",
                        help="measure on the test split, or on every split (held out too when learning from --text)")
    args = parser.parse_args()
    if args.measure == "all" and not args.text:
        parser.error("--measure all needs --text: the training split is what the pieces are learned from")
    shards = Path(args.shards)
    held = samanantar_sentences(shards / "validation") + samanantar_sentences(shards / "test")
    lines = file_sentences(Path(args.text), "--text") if args.text else samanantar_sentences(shards / "train")
    text = learning_text({"text": lines}, held if not args.text else held + samanantar_sentences(shards / "train"))
    splits = ("train", "validation", "test") if args.measure == "all" else ("test",)
    test_te = [t for split in splits for t in samanantar_sentences(shards / split)]
    test_en = [t for split in splits for t in samanantar_sentences(shards / split, "src")]
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    print(f"learning from {len(text.sentences)} sentences, measured on {len(test_te)} held-out pairs\n")
    print(f"{'tokenizer':10}{'pieces':>8}{'added':>8}{'premium':>9}{'fertility':>10}{'seconds':>9}   note")
    for name in args.tokenizers.split(","):
        base_json = json.loads((REPO / "resources" / "tokenizers" / name / "tokenizer.json").read_text(encoding="utf-8"))
        start = time.perf_counter()
        try:  # once, at the largest size; every size is its prefix (vocab/learn.py)
            learned = learn(base_json, tokenizer_kind(base_json, name), text.sentences, max(sizes), key=name)
        except InputError as exc:
            print(f"{name:10}{exc}")
            continue
        print(f"{name:10}learned {max(sizes)} pieces once in {time.perf_counter() - start:.1f} s", flush=True)
        for size in [None, *sizes]:
            start = time.perf_counter()
            found = curve(name=f"{name}_te", base_name=name, base_json=base_json, learned=learned,
                          sizes=[] if size is None else [size], lang="te", test_te=test_te, test_en=test_en,
                          key=f"{name} x {size}")
            row = found[0] if size is None else found[-1]
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
            premium = "–" if row["premium"] is None else f"{row['premium']:.2f}"
            fertility = "–" if row["fertility"] is None else f"{row['fertility']:.2f}"
            print(f"{name:10}{row['pieces']:8}{row['added'] if row['added'] is not None else '–':>8}{premium:>9}"
                  f"{fertility:>10}{row['seconds']:9.1f}   {row['note'][:80]}", flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "vocab.json").write_text(json.dumps({"learning_sentences": len(text.sentences), "text": args.text,
                                                "measured_on": args.measure, "test_pairs": len(test_te),
                                                "rows": rows}, indent=2, default=str))


if __name__ == "__main__":
    main()
