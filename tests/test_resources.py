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

from telugu_llm.errors import InputError
from telugu_llm.gpus import VISIBLE, gpu_slots

SRC = Path(__file__).resolve().parents[1] / "src"


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
