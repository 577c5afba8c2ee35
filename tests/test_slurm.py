"""The workflow through a real single-node Slurm (started by the test, stopped by PID), against a
local run of the same tiny configuration: every job is a Slurm job, the training jobs get their GPU
request, the deterministic results are equal, and a job Slurm rejects ends the run with Slurm's
message instead of a hang. Skipped, with the reason, where root or the packages are missing."""

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import TINY, copy_workflow, planned_jobs
from slurm_cluster import Unavailable, single_node_slurm

pytestmark = pytest.mark.workflow

# The tiny configuration's training runs (each dimension in the path): its subset 200 and all of Guanaco.
TINY_RUNS = ("samanantar/corrected/200/seed42", "guanaco/corrected/all/seed42")
# squeue for job status: this test cluster has no accounting database for sacct (the default),
# and keeps finished jobs for an hour (MinJobAge), so squeue sees every job to its end
FAST = ["--slurm-init-seconds-before-status-checks", "2", "--slurm-status-command", "squeue"]


def test_an_unreachable_slurm_ends_the_run_with_its_message(tmp_path):
    """Before the cluster of this module starts: no controller answers."""
    import shutil

    if shutil.which("sbatch") is None:
        pytest.skip("Slurm's client (sbatch) is not installed")
    wf = copy_workflow(tmp_path / "wf")
    proc = run_through_slurm(wf, "results/data/guanaco/quality.json", *FAST, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), "the run hung or succeeded"
    assert "Job submission failed" in output and "Could not establish a configuration source" in output, output[-2000:]
    assert not (wf / "results" / "data" / "guanaco" / "quality.json").exists()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        with single_node_slurm(tmp_path_factory.mktemp("slurm"), gpus=1) as info:
            yield info
    except Unavailable as exc:
        pytest.skip(str(exc))


def slurm_jobs() -> list[dict]:
    """Every job the controller knows (finished ones are kept for MinJobAge = 1 h)."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True).stdout
    records = []
    for line in out.splitlines():
        if line.startswith("JobId="):
            records.append(dict(re.findall(r"(\w+)=(\S*)", line)))
    return records


def run_through_slurm(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """Snakemake with the Slurm profile, in its own process group, which is killed if the test is
    interrupted (nothing is left running); `timeout` ends a hang."""
    import os
    import signal

    command = ["timeout", "-k", "20", str(timeout), sys.executable, "-m", "snakemake", "--workflow-profile",
               "profiles/slurm", *args]
    proc = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(command, proc.returncode, stdout, stderr)


def test_the_tiny_configuration_through_slurm_equals_a_local_run(cluster, tmp_path, tiny_run):
    local, local_seconds = tiny_run

    remote = copy_workflow(tmp_path / "slurm")
    counts = planned_jobs(remote, *TINY)
    before = {j["JobId"] for j in slurm_jobs()}
    start = time.perf_counter()
    # the CPUs every rule asks for fit the test's 2-CPU node (models.<name>.resources.cpus: 2, not a
    # profile's 8, which would pend forever)
    proc = run_through_slurm(remote, *TINY, *FAST, "--set-resources", "train_run:gpu=1")
    slurm_seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    jobs = [j for j in slurm_jobs() if j["JobId"] not in before]
    by_rule: dict[str, int] = {}
    for job in jobs:
        assert job["JobState"] == "COMPLETED", job
        rule = re.match(r"rule_(\w+?)(_wildcards_.*)?$", job["Comment"]).group(1)
        by_rule[rule] = by_rule.get(rule, 0) + 1
    assert by_rule == counts  # every job of the plan ran as a Slurm job, and nothing else did
    trains = [j for j in jobs if j["Comment"].startswith("rule_train_run")]
    assert len(trains) == 2 and all(j.get("TresPerJob") == "gres:gpu:1" for j in trains), trains  # requested
    assert not any("gpu" in j.get("TresPerJob", "") for j in jobs if j not in trains)
    assert all("mem=3000M" in j["TRES"] for j in trains)  # models.tiny_llama.resources.mem_mb
    assert all("cpu=2" in j["TRES"] and j["TimeLimit"] == "00:30:00" for j in trains), trains  # cpus, runtime
    # every rule's own memory and time, not the profile's 4,000 MB and 60 minutes: model_weights in
    # proportion to the tiny model's parameters, the data stage its declared 180 minutes
    weights = [j for j in jobs if j["Comment"].startswith("rule_model_weights")]
    assert [j["TRES"].split("mem=")[1].split(",")[0] for j in weights] == ["500M"], weights
    shards = [j for j in jobs if j["Comment"].startswith("rule_samanantar_shards")]
    assert [j["TimeLimit"] for j in shards] == ["03:00:00"], shards
    for run in TINY_RUNS:  # and given: Slurm set the job's visible device
        log = (remote / "results" / "logs" / "train" / "tiny_llama" / f"{run}.log").read_text()
        assert "CUDA_VISIBLE_DEVICES=0 " in log, log[:2000]

    # deterministic results are equal, file by file
    def without_paths(rel):  # the quality files name their inputs by absolute path: the two copies differ there
        record = json.loads((local / rel).read_text()), json.loads((remote / rel).read_text())
        return [{k: v for k, v in r.items() if k != "inputs"} for r in record]

    for rel in ("results/data/samanantar/en-te/quality.json", "results/data/guanaco/quality.json",
                "results/evalsets/sets.json"):
        a, b = without_paths(rel)
        assert a == b, rel
    assert (local / "results/fertility/summary.csv").read_bytes() == (remote / "results/fertility/summary.csv").read_bytes()
    for rel in ("results/prompts/llama2_study/samanantar/200/train.parquet", "results/evalsets/embedded.parquet"):
        assert pq.read_table(local / rel).equals(pq.read_table(remote / rel)), rel
    for run in TINY_RUNS:
        a, b = (json.loads((w / f"results/train/tiny_llama/{run}/metrics.json").read_text()) for w in (local, remote))
        assert a["steps"] == b["steps"] == 4
        assert a["eval_loss"] == pytest.approx(b["eval_loss"], rel=1e-3), run
    assert (remote / "results" / "report.html").exists()

    n = sum(counts.values())
    report = {"local_seconds": local_seconds, "slurm_seconds": slurm_seconds, "jobs": n,
              "overhead_per_job_seconds": (slurm_seconds - local_seconds) / n}
    print("\nslurm timing:", json.dumps(report))
    (Path(__file__).resolve().parents[1] / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (Path(__file__).resolve().parents[1] / "bench" / "out" / "slurm.json").write_text(json.dumps(report, indent=2) + "\n")


def test_a_job_slurm_rejects_ends_the_run_with_its_message(cluster, tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    # two GPUs on a node with one: sbatch refuses the job at once
    proc = run_through_slurm(wf, "results/data/guanaco/quality.json", "--set-resources", "guanaco_shards:gpu=2",
                             *FAST, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), "the run hung or succeeded"
    assert "Requested node configuration is not available" in output
