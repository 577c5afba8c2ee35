"""What a careless or hostile user meets at the level of the whole workflow: a kill (SIGKILL, by PID)
during each long stage of the tiny configuration, a full disk, and the strictness of every JSON the
workflow writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import TINY, copy_workflow, snakemake

pytestmark = pytest.mark.workflow

# The long stages, in the order a run reaches them, each with what shows that its job is at work:
# a temporary output of the job, a complete checkpoint, or the job's log.
STAGES = [
    ("shards", "results/data/samanantar/en-te/.shards.tmp-*"),
    ("prompts", "results/prompts/llama2_study/*/.*.tmp-*"),
    ("weights", "resources/models/.tiny_llama.tmp-*"),
    ("training", "results/checkpoints/tiny_llama/samanantar/corrected/200/seed42/*/checkpoint-2/trainer_state.json"),
    ("evaluation", "results/logs/eval/tiny_llama/base.log"),
    ("report", "results/logs/report/report.log"),
]
LEFTOVERS = ("**/.*.tmp-*", "**/*.tmp-*", "**/incomplete-checkpoint-*", "**/.*.part", "**/.*.piece")


def start(workdir: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *TINY], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def kill_when(proc: subprocess.Popen, workdir: Path, pattern: str, timeout: float = 900) -> bool:
    """SIGKILL the whole run (Snakemake and its jobs) as soon as `pattern` exists; False when the run
    ended first."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if list(workdir.glob(pattern)):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.02)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError(f"{pattern} did not appear within {timeout} s")
    return False


def test_a_kill_at_any_stage_leaves_nothing_behind_and_the_rerun_equals_an_uninterrupted_run(tmp_path, tiny_run):
    reference, _ = tiny_run
    wf = copy_workflow(tmp_path / "wf")
    killed = []
    for stage, pattern in STAGES:
        proc = start(wf)
        if kill_when(proc, wf, pattern):
            killed.append(stage)
        snakemake(wf, "--unlock", *TINY)  # what a user does after a kill: the lock of the dead run goes
    assert killed == [stage for stage, _ in STAGES], killed
    snakemake(wf, "--cores", "2", *TINY)

    leftovers = [str(p.relative_to(wf)) for root in ("results", "resources") for pattern in LEFTOVERS
                 for p in (wf / root).glob(pattern)]
    assert not leftovers, leftovers
    checkpoints = wf / "results" / "checkpoints"
    assert not [p for p in checkpoints.rglob("*") if p.is_file()] if checkpoints.exists() else True
    # training resumed from the checkpoint the kill left, and ended where an uninterrupted run ends
    metrics = json.loads((wf / "results/train/tiny_llama/samanantar/corrected/200/seed42/metrics.json").read_text())
    assert metrics["resumed_from"] == "checkpoint-2" and metrics["steps"] == 4
    # the deterministic results equal those of the uninterrupted run
    for rel in ("results/data/samanantar/en-te/shards", "results/data/guanaco/shards",
                "results/prompts/llama2_study/samanantar/200", "results/evalsets"):
        files = sorted(p.relative_to(reference / rel) for p in (reference / rel).rglob("*.parquet"))
        assert files == sorted(p.relative_to(wf / rel) for p in (wf / rel).rglob("*.parquet")), rel
        for f in files:
            assert (reference / rel / f).read_bytes() == (wf / rel / f).read_bytes(), f"{rel}/{f}"
    assert (reference / "results/fertility/summary.csv").read_bytes() == (wf / "results/fertility/summary.csv").read_bytes()
    uninterrupted = json.loads((reference / "results/train/tiny_llama/samanantar/corrected/200/seed42/metrics.json").read_text())
    assert metrics["eval_loss"] == pytest.approx(uninterrupted["eval_loss"], rel=1e-3)
    assert (wf / "results" / "report.html").exists()
    print(f"\nkills survived with nothing left behind: {len(killed)} ({', '.join(killed)})")


def strict(path: Path):
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda c: pytest.fail(f"{path}: {c} is not JSON"))


def test_every_json_the_workflow_writes_is_strict(tiny_run):
    wf, _ = tiny_run
    files = sorted((wf / "results").rglob("*.json")) + sorted((wf / "resources").rglob("source.json"))
    assert len(files) > 10
    for path in files:
        strict(path)


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (root and mount(8) needed; skipped, with the reason, where the test cannot make one)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_ends_the_job_with_one_message_and_no_partial_output(small_disk, tmp_path, capsys):
    from conftest import samanantar_args, write_release

    from telugu_llm.data.samanantar import build_samanantar
    from telugu_llm.logs import logged

    en = [f"Sentence number {i} about the monsoon and the harvest in the villages." for i in range(20000)]
    te = [f"గ్రామాల్లో వర్షాలు, పంటల గురించి వాక్యం సంఖ్య {i}." for i in range(20000)]
    root = write_release(tmp_path / "corpus", "te", en, te)
    with pytest.raises(SystemExit) as stop:
        with logged(tmp_path / "job.log"):
            build_samanantar(**samanantar_args(source="local", lang="te", path=root, rows_per_shard=1000),
                             out_dir=small_disk / "shards", quality_path=small_disk / "quality.json")
    assert stop.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no space left on the device"), err
    assert "Traceback" not in (tmp_path / "job.log").read_text()
    assert list(small_disk.iterdir()) == []  # nothing partial: no shards, no temporary folder, no quality file


def test_a_full_disk_fails_the_workflow_with_its_message(small_disk, tmp_path):
    """The results folder on a full disk: the data stage stops with the message, nothing partial."""
    from conftest import write_release

    wf = copy_workflow(tmp_path / "wf")
    en = [f"Sentence number {i} about the monsoon and the harvest in the villages." for i in range(20000)]
    te = [f"గ్రామాల్లో వర్షాలు, పంటల గురించి వాక్యం సంఖ్య {i}." for i in range(20000)]
    write_release(wf / "corpus", "te", en, te)
    (wf / "local.yaml").write_text("samanantar: {source: local, path: corpus}\n")
    (small_disk / "filler").write_bytes(b"\0" * (2 * 1024 * 1024 - 200 * 1024))  # 200 KiB left: logs fit, shards not
    (wf / "results").symlink_to(small_disk)
    proc = snakemake(wf, "--cores", "1", "results/data/samanantar/en-te/quality.json", "--configfile", "local.yaml",
                     check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "no space left on the device" in output, output[-3000:]
    assert not (wf / "results" / "data" / "samanantar" / "en-te" / "shards").exists()
    assert not list((wf / "results").rglob("*.tmp-*"))


def listing(root: Path) -> dict[str, int]:
    """Every file under `root` with its size, but Snakemake's own bookkeeping (.snakemake)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and ".snakemake" not in p.parts}


@pytest.mark.parametrize("kind, name, target", [
    ("fertility.corpora", "..", "fertility"),                # resources/corpora/.. is resources/: was removed on failure
    ("tokenizers", "../../../tmp/pwn_tok", "tokenizers"),    # was written beside the project, exit 0
    ("models", ".", "results/report.html"),                  # resources/models/. is the folder of every model's weights
    ("vocab.extend", "..", "results/report.html"),
])
def test_a_name_that_leaves_its_folder_changes_no_file_in_or_outside_the_project(tmp_path, kind, name, target):
    """The data-loss and path-escape cases of issue 22 end to end, offline (a hub fetch fails, as
    when Snakemake removed the failed job's output `resources/corpora/..`): one error naming the
    key before any job, and every file under resources/ and beside the project as it was."""
    import yaml
    from test_names_and_bounds import renamed

    wf = copy_workflow(tmp_path / "projects" / "wf")
    for kept in ("resources/tokenizers/llama2/tokenizer.json", "resources/models/smollm2_135m/model.safetensors",
                 "resources/corpora/flores/pairs.parquet"):
        (wf / kept).parent.mkdir(parents=True, exist_ok=True)
        (wf / kept).write_text("what an earlier run retrieved")
    (tmp_path / "projects" / "notes.txt").write_text("a file beside the project")
    (wf / "case.yaml").write_text(yaml.safe_dump(renamed(kind, name), allow_unicode=True))
    before = listing(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", target, "--configfile", "case.yaml"],
                          cwd=wf, capture_output=True, text=True, env=env)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"invalid configuration: config key {kind}" in output and repr(name) in output, output
    assert "Traceback" not in output
    assert listing(tmp_path) == before
