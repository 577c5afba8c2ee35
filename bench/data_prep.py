"""Data-preparation benchmark (issue 2).

Writes a synthetic corpus of 1,000,000 English–Telugu pairs in Samanantar's release layout, then,
alternating, runs (a) the workflow's data stage on it (`snakemake --cores 1 data`, every job of the
stage: shards, the study's 10k and 100k subsets, Guanaco) and (b) a plain baseline (read both files
line by line, write one Parquet file with pyarrow). Prints wall time and peak resident memory of
both (medians over the repeats) and writes them to bench/out/data_prep.json.

    .venv/bin/python bench/data_prep.py [--pairs 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
from conftest import copy_workflow  # noqa: E402

EN_WORDS = ("the of and to in a is that for it as was with be by on not this are or from at which have an they "
            "government minister health water farmers district scheme hospital school rain price market village "
            "court election science students train road power project report people state city today said").split()
TE_CONSONANTS = "కగచజటడతదనపబమయరలవసహ"
TE_VOWEL_SIGNS = ["", "ా", "ి", "ీ", "ు", "ూ", "ె", "ే", "ొ", "ో", "ం"]

BASELINE = r"""
import sys, pyarrow as pa, pyarrow.parquet as pq
src_path, tgt_path, out = sys.argv[1:4]
src, tgt = [], []
with open(src_path, encoding="utf-8") as a, open(tgt_path, encoding="utf-8") as b:
    for x, y in zip(a, b):
        src.append(x.rstrip("\n"))
        tgt.append(y.rstrip("\n"))
pq.write_table(pa.table({"src": src, "tgt": tgt}), out, compression="zstd")
"""


def telugu_word(rng: random.Random) -> str:
    return "".join(rng.choice(TE_CONSONANTS) + rng.choice(TE_VOWEL_SIGNS) for _ in range(rng.randint(1, 4)))


CORPUS_VERSION = "2"  # bump when write_corpus changes, so that a cached corpus is rewritten
RECENT = 5000  # duplicates and shared sides are drawn from this many recent pairs


def variant(rng: random.Random, text: str) -> str:
    """The same sentence as a mined source may spell it: other case, punctuation or joiners."""
    r = rng.random()
    if r < 0.3:
        return text.upper() if text.isascii() else text.replace(" ", "\u200c ", 1)  # a zero-width non-joiner
    if r < 0.6:
        return text.rstrip(".") + " !"
    return text


def mined(rng: random.Random, r: float, i: int, en: str, te: str, previous: list[tuple[str, str]],
          extra_te) -> tuple[str, str]:
    """Pair `i` (not a duplicate) as Samanantar's mined sources may have it, after the draw `r`: an
    empty, untranslated or misaligned target (`extra_te()` the surplus Telugu), or an earlier English
    or Telugu side with a new other side; `previous` keeps the recent pairs to repeat."""
    if r < 0.015:
        te = ""
    elif r < 0.02:
        te = en
    elif r < 0.023:
        te = te + " " + extra_te()
    elif r < 0.043 and previous:  # an earlier English sentence, another translation
        en = variant(rng, rng.choice(previous)[0])
    elif r < 0.063 and previous:  # an earlier Telugu sentence, another English side
        te = variant(rng, rng.choice(previous)[1])
    if len(previous) < RECENT:
        previous.append((en, te))
    else:
        previous[i % RECENT] = (en, te)
    return en, te


def write_corpus(root: Path, pairs: int, seed: int = 0) -> Path:
    """Sentence lengths like Samanantar's (4–40 words); about 1 % duplicates, 0.5 % empty targets,
    0.5 % untranslated (English) targets and 0.3 % misaligned lengths, so that every filter works.
    Like the mined sources Samanantar merges, 2 % of the pairs repeat an earlier English sentence with
    a new translation and 2 % an earlier Telugu sentence with a new English side, some of them
    differing in case, punctuation or a zero-width non-joiner, so that the grouping of the splits works."""
    folder = root / "en-te"
    marker = f"{pairs} v{CORPUS_VERSION}"
    if (folder / "train.te").exists() and (root / "pairs.txt").read_text() == marker:
        return root
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    previous: list[tuple[str, str]] = []
    with open(folder / "train.en", "w", encoding="utf-8") as fe, open(folder / "train.te", "w", encoding="utf-8") as ft:
        for i in range(pairs):
            r = rng.random()
            if r < 0.01 and previous:
                en, te = rng.choice(previous)
            else:
                n = rng.randint(4, 40)
                en = " ".join(rng.choice(EN_WORDS) for _ in range(n)) + f" {i}."
                te = " ".join(telugu_word(rng) for _ in range(max(1, int(n * 0.8)))) + f" {i}."
                en, te = mined(rng, r, i, en, te, previous, lambda: " ".join(telugu_word(rng) for _ in range(8 * n)))
            fe.write(en + "\n")
            ft.write(te + "\n")
    (root / "pairs.txt").write_text(marker)
    return root


def timed(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) of the command and every process it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{output}")
    return wall, usage.ru_maxrss / 1024, output


def job_benchmarks(workflow: Path) -> dict[str, dict]:
    """Per-job seconds and max RSS from Snakemake's benchmark files."""
    out = {}
    for tsv in sorted((workflow / "results" / "benchmarks" / "data").glob("*.tsv")):
        with open(tsv) as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        out[tsv.stem] = {"s": float(row["s"]), "max_rss_mib": float(row["max_rss"])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--subsets", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    corpus = write_corpus(OUT / "corpus", args.pairs)
    print(f"corpus: {args.pairs:,} pairs at {corpus} ({time.perf_counter() - t:.1f} s)", flush=True)
    workflow = OUT / "wf"
    shutil.rmtree(workflow, ignore_errors=True)
    copy_workflow(workflow)
    config = workflow / "bench.yaml"
    config.write_text(json.dumps({"samanantar": {"source": "local", "path": str(corpus), "subsets": args.subsets,
                                                 "validation_fraction": 0.01, "test_fraction": 0.01},
                                  # the prompts' subset must be one of samanantar.subsets (checked at start)
                                  "prompts": {"samanantar_train_subset": min(args.subsets)}}))
    snakemake = [sys.executable, "-m", "snakemake", "--cores", "1", "data", "--configfile", str(config)]
    baseline = [sys.executable, "-c", BASELINE, str(corpus / "en-te" / "train.en"), str(corpus / "en-te" / "train.te"),
                str(OUT / "baseline.parquet")]

    runs: dict[str, list[tuple[float, float]]] = {"workflow data stage": [], "baseline": []}
    jobs = []
    for repeat in range(args.repeats):
        shutil.rmtree(workflow / "results", ignore_errors=True)
        shutil.rmtree(workflow / ".snakemake", ignore_errors=True)
        wall, rss, _ = timed(snakemake, workflow)
        runs["workflow data stage"].append((wall, rss))
        jobs.append(job_benchmarks(workflow))
        wall_b, rss_b, _ = timed(baseline, OUT)
        runs["baseline"].append((wall_b, rss_b))
        print(f"repeat {repeat + 1}: data stage {wall:.2f} s / {rss:.0f} MiB, baseline {wall_b:.2f} s / {rss_b:.0f} MiB",
              flush=True)

    quality = json.loads((workflow / "results" / "data" / "samanantar" / "en-te" / "quality.json").read_text())
    med = {name: (statistics.median(w for w, _ in r), max(m for _, m in r)) for name, r in runs.items()}
    per_job = {name: {k: statistics.median(j[name][k] for j in jobs) for k in ("s", "max_rss_mib")} for name in jobs[0]}
    ratio = med["workflow data stage"][0] / med["baseline"][0]
    result = {
        "pairs": args.pairs, "repeats": args.repeats, "subsets": args.subsets,
        "rows_kept": quality["rows_kept"], "dropped": quality["dropped"], "overlap": quality["overlap"],
        "wall_s": {k: round(v[0], 3) for k, v in med.items()},
        "peak_rss_mib": {k: round(v[1], 1) for k, v in med.items()},
        "time_ratio": round(ratio, 3),
        "jobs": per_job,
        "goal": {"time_ratio_at_most": 2.0, "peak_rss_mib_below": 1024},
    }
    (OUT / "data_prep.json").write_text(json.dumps(result, indent=2))
    print(f"\nkept {quality['rows_kept']:,} of {args.pairs:,} pairs; dropped {quality['dropped']}")
    print(f"pairs that share a side: {quality['overlap']}")
    print("per job (median s, max RSS MiB): " + ", ".join(f"{k} {v['s']:.2f} s {v['max_rss_mib']:.0f} MiB" for k, v in per_job.items()))
    print(f"\n{'':24}{'wall s (median)':>16}{'peak RSS MiB':>14}")
    for name, (wall, rss) in med.items():
        print(f"{name:24}{wall:16.2f}{rss:14.0f}")
    print(f"{'ratio (stage/baseline)':24}{ratio:16.2f}   goal <= 2.00; peak RSS goal < 1024 MiB")


if __name__ == "__main__":
    main()
