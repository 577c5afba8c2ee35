"""The vocabulary stage at the study's size (issue 20): Llama-2's and Mistral's tokenizers extended
by 16,000 pieces learned from 1,000,000 Telugu sentences, and the curve (config/paper.yaml's
vocab.curve, 1,000 to 32,000 pieces), each step measured under /usr/bin/time -v (peak RSS, wall).

No Telugu corpus of that size is reachable offline, so one is synthesised: sentences of 4 to 18
words drawn with Zipf-like frequencies (rank^-1.05) from the Telugu words of Debian's hunspell-te
dictionary (te_IN.dic, 125,083 words; `apt-get download hunspell-te`, then `dpkg-deb -x`), with a
few lines a base tokenizer cannot give back (a literal U+2581, "</s>" and "<s>" text), and English
sentences of the same shape from a small English word list; written as Samanantar shards (train:
the 1M, validation and test: 10,000 each). The steps run the package functions that the rules run
(scripts/vocab_learn.py, vocab_extend.py, vocab_curve.py), each in its own process:

    learn   gather the learning text, learn the shared SentencePiece BPE model once at 32,000
    extend  llama2_te16000: derive 16,000, extend, check the round trip on every split (streamed)
    curve   llama2 at 1,000..32,000 on the test split, every size derived from the one model

    nice -n 5 .venv/bin/python bench/vocab_scale.py --dic /path/to/te_IN.dic [--sentences 1000000]

Writes bench/out/vocab_scale.json (and the corpus under bench/out/vocab_scale/).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
WORK = OUT / "vocab_scale"
sys.path.insert(0, str(REPO / "src"))

ENGLISH = ("the of and to in a is that for it as was with be by on not he this are or his from at which but have an "
           "they you were her she there been one all we their has would when if so no will more can said who about "
           "government state minister district police people year water farmers village election court report").split()
SIZES = [1000, 2000, 4000, 8000, 16000, 32000]
ROWS_PER_SHARD = 100_000


def telugu_words(dic: Path) -> list[str]:
    words = []
    for line in dic.read_text(encoding="utf-8").splitlines()[1:]:
        word = unicodedata.normalize("NFC", line.split("/", 1)[0].strip())
        if word and all("\u0c00" <= ch <= "\u0c7f" or ch in "\u200c\u200d" for ch in word):
            words.append(word)
    return words


def build_corpus(dic: Path, sentences: int, seed: int = 20) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    words = telugu_words(dic)
    rng.shuffle(words)
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    weights /= weights.sum()
    en_weights = 1.0 / np.arange(1, len(ENGLISH) + 1)
    en_weights /= en_weights.sum()
    total = sentences + 20_000
    seen, te = set(), []
    while len(te) < total:
        lengths = rng.integers(4, 19, size=100_000)
        picks = rng.choice(len(words), size=int(lengths.sum()), p=weights)
        at = 0
        for n in lengths:
            s = " ".join(words[i] for i in picks[at:at + n]) + "."
            at += n
            if s not in seen:
                seen.add(s)
                te.append(s)
            if len(te) == total:
                break
    del seen
    odd = ["ఇది ▁ గుర్తు", "▁▁తెలుగు వార్త", "వార్త </s> ముగింపు", "<s> ప్రారంభం", "ముగింపు</s>"]
    for k, line in enumerate(odd):
        te[1000 + (sentences // 5) * k] = line  # spread over the training split
    picks = rng.choice(len(ENGLISH), size=total * 10, p=en_weights)
    en = [" ".join(ENGLISH[i] for i in picks[10 * k:10 * k + 10]).capitalize() + "." for k in range(total)]
    splits = {"train": (0, sentences), "validation": (sentences, sentences + 10_000),
              "test": (sentences + 10_000, total)}
    shards = WORK / "shards"
    for split, (lo, hi) in splits.items():
        (shards / split).mkdir(parents=True, exist_ok=True)
        for n, start in enumerate(range(lo, hi, ROWS_PER_SHARD)):
            end = min(hi, start + ROWS_PER_SHARD)
            pq.write_table(pa.table({"src": en[start:end], "tgt": te[start:end]}),
                           shards / split / f"part-{n:05d}.parquet")
    return {"telugu_words": len(words), "sentences": {s: hi - lo for s, (lo, hi) in splits.items()},
            "odd_lines": odd, "telugu_chars": sum(map(len, te[:sentences]))}


def tokenizers() -> dict[str, Path]:
    import yaml

    from telugu_llm.config import with_defaults
    from telugu_llm.tokens.tokenizer import build_tokenizer

    specs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]
    out = {}
    for name in ("llama2", "mistral"):
        out[name] = WORK / "tokenizers" / name
        if not out[name].exists():
            build_tokenizer(name, with_defaults(specs[name], "$defs/tokenizer"), out[name])
    return out


def step(name: str, threads: int) -> dict:
    """One step, as its rule's script runs it."""
    from telugu_llm.vocab.compare import curve
    from telugu_llm.vocab.extend import build_extended, tokenizer_kind
    from telugu_llm.vocab.learn import learn_all, learned_file
    from telugu_llm.vocab.text import check_sources, gather, samanantar_sentences

    shards, dirs = WORK / "shards", tokenizers()
    bases = {n: json.loads((d / "tokenizer.json").read_text(encoding="utf-8")) for n, d in dirs.items()}
    if name == "learn":
        text = gather(sources=["samanantar"], samanantar_dir=shards, subset_dir=None, guanaco_dir=None, text_path=None,
                      lang="te", max_sentences=None)
        chosen = learn_all({n: (j, tokenizer_kind(j, n)) for n, j in bases.items()}, text.sentences, max(SIZES),
                           WORK / "learned", key="vocab", threads=threads,
                           text_facts={"sentences": len(text.sentences), "sha256": text.sha256, "sources": text.counts})
        return {"learners": chosen, "text": text.counts}
    if name == "extend":
        texts, english = check_sources(sources=["samanantar"], samanantar_dir=shards, guanaco_dir=None, text_path=None,
                                       lang="te")
        source = build_extended(name="llama2_te16000", base_dir=dirs["llama2"], learned_dir=WORK / "learned",
                                pieces=16000, lang="te", texts=texts, english=english,
                                out_dir=WORK / "llama2_te16000", key="vocab.extend.llama2_7b_chat.pieces")
        return {k: v for k, v in source["extension"].items() if k != "text"}
    base_json = bases["llama2"]
    learned = json.loads(learned_file(WORK / "learned", base_json, "sentencepiece").read_text(encoding="utf-8"))
    built_dir = WORK / "llama2_te16000"
    built = {16000: (json.loads((built_dir / "tokenizer.json").read_text(encoding="utf-8")),
                     json.loads((built_dir / "source.json").read_text())["extension"]["added"])}
    test = shards / "test"
    rows = curve(name="llama2_te16000", base_name="llama2", base_json=base_json, learned=learned, sizes=SIZES,
                 lang="te", test_te=samanantar_sentences(test), test_en=samanantar_sentences(test, "src"),
                 key="vocab.curve", built=built)
    return {"rows": [{k: r[k] for k in ("pieces", "added", "premium", "fertility", "note")} for r in rows]}


def measured(args: list[str]) -> tuple[dict, dict]:
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, __file__, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    h, m, s = ([0] + re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", proc.stderr)
               .group(1).split(":"))[-3:]
    wall = int(h) * 3600 + int(m) * 60 + float(s)
    cpu = sum(float(re.search(rf"{what} time \(seconds\): (\S+)", proc.stderr).group(1)) for what in ("User", "System"))
    return ({"peak_rss_mib": round(rss / 1024), "wall_s": round(wall, 1), "cpu_s": round(cpu, 1)},
            json.loads(proc.stdout.splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dic", type=Path, default=Path("/usr/share/hunspell/te_IN.dic"))
    parser.add_argument("--sentences", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", default="corpus,learn,extend,curve")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        facts = build_corpus(args.dic, args.sentences) if args.step == "corpus" else step(args.step, args.threads)
        print(json.dumps(facts, ensure_ascii=False, default=str))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    report_path = OUT / "vocab_scale.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    report.update(sentences=args.sentences, threads=args.threads)
    for name in args.steps.split(","):
        cost, facts = measured(["--step", name, "--dic", str(args.dic), "--sentences", str(args.sentences),
                                "--threads", str(args.threads)])
        report[name] = {**cost, "facts": facts}
        print(f"{name:8} peak RSS {cost['peak_rss_mib']:>7} MiB   wall {cost['wall_s']:>8.1f} s   cpu {cost['cpu_s']:>8.1f} s",
              flush=True)
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
