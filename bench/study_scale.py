"""The CPU stages of the study at its real sizes (issue 20): the data stage on 4.9M synthetic en-te
pairs read through the hub path, the three subsets, the data summary, and the prompts of the 1M
subset in both study templates, each job measured.

Writes a synthetic corpus of 4,900,000 pairs (English 15-25 words, Telugu of matching length in
Telugu script; repeated sides, duplicates and bad rows as bench/data_prep.py makes them) as the
hub's Parquet layout of ai4bharat/samanantar (configuration te, several files), serves it with the
local hub replica (tests/hubserver.py, tests/hub_replicas.py) in this process, copies the workflow
into a fresh folder and runs one target at a time (`snakemake --cores 1 <target>`) under
`/usr/bin/time -v`, then prints one row per job (wall s, peak RSS MiB of time -v and of Snakemake's
benchmark file, the memory and runtime the job declares under profiles/slurm) and writes them to
bench/out/study_scale.json.

    nice -n 5 .venv/bin/python bench/study_scale.py [--pairs 4900000] [--work /tmp/study_scale] [--keep]

About 30 minutes on a 2-core machine (the corpus 6, the data stage 7, the prompts 2 x 8), and
about 8 GB of disk under --work while it runs.

Times are upper bounds where the CPU is shared; peak RSS is not.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "bench"))
from conftest import copy_workflow  # noqa: E402
from data_prep import EN_WORDS, mined, telugu_word  # noqa: E402
from hub_replicas import samanantar as samanantar_replica  # noqa: E402
from hubserver import HubServer, revision_path  # noqa: E402

REPO_ID = "ai4bharat/samanantar"
CORPUS_VERSION = "1"  # bump when write_hub_corpus changes, so that a cached corpus is rewritten
LIMIT_MIB = 16 * 1024  # no job of the study above 16 GiB
TEMPLATES = ("llama2_study", "mistral_study")
SUBSETS = (10_000, 100_000, 1_000_000)


def vocabularies(rng: random.Random) -> tuple[list[str], list[str]]:
    """English: the bench's function and topic words plus made-up lower-case words; Telugu: made-up
    words of 1-4 syllables (bench/data_prep.py), so that the texts are not a few hundred words."""
    letters = "abcdefghijklmnoprstuvwy"
    made_up = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(30_000)}
    return EN_WORDS + sorted(made_up), sorted({telugu_word(rng) for _ in range(60_000)})


def pair_rows(pairs: int, seed: int = 0):
    """(en, te) for each pair, in order. English 15-25 words, Telugu 80 % of the word count (Telugu
    is agglutinative); about 1 % duplicates, 0.5 % empty targets, 0.5 % untranslated targets, 0.3 %
    misaligned lengths, and 2 % + 2 % pairs that repeat an earlier English or Telugu side with a new
    other side (some differing in case, punctuation or a zero-width non-joiner), as data_prep.py."""
    rng = random.Random(seed)
    en_vocab, te_vocab = vocabularies(rng)
    nprng = np.random.default_rng(seed)
    previous: list[tuple[str, str]] = []
    chunk = 100_000
    for start in range(0, pairs, chunk):
        n = min(chunk, pairs - start)
        lengths = nprng.integers(15, 26, n)
        en_ids = nprng.integers(0, len(en_vocab), int(lengths.sum())).tolist()
        te_lengths = np.maximum(1, (lengths * 0.8).astype(int))
        te_ids = nprng.integers(0, len(te_vocab), int(te_lengths.sum())).tolist()
        draws = nprng.random(n).tolist()
        e = t = 0
        for j in range(n):
            i, r, k, kt = start + j, draws[j], int(lengths[j]), int(te_lengths[j])
            en = " ".join(en_vocab[w] for w in en_ids[e:e + k]).capitalize() + f" {i}."
            te = " ".join(te_vocab[w] for w in te_ids[t:t + kt]) + f" {i}."
            e, t = e + k, t + kt
            if r < 0.01 and previous:
                en, te = rng.choice(previous)
            else:
                en, te = mined(rng, r, i, en, te, previous, lambda: " ".join(rng.choice(te_vocab) for _ in range(8 * k)))
            yield en, te


def write_hub_corpus(hub_root: Path, pairs: int, files: int, row_group: int) -> dict:
    """ai4bharat/samanantar as the hub replica serves it (README `configs:`, te and as), with the te
    configuration as `files` Parquet files te/train-0000k-of-0000n.parquet (columns idx, src, tgt),
    written a row group at a time. Returns the config's samanantar.hub entry."""
    marker = hub_root / "corpus.txt"
    wanted = f"{pairs} {files} {row_group} v{CORPUS_VERSION}"
    spec = {"repo": REPO_ID, "revision": "main"}
    if marker.exists() and marker.read_text() == wanted:
        return spec
    shutil.rmtree(hub_root, ignore_errors=True)
    hub_root.mkdir(parents=True)
    # the README (configurations te and as) and the as configuration; te is written below
    samanantar_replica(hub_root, {"idx": [0], "src": ["Thank you."], "tgt": ["ధన్యవాదాలు."]})
    te = revision_path(hub_root, REPO_ID) / "te"
    for old in te.glob("*.parquet"):
        old.unlink()
    schema = pa.schema([("idx", pa.int64()), ("src", pa.string()), ("tgt", pa.string())])
    per_file = -(-pairs // files)
    rows = pair_rows(pairs)
    for f in range(files):
        lo, hi = f * per_file, min(pairs, (f + 1) * per_file)
        with pq.ParquetWriter(te / f"train-{f:05d}-of-{files:05d}.parquet", schema) as writer:
            for g in range(lo, hi, row_group):
                chunk = [next(rows) for _ in range(min(row_group, hi - g))]
                writer.write_table(pa.table({"idx": np.arange(g, g + len(chunk), dtype=np.int64),
                                             "src": [p[0] for p in chunk], "tgt": [p[1] for p in chunk]},
                                            schema=schema), row_group_size=row_group)
        print(f"  wrote {te.name}/train-{f:05d}-of-{files:05d}.parquet ({hi:,} pairs so far)", flush=True)
    marker.write_text(wanted)
    return spec


def declared(workflow: Path, rule: str) -> dict:
    """The mem_mb and runtime a rule's jobs ask for under profiles/slurm: the rule's own `resources:`
    where it states them (as literals), else the profile's default-resources."""
    profile = yaml.safe_load((workflow / "profiles" / "slurm" / "config.yaml").read_text())
    out = {k: profile["default-resources"].get(k) for k in ("mem_mb", "runtime")}
    for smk in (workflow / "rules").glob("*.smk"):
        body = re.search(rf"^rule {rule}:\n(.*?)(?=^rule |\Z)", smk.read_text(), re.S | re.M)
        if body:
            res = re.search(r"^    resources:\n((?:        .*\n)+)", body.group(1), re.M)
            for key in ("mem_mb", "runtime"):
                m = res and re.search(rf"{key}=([^,\n]+)", res.group(1))
                if m:
                    value = m.group(1).strip()
                    out[key] = int(value) if value.isdigit() else value
    return out


def timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, float, str]:
    """Wall seconds and peak RSS (MiB) as /usr/bin/time -v reports them (the largest process it waited for)."""
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1)) / 1024
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", proc.stderr).group(1)
    wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(clock.split(":"))))
    return wall, rss, proc.stderr


def benchmark(workflow: Path, tsv: str) -> dict:
    with open(workflow / "results" / "benchmarks" / tsv) as handle:
        row = next(csv.DictReader(handle, delimiter="\t"))
    return {"bench_s": float(row["s"]), "bench_max_rss_mib": float(row["max_rss"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=4_900_000)
    parser.add_argument("--files", type=int, default=8, help="Parquet files of the te configuration")
    parser.add_argument("--row-group", type=int, default=10_000)
    parser.add_argument("--subsets", type=int, nargs="+", default=list(SUBSETS))
    parser.add_argument("--work", type=Path, default=Path("/tmp/study_scale"))
    parser.add_argument("--keep", action="store_true",
                        help="keep the corpus (reused by the next run) and the workflow copy")
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    spec = write_hub_corpus(args.work / "hub", args.pairs, args.files, args.row_group)
    print(f"corpus: {args.pairs:,} pairs as {REPO_ID} te ({time.perf_counter() - t:.0f} s)", flush=True)
    server = HubServer(args.work / "hub").start()
    env = {**os.environ, "HF_ENDPOINT": server.url, "HF_HOME": str(args.work / "hf_home"),
           "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_UPDATE_DOWNLOAD_COUNTS": "0",
           "NO_PROXY": "127.0.0.1,localhost"}
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        env.pop(var, None)

    workflow = args.work / "wf"  # a fresh copy every time: every job runs on this checkout's code
    shutil.rmtree(workflow, ignore_errors=True)
    copy_workflow(workflow)
    largest = max(args.subsets)
    config = workflow / "study_scale.yaml"
    config.write_text(json.dumps({  # config/paper.yaml's samanantar and prompts keys; Guanaco stays embedded
        "samanantar": {"source": "hub", "lang": "te", "subsets": args.subsets, "validation_fraction": 0.01,
                       "test_fraction": 0.01, "hub": spec},
        "prompts": {"samanantar_train_subset": largest}}))
    data = "results/data/samanantar/en-te"
    jobs = [("samanantar_shards", "samanantar_shards", f"{data}/quality.json", "data/samanantar_en-te.tsv")]
    jobs += [(f"samanantar_subset {n}", "samanantar_subset", f"{data}/subsets/{n}",
              f"data/samanantar_en-te_subset_{n}.tsv")
             for n in args.subsets]
    jobs += [("guanaco_shards", "guanaco_shards", "results/data/guanaco/shards", "data/guanaco.tsv"),
             ("data_summary", "data_summary", "results/data/summary.json", "data/summary.tsv")]
    jobs += [(f"format_prompts {tpl} {largest}", "format_prompts", f"results/prompts/{tpl}/samanantar/{largest}",
              f"prompts/{tpl}_samanantar_{largest}.tsv") for tpl in TEMPLATES]

    rows = []
    for name, rule, target, tsv in jobs:
        cmd = [sys.executable, "-m", "snakemake", target, "--cores", "1", "--configfile", str(config)]
        wall, rss, _ = timed(cmd, workflow, env)
        row = {"job": name, "rule": rule, "wall_s": round(wall, 1), "peak_rss_mib": round(rss),
               **benchmark(workflow, tsv), **{f"declared_{k}": v for k, v in declared(workflow, rule).items()}}
        rows.append(row)
        print(f"{name:38} {wall:8.1f} s {rss:8.0f} MiB (benchmark {row['bench_s']:.1f} s, "
              f"{row['bench_max_rss_mib']:.0f} MiB)", flush=True)
    server.stop()

    quality = json.loads((workflow / data / "quality.json").read_text())
    sizes = {p.relative_to(workflow).as_posix(): sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
             for p in [workflow / data / "shards", *(workflow / "results" / "prompts").glob("*/samanantar/*")]}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    result = {"date": time.strftime("%Y-%m-%d", time.gmtime()), "commit": commit.strip(), "pairs": args.pairs,
              "files": args.files, "row_group": args.row_group, "subsets": args.subsets,
              "rows_read": quality["rows_read"], "rows_kept": quality["rows_kept"], "dropped": quality["dropped"],
              "overlap": quality.get("overlap"), "output_bytes": sizes, "jobs": rows,
              "limit_mib": LIMIT_MIB, "cpu": "shared 2-core machine: times are upper bounds"}
    (OUT / "study_scale.json").write_text(json.dumps(result, indent=2))

    print(f"\nkept {quality['rows_kept']:,} of {quality['rows_read']:,} pairs; dropped {quality['dropped']}")
    print(f"\n{'job':38}{'wall s':>9}{'RSS MiB':>9}{'bench s':>9}{'bench MiB':>10}{'mem_mb':>8}{'runtime':>8}")
    for r in rows:
        print(f"{r['job']:38}{r['wall_s']:9.1f}{r['peak_rss_mib']:9.0f}{r['bench_s']:9.1f}"
              f"{r['bench_max_rss_mib']:10.0f}"
              f"{str(r['declared_mem_mb']):>8}{str(r['declared_runtime']):>8}")
    over = [r["job"] for r in rows if max(r["peak_rss_mib"], r["bench_max_rss_mib"]) > LIMIT_MIB]
    print(f"over 16 GiB: {over or 'none'}")
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
