"""What each job asks of its host or cluster (issue 20, defect 4): GPU slots for local runs, the
memory, time and threads every rule declares at the study's size, and training jobs that continue
past a cluster's time limit."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import REPO, copy_workflow, snakemake
from telugu_llm.errors import InputError
from telugu_llm.gpus import VISIBLE, gpu_slots

SRC = REPO / "src"


# --- GPU slots ---------------------------------------------------------------------------------

def holder(lock_dir: Path, total: int, count: int = 1, child: bool = False) -> subprocess.Popen:
    """A process that claims `count` of `total` fake GPUs, prints its CUDA_VISIBLE_DEVICES and
    sleeps; with `child`, it starts a process that inherits the slots and exits itself."""
    code = textwrap.dedent(f"""
        import subprocess, sys, time
        from telugu_llm.gpus import gpu_slots
        with gpu_slots({count}, total={total}, lock_dir={str(lock_dir)!r}, wait_seconds=0.1) as slots:
            import os
            print(os.environ["CUDA_VISIBLE_DEVICES"], flush=True)
            if {child}:
                p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=slots.fds)
                print(p.pid, flush=True)
                sys.exit(0)
            time.sleep(60)
    """)
    env = {k: v for k, v in os.environ.items() if k not in (VISIBLE, "SLURM_JOB_ID")}
    env["PYTHONPATH"] = str(SRC)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    return proc


def claimed(proc: subprocess.Popen) -> str:
    return proc.stdout.readline().strip()


def test_two_jobs_at_once_get_different_gpus(tmp_path):
    first, second = holder(tmp_path, total=2), holder(tmp_path, total=2)
    try:
        assert {claimed(first), claimed(second)} == {"0", "1"}
    finally:
        for proc in (first, second):
            proc.kill()
            proc.wait()


def test_a_killed_jobs_gpu_is_free_again(tmp_path):
    first = holder(tmp_path, total=1)
    try:
        assert claimed(first) == "0"
        waiter = holder(tmp_path, total=1)  # waits: the only slot is held
        time.sleep(1.0)
        assert waiter.poll() is None
        os.kill(first.pid, signal.SIGKILL)  # no clean-up runs: the kernel drops the lock
        first.wait()
        assert claimed(waiter) == "0"
    finally:
        first.kill()
        first.wait()
        waiter.kill()
        waiter.wait()


def test_processes_started_inside_keep_the_gpu_after_the_job_exits(tmp_path):
    """torchrun's processes inherit the locks: a job killed before them leaves its GPU taken
    until they end."""
    parent = holder(tmp_path, total=1, child=True)
    assert claimed(parent) == "0"
    child = int(parent.stdout.readline())
    assert parent.wait() == 0
    waiter = holder(tmp_path, total=1)
    try:
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting: the child holds GPU 0
        os.kill(child, signal.SIGKILL)
        assert claimed(waiter) == "0"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
        waiter.kill()
        waiter.wait()


@pytest.mark.parametrize("environ", [{"SLURM_JOB_ID": "7", VISIBLE: "3"}, {VISIBLE: "1"}, {"SLURM_JOB_ID": "7"}])
def test_gpus_given_by_slurm_or_the_user_are_kept(tmp_path, environ):
    env = dict(environ)
    with gpu_slots(1, total=4, lock_dir=tmp_path, environ=env) as slots:
        assert slots is None and env == environ
    assert not list(tmp_path.iterdir())  # nothing claimed


def test_a_claim_sets_and_restores_cuda_visible_devices(tmp_path):
    env = {}
    with gpu_slots(2, total=3, lock_dir=tmp_path, environ=env) as slots:
        assert slots.indices == [0, 1] and env[VISIBLE] == "0,1"
        other = {}
        with gpu_slots(1, total=3, lock_dir=tmp_path, environ=other) as more:
            assert more.indices == [2] and other[VISIBLE] == "2"
    assert env == {}
    with gpu_slots(0, total=3, lock_dir=tmp_path, environ=env) as none:  # a CPU job claims nothing
        assert none is None and env == {}


def test_more_gpus_than_the_host_has_is_an_error(tmp_path):
    with pytest.raises(InputError, match="needs 2 GPU\\(s\\).*this host has 1"):
        with gpu_slots(2, total=1, lock_dir=tmp_path, environ={}):
            pass


# --- what each job declares ----------------------------------------------------------------------

# rules whose resources are set elsewhere: the vocabulary stage (rules/vocab.smk)
OWN_RULE_FILES = ("data", "tokens", "prompts", "train", "evaluation", "report")
PAPER = ["--configfile", "config/paper.yaml"]


def declared(workdir: Path, *args: str) -> dict[str, list[dict]]:
    """Rule -> the threads and resources of each job of a dry run (as Snakemake prints them)."""
    proc = snakemake(workdir, "-n", "results/report.html", *args)
    jobs: dict[str, list[dict]] = {}
    job = None
    for line in proc.stdout.splitlines():
        if line.startswith(("rule ", "localrule ")) and line.endswith(":"):
            job = {"resources": {}}
            jobs.setdefault(line.split()[1].rstrip(":"), []).append(job)
        elif job is not None and line.startswith("    threads: "):
            job["threads"] = int(line.split(": ")[1])
        elif job is not None and line.startswith("    wildcards: "):
            job["wildcards"] = dict(part.split("=", 1) for part in line.split(": ", 1)[1].split(", "))
        elif job is not None and line.startswith("    resources: "):
            for part in line.split(": ", 1)[1].split(", "):
                key, _, value = part.partition("=")
                job["resources"][key] = int(value) if value.isdigit() else value
    return jobs


def own_rules() -> set[str]:
    import re

    names = set()
    for name in OWN_RULE_FILES:
        text = (REPO / "rules" / f"{name}.smk").read_text()
        # a rule that runs something (a script), not a target that only lists inputs
        for block in re.split(r"^rule ", text, flags=re.M)[1:]:
            if "script:" in block:
                names.add(block.split(":", 1)[0])
    return names


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The jobs of config/paper.yaml through the Slurm profile, with a profile default no rule
    should fall back on (1 MB, 1 minute)."""
    wf = copy_workflow(tmp_path_factory.mktemp("study") / "wf")
    return declared(wf, "--workflow-profile", "profiles/slurm", "--default-resources", "mem_mb=1", "runtime=1", *PAPER)


def test_every_job_of_the_study_declares_its_memory_and_time(study):
    rules = own_rules()
    assert {"model_weights", "samanantar_shards", "format_prompts", "train_run", "evaluate_run"} <= rules
    missing = sorted({rule for rule in rules & set(study) for job in study[rule]
                      if job["resources"].get("mem_mb", 1) <= 1 or job["resources"].get("runtime", 1) <= 1})
    assert not missing, f"rules that fall back on the profile's default memory or time: {missing}"


def test_no_job_of_the_study_asks_for_more_than_16_gib(study):
    """Issue 20: no job of the study above 16 GiB of host memory. model_weights asked 16,800 and
    18,000 MB (a slope of 2.2 bytes a parameter; 2.0 measured at 7B, bench/host_memory_7b.py), and
    training and evaluation 48,000 (about 5.6 GiB anonymous measured at 7B)."""
    limit = 16 * 2**30 / 1e6  # MB, as Snakemake's mem_mb
    over = sorted({(rule, job["resources"]["mem_mb"]) for rule, jobs in study.items() for job in jobs
                   if job["resources"].get("mem_mb", 0) > limit})
    assert not over, over


def test_the_weights_job_of_a_7b_model_asks_for_its_measured_memory(study):
    """model_weights loads a model in fp16 (2 bytes a parameter) and copies each shard it writes:
    bench/weights_memory.py measured BYTES_PER_PARAMETER; 4,000 MB was the profile's default."""
    from telugu_llm.jobsize import BYTES_PER_PARAMETER

    asked = {job["wildcards"]["model"]: job["resources"]["mem_mb"] for job in study["model_weights"]}
    assert set(asked) == {"llama2_7b_chat", "mistral_7b_instruct"}
    for model, billions in (("llama2_7b_chat", 6.74), ("mistral_7b_instruct", 7.24)):
        assert asked[model] >= billions * 1e3 * BYTES_PER_PARAMETER, (model, asked[model])
    assert asked["mistral_7b_instruct"] > asked["llama2_7b_chat"]  # in proportion to the parameters


def test_training_and_evaluation_take_the_models_threads_not_every_core(workflow):
    """Under --cores 8, each job takes models.<name>.resources.cpus (default 2), so four run side
    by side; before, each took all 8 and they ran one at a time."""
    config = workflow / "threads.yaml"
    config.write_text("models:\n  gemma3_270m:\n    resources: {cpus: 3}\n")
    jobs = declared(workflow, "--cores", "8", "--configfile", str(config))
    for rule in ("train_run", "evaluate_run"):
        threads = {job["wildcards"]["model"]: job["threads"] for job in jobs[rule]}
        assert threads.pop("gemma3_270m") == 3 and set(threads.values()) == {2}, (rule, threads)


def test_an_evaluation_takes_one_training_processs_share_of_the_cpus(workflow):
    """An evaluation is one process: with processes 2 and cpus 2 it takes 1 core (a training
    process's share), so that two run side by side on 2 cores; before, each took both and the
    rehearsal's 37 evaluations ran one at a time at about one core of use each."""
    config = workflow / "share.yaml"
    config.write_text("models:\n  gemma3_270m:\n    resources: {cpus: 2, processes: 2}\n"
                      "  smollm2_135m:\n    resources: {cpus: 5, processes: 2}\n")
    jobs = declared(workflow, "--cores", "8", "--configfile", str(config))
    train = {job["wildcards"]["model"]: job["threads"] for job in jobs["train_run"]}
    evaluate = {job["wildcards"]["model"]: job.get("threads", 1) for job in jobs["evaluate_run"]}  # 1 is not printed
    assert train["gemma3_270m"] == 2 and train["smollm2_135m"] == 5, train
    assert evaluate["gemma3_270m"] == 1 and evaluate["smollm2_135m"] == 2, evaluate


def test_a_training_job_asks_for_the_lesser_of_its_plan_and_the_clusters_limit(workflow):
    """A 110-hour run (6,600 minutes) under a 48-hour limit asks for 48 hours an attempt; one
    within the limit asks for its own time."""
    config = workflow / "limit.yaml"
    config.write_text("train: {max_job_minutes: 2880}\n"
                      "models:\n  gemma3_270m:\n    resources: {runtime: 6600}\n"
                      "  smollm2_135m:\n    resources: {runtime: 90}\n")
    jobs = declared(workflow, "--cores", "2", "--configfile", str(config))
    runtime = {job["wildcards"]["model"]: job["resources"]["runtime"] for job in jobs["train_run"]}
    assert runtime["gemma3_270m"] == 2880 and runtime["smollm2_135m"] == 90, runtime
    # an evaluation cannot resume: it too asks for no more than the limit, which a cluster refuses
    assert {job["resources"]["runtime"] for job in jobs["evaluate_run"] if job["wildcards"]["model"] == "gemma3_270m"} == {2880}
    (workflow / "nolimit.yaml").write_text("train: {max_job_minutes: null}\n")
    unlimited = declared(workflow, "--cores", "2", "--configfile", str(config), str(workflow / "nolimit.yaml"))
    assert {job["resources"]["runtime"] for job in unlimited["train_run"]
            if job["wildcards"]["model"] == "gemma3_270m"} == {6600}


def test_parameters_of_the_study_shapes_are_the_published_counts():
    from telugu_llm.jobsize import decoder_parameters
    from telugu_llm.train.weights import RANDOM_SHAPES

    assert decoder_parameters(RANDOM_SHAPES["llama"]["7b"], 32000) * 1e9 == pytest.approx(6_738_415_616)
    assert decoder_parameters(RANDOM_SHAPES["mistral"]["7b"], 32000) * 1e9 == pytest.approx(7_241_732_096)


@pytest.mark.parametrize("planned, limit, minutes, retries", [
    ([6600, 120], 2880, 2880, 3),    # 110 h under 48 h: three attempts' worth, plus one
    ([2000], 2880, 2000, 1),         # within the limit: one spare attempt (a node lost)
    ([6600], None, 6600, None),      # no limit: the planned time, Snakemake's own --retries
])
def test_job_time_and_retries_under_a_limit(planned, limit, minutes, retries):
    from telugu_llm.jobsize import job_minutes, job_retries

    assert job_minutes(planned[0], limit) == minutes
    assert job_retries(planned, limit) == retries
    if limit:  # the attempts cover the longest run
        assert (retries + 1) * limit >= max(planned)


RETRIES = """
import sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings
wd = Path.cwd()
with SnakemakeApi(OutputSettings()) as api:
    wf = api.workflow(resource_settings=ResourceSettings(), storage_settings=StorageSettings(), workdir=wd,
                      config_settings=ConfigSettings(configfiles=[Path(p) for p in sys.argv[1:]]),
                      snakefile=wd / "Snakefile")
    # the rule's own retries (None: Snakemake's --retries, which the Slurm profile sets to 0)
    print("RETRIES", {r.name: r._restart_times for r in wf._workflow.rules})
"""


def test_training_jobs_are_retried_as_often_as_the_longest_run_needs(workflow):
    """With the cluster's limit set, a 110-hour run under 48 hours gets 3 retries (and resumes from
    its checkpoint each time); no other rule is retried, and without a limit nothing is."""
    import ast

    (workflow / "limit.yaml").write_text("train: {max_job_minutes: 2880}\n"
                                         "models:\n  gemma3_270m:\n    resources: {runtime: 6600}\n")

    def retries(*configs):
        proc = subprocess.run([sys.executable, "-c", RETRIES, *configs], cwd=workflow, capture_output=True, text=True)
        line = next((l for l in proc.stdout.splitlines() if l.startswith("RETRIES ")), None)
        assert line, proc.stdout[-2000:] + proc.stderr[-2000:]
        return {rule: n for rule, n in ast.literal_eval(line[8:]).items() if n}

    assert retries(str(workflow / "limit.yaml")) == {"train_run": 3}
    assert retries() == {}


def test_a_job_waiting_for_gpus_holds_none_of_them(tmp_path):
    """Claims are all or nothing: a 2-GPU job waiting on a host where one of two is busy leaves
    the free one to a 1-GPU job."""
    procs = [holder(tmp_path, total=2)]
    try:
        assert claimed(procs[0]) == "0"
        procs.append(holder(tmp_path, total=2, count=2))
        time.sleep(1.0)
        assert procs[1].poll() is None  # waiting
        procs.append(holder(tmp_path, total=2))
        assert claimed(procs[2]) == "1"  # before: the waiting pair held GPU 1, and this one waited too
        procs[0].kill()
        procs[2].kill()
        assert claimed(procs[1]) == "0,1"
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
