"""Starting a training run: in one process, or in several processes started by torchrun
(torch.distributed data parallel), whose output streams into the job's log; on a GPU host outside
Slurm, on GPUs claimed for the job (gpus.gpu_slots), so that jobs side by side use different GPUs.

The launcher never trains itself, so it never imports torch, transformers or peft: it starts the
training processes at once (before, it spent 7 s importing them first, while torchrun's processes
imported them again). The modules those processes run are the job's code too: STARTED_MODULES,
which `imports.package_modules` follows."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from ..errors import InputError
from ..gpus import gpu_slots, gpus_needed
from .settings import RunSettings

log = logging.getLogger(__name__)

# the module each training process runs (`python -m`); listed here for the job's code inputs
STARTED_MODULES = ("telugu_llm.train.worker",)
# a training process that stops on bad input (errors.InputError) exits with this status, its message
# on its last line after INPUT_ERROR
INPUT_ERROR_STATUS = 3
INPUT_ERROR = "InputError: "


def launch(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, tokenized_dir: Path, out_dir: Path,
           checkpoint_root: Path, threads: int = 1) -> dict:
    """Train in one process started here, or, with `settings.processes` > 1, in that many processes started by
    torchrun (torch.distributed data parallel: gloo on CPUs, NCCL with one GPU per process), each
    loading the 4-bit model on its own device; rank 0 writes the same outputs as a single process.
    `threads` is the job's CPU cores (models.<name>.resources.cpus), shared by its processes."""
    with gpu_slots(gpus_needed(settings.device, settings.processes)) as slots:
        return _launch(settings=settings, model_dir=model_dir, tokenizer_dir=tokenizer_dir, tokenized_dir=tokenized_dir,
                       out_dir=out_dir, checkpoint_root=checkpoint_root, threads=threads,
                       keep_fds=slots.fds if slots else [])


def _launch(*, settings: RunSettings, model_dir: Path, tokenizer_dir: Path, tokenized_dir: Path, out_dir: Path,
            checkpoint_root: Path, threads: int, keep_fds: list[int]) -> dict:
    args = {"settings": asdict(settings), "model_dir": str(model_dir), "tokenizer_dir": str(tokenizer_dir),
            "tokenized_dir": str(tokenized_dir), "out_dir": str(out_dir), "checkpoint_root": str(checkpoint_root)}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(args, handle)
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, threads // settings.processes)),
           "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    worker = ["-m", STARTED_MODULES[0], handle.name]
    if settings.processes == 1:
        command = [sys.executable, "-u", *worker]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={settings.processes}", *worker]
    log.info("launching %d training process(es): %s", settings.processes, " ".join(command))
    # the GPU slots' locks go with the processes: held until the last of them exits
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, pass_fds=keep_fds)
    previous = signal.getsignal(signal.SIGTERM)

    def forward(signum, frame):  # a job killed at its time limit takes its processes with it
        os.killpg(proc.pid, signal.SIGTERM)
        raise SystemExit(f"training interrupted by signal {signum}")

    signal.signal(signal.SIGTERM, forward)
    tail: list[str] = []
    try:
        for line in proc.stdout:  # into the job's log as it comes, not at the end
            log.info("[%s] %s", "torchrun" if settings.processes > 1 else "train", line.rstrip())
            tail = (tail + [line.rstrip()])[-15:]
        proc.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)
        os.unlink(handle.name)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    messages = [line[len(INPUT_ERROR):] for line in tail if line.startswith(INPUT_ERROR)]
    if proc.returncode != 0 and messages:  # the process's one-line error, as if it had trained here
        raise InputError(messages[-1])
    if proc.returncode != 0:
        raise RuntimeError(f"training of {settings.model} on {settings.dataset} failed "
                           f"(exit {proc.returncode}):\n" + "\n".join(tail))
    return json.loads((Path(out_dir) / "metrics.json").read_text())
