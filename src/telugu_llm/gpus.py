"""GPU slots for local runs: which of a host's GPUs a job uses.

Snakemake's `resources: gpu=N` is only a counter (it never sets CUDA_VISIBLE_DEVICES), so two
single-GPU jobs on one host would both use GPU 0. A job that runs outside Slurm with
CUDA_VISIBLE_DEVICES unset claims free GPU indices here: one lock file per GPU under a host-wide
folder, held with flock(2) for as long as the job (and the processes it starts) lives. The kernel
releases a lock when the last process holding it exits, however it exits (SIGKILL included), so a
killed job never leaves its slot taken. Under Slurm, or where CUDA_VISIBLE_DEVICES is already set,
the GPUs given are kept: Slurm sets it from the job's GPU request.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

log = logging.getLogger(__name__)

VISIBLE = "CUDA_VISIBLE_DEVICES"
# host-wide, so that two workflows (two working directories) on one host share the slots
DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "telugu-llm-gpu-slots"


@dataclass(frozen=True)
class Slots:
    """GPUs claimed: their indices, and the lock descriptors a child process must inherit
    (subprocess's pass_fds) to keep holding them."""

    indices: list[int]
    fds: list[int]


def host_gpus() -> int:
    """NVIDIA GPUs of this host, counted without initialising CUDA in this process (after which
    CUDA_VISIBLE_DEVICES would no longer apply to it): the driver's folder per GPU."""
    folder = Path("/proc/driver/nvidia/gpus")
    return len(list(folder.iterdir())) if folder.is_dir() else 0


def gpus_needed(device: str, processes: int) -> int:
    """GPUs a job uses: one per process on `cuda`, and on `auto` where the host has a GPU."""
    if device == "cuda" or (device == "auto" and host_gpus() > 0):
        return processes
    return 0


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a reader wondering why a slot is busy
    return fd


def _lock_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # shared by every user of the host, like /tmp
        os.chmod(path, 0o1777)
    return path


@contextlib.contextmanager
def gpu_slots(count: int, *, total: int | None = None, lock_dir: Path | None = None, wait_seconds: float = 5.0,
              environ: dict | None = None) -> Iterator[Slots | None]:
    """Claim `count` free GPUs of this host and set CUDA_VISIBLE_DEVICES to them in `environ`
    (os.environ by default) for the duration; yield them (Slots). Yields None and changes nothing
    when `count` is 0, under Slurm (SLURM_JOB_ID), or when CUDA_VISIBLE_DEVICES is already set.
    Waits (holding none) while fewer than `count` are free. The lock descriptors are inheritable, so processes
    started inside (torchrun's) hold the slots too, even if this process is killed first."""
    env = os.environ if environ is None else environ
    if count <= 0 or "SLURM_JOB_ID" in env or env.get(VISIBLE) is not None:
        if count > 0:
            log.info("GPUs given by %s: %s=%s", "Slurm" if "SLURM_JOB_ID" in env else "the environment",
                     VISIBLE, env.get(VISIBLE, "unset"))
        yield None
        return
    total = host_gpus() if total is None else total
    if count > total:
        raise InputError(f"the job needs {count} GPU(s) (models.<name>.resources.processes), this host has {total}")
    folder = _lock_dir(Path(lock_dir) if lock_dir is not None else DEFAULT_LOCK_DIR)
    held: dict[int, int] = {}
    waited = False
    try:
        while True:
            for index in range(total):
                if index not in held and len(held) < count:
                    fd = _try_lock(folder / f"gpu{index}.lock")
                    if fd is not None:
                        held[index] = fd
            if len(held) == count:
                break
            for fd in held.values():  # all or none: two jobs each holding part of what both need would wait forever
                os.close(fd)
            held.clear()
            if not waited:
                log.info("waiting for %d free GPU(s) of %d (slots under %s)", count - len(held), total, folder)
                waited = True
            time.sleep(wait_seconds)
        for fd in held.values():
            os.set_inheritable(fd, True)
        slots = sorted(held)
        previous = env.get(VISIBLE)
        env[VISIBLE] = ",".join(map(str, slots))
        log.info("claimed GPU slot(s) %s of %d: %s=%s", slots, total, VISIBLE, env[VISIBLE])
        try:
            yield Slots(slots, [held[i] for i in slots])
        finally:
            if previous is None:
                env.pop(VISIBLE, None)
            else:
                env[VISIBLE] = previous
    finally:
        for fd in held.values():
            os.close(fd)
