"""A real single-node Slurm for tests (Debian's slurmctld, slurmd and munge; see shared/slurm.md).

`single_node_slurm` installs the packages where they are missing (root and apt-get needed), writes
`/etc/slurm/slurm.conf` and `gres.conf` (the Snakemake plugin's inner srun only finds the config
there), declares one stand-in GPU (a character device), starts munged, slurmctld and slurmd in the
foreground as child processes, waits until the node is idle, and on the way out (also on failure)
stops every daemon it started by PID and removes the files it wrote. It refuses to touch a
slurm.conf it did not write: a machine with a real Slurm is left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MARKER = "# written by the telugu-llm test suite"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "sinfo")
PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
CONF = Path("/etc/slurm/slurm.conf")
GRES = Path("/etc/slurm/gres.conf")


class Unavailable(Exception):
    """Why a real Slurm cannot be started here (the test is skipped with this reason)."""


def ensure_installed() -> None:
    if os.geteuid() != 0:
        raise Unavailable("a real Slurm needs root (it writes /etc/slurm and runs munged, slurmctld and slurmd)")
    missing = [b for b in BINARIES if not shutil.which(b)]
    if missing and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], env=env,
                       capture_output=True, timeout=600)
        missing = [b for b in BINARIES if not shutil.which(b)]
    if missing:
        raise Unavailable(f"Slurm is not installed and could not be ({', '.join(missing)} missing; "
                          f"apt-get install {' '.join(PACKAGES)})")
    if CONF.exists() and MARKER not in CONF.read_text(errors="replace"):
        raise Unavailable(f"{CONF} exists and was not written by this test suite: a real Slurm is left alone")


def node_line(gpus: int) -> tuple[str, str]:
    """This machine as a Slurm node (from `slurmd -C`), memory lowered so it is never drained."""
    out = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.split("\n")[0]
    fields = dict(part.split("=", 1) for part in out.split() if "=" in part)
    name = fields["NodeName"]
    memory = int(int(fields["RealMemory"]) * 0.95)
    gres = f" Gres=gpu:{gpus}" if gpus else ""
    return name, (f"NodeName={name} NodeAddr=127.0.0.1 CPUs={fields['CPUs']} Boards={fields.get('Boards', 1)} "
                  f"SocketsPerBoard={fields.get('SocketsPerBoard', 1)} CoresPerSocket={fields.get('CoresPerSocket', 1)} "
                  f"ThreadsPerCore={fields.get('ThreadsPerCore', 1)} RealMemory={memory}{gres} State=UNKNOWN")


def write_config(root: Path, gpus: int) -> str:
    name, node = node_line(gpus)
    for sub in ("state", "spool"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(f"""{MARKER}
ClusterName=telugu-llm-test
SlurmctldHost={socket.gethostname()}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/jobcomp.txt
{"GresTypes=gpu" if gpus else ""}
{node}
PartitionName=main Nodes={name} Default=YES MaxTime=INFINITE State=UP
""")
    if gpus:
        devices = []
        for i in range(gpus):
            device = root / f"gpu{i}"
            if not device.exists():
                os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a character device like /dev/null
            devices.append(str(device))
        GRES.write_text(f"{MARKER}\nNodeName={name} Name=gpu File={','.join(devices)}\n")
    elif GRES.exists() and MARKER in GRES.read_text(errors="replace"):
        GRES.unlink()
    return name


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise RuntimeError(f"timed out waiting for {what}")


@contextlib.contextmanager
def single_node_slurm(root: Path, gpus: int = 1):
    """Start the cluster; yield {node, root, log}. Every daemon is stopped by PID on the way out."""
    ensure_installed()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    wrote = []

    def terminated(signum, frame):  # a SIGTERM to the test process still runs the clean-up below
        raise SystemExit(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        node = write_config(root, gpus)
        wrote = [p for p in (CONF, GRES) if p.exists()]
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge") if _has_user("munge") else None
        logs = open(root / "daemons.log", "ab")
        procs.append(subprocess.Popen(["munged", "-F", "--force"], stdout=logs, stderr=logs))
        wait_until(munge_answers, 20, "munged")
        procs.append(subprocess.Popen(["slurmctld", "-D", "-i"], stdout=logs, stderr=logs))
        wait_until(lambda: subprocess.run(["scontrol", "ping"], capture_output=True, text=True).stdout.count("UP") > 0,
                   30, "slurmctld")
        procs.append(subprocess.Popen(["slurmd", "-D"], stdout=logs, stderr=logs))
        wait_until(lambda: subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True)
                   .stdout.strip() == "idle", 60, "the node to be idle")
        yield {"node": node, "root": root, "pids": [p.pid for p in procs]}
    finally:
        if procs:  # jobs first: a batch job would outlive the daemons
            subprocess.run(["scancel", "--full", "--quiet", "--user", "root"], capture_output=True, timeout=30)
            with contextlib.suppress(RuntimeError):
                wait_until(lambda: not subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
                           .stdout.strip(), 30, "cancelled jobs to end")
        for proc in reversed(procs):  # by PID, never by name
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        for path in wrote:
            if path.exists() and MARKER in path.read_text(errors="replace"):
                path.unlink()
        signal.signal(signal.SIGTERM, previous)


def munge_answers() -> bool:
    """munged is up when a credential it makes can be decoded (a stale socket file is not enough)."""
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=5)
        return cred.returncode == 0 and subprocess.run(["unmunge"], input=cred.stdout, capture_output=True,
                                                       timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def jobs(root: Path) -> list[dict]:
    """The scheduler's records of finished jobs (jobcomp/filetxt: one line per job)."""
    path = Path(root) / "jobcomp.txt"
    records = []
    if path.exists():
        for line in path.read_text().splitlines():
            records.append(dict(part.split("=", 1) for part in line.split() if "=" in part))
    return records
