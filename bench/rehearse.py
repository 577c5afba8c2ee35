"""The rehearsal of the study on a CPU (issue 20): config/paper.yaml, then config/controlled.yaml,
each scaled by config/rehearsal.yaml, every job of each plan run end to end against a local replica
of the Hugging Face hub that serves every repository paper.yaml names (tests/hubserver.py,
tests/hub_replicas.py). Exits 0 only when every job of each dry-run plan ran and finished.

    make rehearse
    .venv/bin/python bench/rehearse.py [--variant paper|controlled|all] [--cores 2] [--workdir DIR]

Steps: lay the replica repositories out in a temporary folder; start the replica on 127.0.0.1
with a fresh token (gated repositories refuse any other); copy the workflow as a clone has it
(tests/conftest.py copy_workflow); for each variant, dry-run the plan (its job-stats table), run
`snakemake --cores N results/report.html` with HF_ENDPOINT, HF_HOME and HF_TOKEN set for it alone,
and check that the jobs that ran are the plan's, rule by rule; check that no decoy file (pickled
weights, original checkpoints, tokenizer.model) was downloaded or reached resources/models/; stop
the replica; print each job's time, each variant's and the total wall time, and the load average.
Both variants share one workdir, so the controlled one runs only what it does not share with paper.yaml.
Results: bench/out/rehearsal.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"
sys.path.insert(0, str(REPO / "tests"))
from conftest import copy_workflow  # noqa: E402
from hub_replicas import DECOYS, study  # noqa: E402
from hubserver import HubServer  # noqa: E402

TARGET = "results/report.html"
# Run first (Snakemake --prioritize; the plan is unchanged): one job of each late rule kind, so that
# a defect in the vocabulary stage, an extended twin or an evaluation shows within minutes, not at the end.
FIRST = {"paper": ["results/vocab/curve.csv", "results/eval/mistral_7b_instruct/base/metrics.json",
                   "results/eval/mistral_7b_instruct/samanantar/study/40/seed1/metrics.json",
                   "results/eval/llama2_7b_chat_te400/samanantar/corrected/80/seed1/metrics.json"],
         "controlled": ["results/eval/mistral_7b_instruct/samanantar/corrected/40/seed1/metrics.json",
                        "results/eval/llama2_7b_chat_te400/samanantar/corrected/40/seed1/metrics.json"]}
# controlled.yaml last: it names its one size as prompts.samanantar_train_subset, which rehearsal.yaml scales.
VARIANTS = {"paper": ["config/paper.yaml", "config/rehearsal.yaml"],
            "controlled": ["config/paper.yaml", "config/rehearsal.yaml", "config/controlled.yaml"]}


def job_table(text: str) -> dict[str, int]:
    """Rule -> count from the last "Job stats" table of a Snakemake output (dry run or run)."""
    tables, current = [], None
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            current = {}
            tables.append(current)
        elif current is not None:
            if parts and parts[0] == "total":
                current = None
            elif len(parts) == 2 and parts[1].isdigit():
                current[parts[0]] = int(parts[1])
    return tables[-1] if tables else {}


def finished_jobs(log: str) -> dict[str, int]:
    """Rule -> number of jobs that finished, from a Snakemake run's log ("Finished jobid: N (Rule: X)")."""
    done: dict[str, int] = {}
    for rule in re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log):
        done[rule] = done.get(rule, 0) + 1
    return done


def job_times(workdir: Path) -> list[tuple[str, float]]:
    """(rule, seconds) of every job that ran in `workdir`, from Snakemake's metadata (the start and
    end time recorded with each of its outputs)."""
    times = {}
    meta = workdir / ".snakemake" / "metadata"
    for f in meta.rglob("*") if meta.is_dir() else []:
        if not f.is_file():
            continue
        try:
            record = json.loads(f.read_text())
        except (ValueError, OSError):
            continue
        if record.get("starttime") and record.get("endtime") and record.get("rule"):
            seconds = round(record["endtime"] - record["starttime"], 1)
            times[(record["rule"], round(record["endtime"]), seconds)] = seconds  # one job, several outputs
    return sorted(((rule, seconds) for (rule, _, _), seconds in times.items()), key=lambda t: -t[1])


def hub_env(server: HubServer, token: str, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=server.url, HF_HOME=str(home), HF_TOKEN=token, HF_HUB_DISABLE_TELEMETRY="1",
               HF_HUB_DISABLE_PROGRESS_BARS="1", HF_UPDATE_DOWNLOAD_COUNTS="0", NO_PROXY="127.0.0.1,localhost",
               TOKENIZERS_PARALLELISM="false")
    return env


def run_variant(name: str, workdir: Path, env: dict, cores: int, extra: list[str], targets: list[str]) -> dict:
    args = [*targets, *extra, "--configfile", *VARIANTS[name]]
    dry = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args, "--quiet", "rules"],
                         cwd=workdir, env=env, capture_output=True, text=True)
    if dry.returncode != 0:
        return {"variant": name, "ok": False, "error": f"dry run failed:\n{dry.stdout[-3000:]}\n{dry.stderr[-3000:]}"}
    planned = job_table(dry.stdout)
    log = workdir / f"rehearsal-{name}.log"
    start = time.perf_counter()
    with open(log, "w") as handle:
        proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), "--keep-going",
                               "--rerun-incomplete", "--show-failed-logs", *args, "--prioritize", *FIRST[name]], cwd=workdir, env=env, stdout=handle,
                              stderr=subprocess.STDOUT, text=True)
    wall = time.perf_counter() - start
    text = log.read_text()
    done = finished_jobs(text)
    missing = {rule: n - done.get(rule, 0) for rule, n in planned.items() if done.get(rule, 0) < n}
    failed = sorted(set(re.findall(r"Error in rule (\w+):", text)))
    return {"variant": name, "ok": proc.returncode == 0 and not missing and bool(planned), "returncode": proc.returncode,
            "planned": planned, "planned_total": sum(planned.values()), "finished_total": sum(done.values()),
            "missing": missing, "failed_rules": failed, "wall_s": round(wall, 1), "log": str(log)}


def decoys_fetched(server: HubServer, workdir: Path) -> list[str]:
    """Decoy files that were downloaded from the replica or lie under resources/models."""
    got = [path for method, path, status in server.log
           if "/resolve/" in path and status < 400 and path.rsplit("/", 1)[-1] in (*DECOYS, "pytorch_model.bin.index.json")]
    models = workdir / "resources" / "models"
    got += [str(p) for p in models.rglob("*") if p.name in DECOYS or p.suffix in (".bin", ".pth", ".pt")] if models.is_dir() else []
    return got


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=[*VARIANTS, "all"], default="all")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="where the workflow copy and the replica go (default: a temporary folder)")
    parser.add_argument("--targets", nargs="+", default=[TARGET],
                        help="rehearse the part of the plan these files need (default: all of it, results/report.html)")
    parser.add_argument("--config", nargs="*", default=[], help="extra `--config key=value` items, e.g. train.device=cuda")
    args = parser.parse_args(argv)
    root = args.workdir or Path(tempfile.mkdtemp(prefix="telugu-llm-rehearsal-"))
    root.mkdir(parents=True, exist_ok=True)
    begin, load_before = time.perf_counter(), os.getloadavg()
    study(root / "hub", REPO / "data")
    token = f"hf_rehearsal_{secrets.token_hex(8)}"
    server = HubServer(root / "hub", tokens={token}).start()
    workdir = root / "wf" if (root / "wf").is_dir() else copy_workflow(root / "wf")
    extra = ["--config", *args.config] if args.config else []
    results = []
    try:
        env = hub_env(server, token, root / "hf-home")
        for name in (VARIANTS if args.variant == "all" else [args.variant]):
            print(f"rehearsal: {name}: {' '.join(VARIANTS[name])} in {workdir}", flush=True)
            result = run_variant(name, workdir, env, args.cores, extra, args.targets)
            results.append(result)
            print(f"rehearsal: {name}: {'ok' if result['ok'] else 'FAILED'} "
                  f"{result.get('finished_total', 0)}/{result.get('planned_total', '?')} jobs in {result.get('wall_s', 0)} s"
                  + (f"; failed rules {result['failed_rules']}; not run {result['missing']}; log {result['log']}"
                     if not result["ok"] and "log" in result else f"\n{result.get('error', '')}" if not result["ok"] else ""),
                  flush=True)
    finally:
        server.stop()
    decoys = decoys_fetched(server, workdir)
    unhandled = list(server.unhandled)
    total = time.perf_counter() - begin
    times = job_times(workdir)
    print("\nper-job times (s), slowest first:")
    for rule, seconds in times:
        print(f"  {seconds:8.1f}  {rule}")
    by_rule = {}
    for rule, seconds in times:
        by_rule[rule] = by_rule.get(rule, 0.0) + seconds
    print("per rule (s): " + ", ".join(f"{r} {s:.0f}" for r, s in sorted(by_rule.items(), key=lambda t: -t[1])))
    print(f"total wall time {total:.0f} s; load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} "
          f"(on {os.cpu_count()} CPUs)")
    if decoys:
        print(f"DECOY FILES FETCHED: {decoys}")
    if unhandled:
        print(f"requests the replica has no route for: {unhandled[:10]}")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "rehearsal.json").write_text(json.dumps(
        {"variants": results, "total_s": round(total, 1), "load_before": load_before, "load_after": os.getloadavg(),
         "decoys_fetched": decoys, "unhandled": unhandled, "job_times": times, "by_rule_s": by_rule}, indent=1))
    return 0 if results and all(r["ok"] for r in results) and not decoys else 1


if __name__ == "__main__":
    sys.exit(main())
