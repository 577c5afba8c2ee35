"""Shared fixtures: a throw-away copy of the workflow, and helpers to run Snakemake in it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hubserver import HubServer  # stdlib only

# A local replica of the Hugging Face hub (tests/hubserver.py), started before anything imports
# huggingface_hub or datasets: both read HF_ENDPOINT when imported. No test reaches the network:
# the hub clients talk to this server, whose repositories each test lays out (the `hub` fixture).
HUB = HubServer(Path(tempfile.mkdtemp(prefix="telugu-llm-hub-")), tokens={"hf_test_token"}).start()
for _var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.pop(_var, None)
os.environ.update({"HF_ENDPOINT": HUB.url, "HF_HOME": str(HUB.root / "home"), "HF_HUB_DISABLE_TELEMETRY": "1",
                   "HF_HUB_DISABLE_PROGRESS_BARS": "1", "NO_PROXY": "127.0.0.1,localhost",
                   "HF_UPDATE_DOWNLOAD_COUNTS": "0"})  # else datasets asks s3.amazonaws.com on every load

from telugu_llm.config import with_defaults  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = ("Snakefile", "rules", "scripts", "src", "config", "data", "envs", "profiles")


def copy_workflow(dest: Path) -> Path:
    """The tracked parts of the workflow, as a fresh clone would have them (no results)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "_parts"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs that a dry run would execute (from its job-stats table)."""
    proc = snakemake(workdir, "-n", *args, "--quiet", "rules")
    jobs: dict[str, int] = {}
    in_table = False
    for line in proc.stdout.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if not parts or parts[0] == "total":
                break
            if len(parts) == 2 and parts[1].isdigit():
                jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.fixture
def workflow(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")


# Less work per job, the same jobs: on a CPU without native bfloat16 (AVX512-BF16 or AMX) every
# bfloat16 matrix product is emulated, about 50 times slower than float32 (measured on an AVX2 AMD
# EPYC), and the embedded default's ten-step runs and 6-item evaluations take hours; the tests that
# read the default's results need every job of it, not its budget or its compute dtype. Written into
# the copy's config/config.yaml, so that every later edit of a test (and every dry run) is relative to it.
LIGHT = {"training": {"max_steps": 2, "batch_size": 2, "eval_batch_size": 2, "logging_steps": 1, "eval_steps": 2,
                      "save_steps": 2, "max_train_examples": 8, "max_eval_examples": 2},
         "quantization": {"compute_dtype": "float32"},
         "evaluation": {"max_items": 1, "max_new_tokens": 4},
         "adapt": {"max_sentences": 8, "measure": {"sentences": 4, "prompts": 2, "max_new_chars": 8}}}


def lighten(config_path: Path) -> None:
    import yaml

    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for model in config["models"].values():
        model["training"] = {**model["training"], **LIGHT["training"]}
        model["quantization"] = {**model["quantization"], **LIGHT["quantization"]}
    config["evaluation"]["max_items"] = LIGHT["evaluation"]["max_items"]
    config["evaluation"]["max_new_tokens"] = {task: LIGHT["evaluation"]["max_new_tokens"]
                                              for task in config["evaluation"]["max_new_tokens"]}
    if config.get("adapt", {}).get("enabled"):
        config["adapt"] = {**config["adapt"], **LIGHT["adapt"]}
    config_path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="session")
def built_workflow(tmp_path_factory) -> Path:
    """One end-to-end run of the embedded default (every job; `LIGHT` budgets), shared by the tests
    that only read its results."""
    wf = copy_workflow(tmp_path_factory.mktemp("built") / "wf")
    lighten(wf / "config" / "config.yaml")
    snakemake(wf, "--cores", "2", "results/report.html")
    return wf


def samanantar_args(path=None, **values) -> dict:
    """The keyword arguments of build_samanantar but the outputs: the config's `samanantar` keys
    that the shard job takes, the schema's defaults where not given."""
    section = with_defaults(values, "samanantar")
    return {**{k: v for k, v in section.items() if k not in ("subsets", "seed", "path")}, "path": path}


def guanaco_args(path=None, **values) -> dict:
    """The keyword arguments of build_guanaco but the outputs, the schema's defaults where not given."""
    return {**with_defaults(values, "guanaco"), "path": path}


TINY = ["results/report.html", "--configfile", "config/tiny.yaml"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, float]:
    """One uninterrupted local run of the tiny configuration (every stage, a tiny random Llama), and
    its wall time; the reference of the Slurm test and of the kill test."""
    import time

    wf = copy_workflow(tmp_path_factory.mktemp("tiny") / "wf")
    start = time.perf_counter()
    snakemake(wf, "--cores", "2", *TINY)
    return wf, time.perf_counter() - start


def write_release(root: Path, lang: str, src_lines: list[str] | bytes, tgt_lines: list[str] | bytes) -> Path:
    """A corpus in Samanantar's release layout; lists are joined with newlines, bytes written as is."""
    folder = root / f"en-{lang}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("train.en", src_lines), (f"train.{lang}", tgt_lines)):
        data = lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode("utf-8")
        (folder / name).write_bytes(data)
    return root


@pytest.fixture(scope="session")
def tokenizer_dirs(tmp_path_factory) -> dict[str, str]:
    """The study's two real tokenizers, retrieved and verified as the workflow does."""
    import yaml

    from telugu_llm.tokens.tokenizer import build_tokenizer

    specs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]
    root = tmp_path_factory.mktemp("tokenizers")
    out = {}
    for name in ("llama2", "mistral"):
        build_tokenizer(name, with_defaults(specs[name], "$defs/tokenizer"), root / name)
        out[name] = str(root / name)
    return out


@pytest.fixture(scope="session")
def default_tokenizer_dirs(tmp_path_factory, tokenizer_dirs) -> dict[str, str]:
    """Every tokenizer of the embedded default: the study's two, Gemma 3's (SentencePiece) and
    SmolLM2's (byte-level BPE, from its GGUF file)."""
    import yaml

    from telugu_llm.tokens.tokenizer import build_tokenizer

    specs = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["tokenizers"]
    root = tmp_path_factory.mktemp("more_tokenizers")
    out = dict(tokenizer_dirs)
    for name in sorted(set(specs) - set(out)):
        build_tokenizer(name, with_defaults(specs[name], "$defs/tokenizer"), root / name)
        out[name] = str(root / name)
    return out


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """The local hub (conftest.HUB) serving this test's own repositories from tmp_path/hub, with
    fresh caches: the datasets cache would otherwise answer for a repository read before."""
    import datasets
    import huggingface_hub

    monkeypatch.setattr(HUB, "root", tmp_path / "hub")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    monkeypatch.setattr(datasets.config, "USE_PARQUET_EXPORT", False)  # no dataset viewer here
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    huggingface_hub.HfFileSystem.clear_instance_cache()
    HUB.log.clear()
    HUB.unhandled.clear()
    yield HUB
    assert not HUB.unhandled, f"requests the local hub has no route for: {HUB.unhandled}"


# The end-to-end runs that several tests share, each on one pytest-xdist worker (`make test` runs
# `pytest -n 2 --dist loadgroup`): a session fixture is built once per worker that needs it, so
# the tests that read it go together; the Slurm tests share one single-node cluster as well.
SHARED_RUNS = {"built_workflow": "built", "tiny_run": "tiny"}


def xdist_group(item) -> str | None:
    """The group of a test under `--dist loadgroup`, or None (scheduled on its own)."""
    if item.path.name == "test_slurm.py":
        return "tiny"
    for fixture, group in SHARED_RUNS.items():
        if fixture in getattr(item, "fixturenames", ()):
            return group
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            # pytest-xdist 3.8 groups by renaming the node id to <id>@<group> (item._nodeid), which
            # pytest 9.2 no longer reads (a node's id is `_id`): without this the groups were split
            # across the workers and each worker built the default end to end again
            if getattr(config.option, "loadgroup", False) and hasattr(item, "_id"):
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(f"{item.nodeid}@{group}")
