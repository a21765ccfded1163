"""Which device a training job uses.

`snakemake --resources gpu=N` only caps how many GPU jobs run at once; it does not say which
GPU each job gets. Two cases:

- A scheduler assigned the GPU: SLURM (SLURM_JOB_ID with SLURM_STEP_GPUS, SLURM_JOB_GPUS or
  GPU_DEVICE_ORDINAL) or anything else that sets CUDA_VISIBLE_DEVICES. The visible GPUs are
  this job's. One visible GPU is used as cuda:0 without any lock: under SLURM every job sees
  its own GPU as cuda:0, so a lock shared between jobs would make jobs on other GPUs (or
  other nodes) wait for each other. Several visible GPUs (an allocation that runs several
  jobs) are shared out with locks that belong to that allocation alone.
- Nothing assigned: each job takes an exclusive lock on one of the node's GPUs.

Locks are `filelock` locks (flock: released when the process ends, even if it crashes) in a
node-local folder ($XDG_RUNTIME_DIR or the temporary directory, keyed by host name), never on
a shared filesystem, where jobs on different nodes would see each other's gpu0.lock.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import tempfile
import time
from pathlib import Path

import torch
from filelock import FileLock, Timeout

log = logging.getLogger("noisesparse")
LOCK_DIR_ENV = "NOISESPARSE_LOCK_DIR"  # override the node-local lock folder
SLURM_GPU_VARS = ("SLURM_STEP_GPUS", "SLURM_JOB_GPUS", "GPU_DEVICE_ORDINAL")


def gpu_count() -> int:
    # NOISESPARSE_FAKE_GPUS lets tests exercise assignment on machines without a GPU.
    fake = os.environ.get("NOISESPARSE_FAKE_GPUS")
    return int(fake) if fake is not None else torch.cuda.device_count()


def scheduler_assignment() -> str | None:
    """How a scheduler assigned this job its GPUs (a short description), or None."""
    env = os.environ
    if env.get("SLURM_JOB_ID"):
        for var in SLURM_GPU_VARS:
            if env.get(var, "").strip():
                return f"SLURM job {env['SLURM_JOB_ID']} ({var}={env[var]})"
    cvd = env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None and cvd.strip():
        return f"CUDA_VISIBLE_DEVICES={cvd}"
    return None


def _visible_ids(n: int) -> list[str]:
    """A node-wide name for each of the n visible GPUs: CUDA_VISIBLE_DEVICES's entries (index
    or UUID) when it lists them, else the index itself."""
    entries = [e.strip() for e in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")
               if e.strip()]
    ids = entries[:n] if len(entries) >= n else [str(i) for i in range(n)]
    return [re.sub(r"[^A-Za-z0-9_.-]", "_", i) for i in ids]


def default_lock_dir() -> Path:
    """Node-local: $NOISESPARSE_LOCK_DIR, else $XDG_RUNTIME_DIR or the temporary directory,
    in a folder per user and host (the host name keeps it node-local even where the
    temporary directory is shared), and per SLURM job (whose GPUs are its own)."""
    override = os.environ.get(LOCK_DIR_ENV)
    if override:
        return Path(override)
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    if not os.path.isdir(base):
        base = tempfile.gettempdir()
    key = socket.gethostname() or "localhost"
    if os.environ.get("SLURM_JOB_ID"):
        key += f"-slurm{os.environ['SLURM_JOB_ID']}"
    return Path(base) / f"noisesparse-gpu-locks-{os.getuid()}" / key


class DeviceLease:
    """A claim on one device; `release()` or process exit frees its lock (if any)."""

    def __init__(self, device: torch.device, lock: FileLock | None = None):
        self.device, self._lock = device, lock

    @property
    def lock_file(self) -> str | None:
        return None if self._lock is None else self._lock.lock_file

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def acquire(requested: str = "auto", lock_dir: str | os.PathLike | None = None,
            wait_s: float | None = None, poll_s: float = 2.0) -> DeviceLease:
    """Lease a device. "auto": the GPU a scheduler assigned, else the first free GPU of the
    node (waiting up to wait_s, None = forever), or the CPU when there is none. An explicit
    "cuda:1" or "cpu" is used as given. `lock_dir` defaults to `default_lock_dir()`."""
    if requested not in ("auto", "cuda"):
        dev = torch.device(requested)
        if dev.type == "cuda" and gpu_count() == 0:
            log.warning("%s requested but no GPU is available: running on CPU", requested)
            dev = torch.device("cpu")
        else:
            log.info("training on %s: requested", dev)
        return DeviceLease(dev)
    n, assigned = gpu_count(), scheduler_assignment()
    if n == 0:
        log.info("training on cpu: %s", f"{assigned} assigned GPU(s), but torch sees no CUDA "
                 f"device (CUDA available: {torch.cuda.is_available()})" if assigned
                 else "no GPU found")
        return DeviceLease(torch.device("cpu"))
    if assigned and n == 1:
        log.info("training on cuda:0, assigned by the scheduler (%s): no lock", assigned)
        return DeviceLease(torch.device("cuda:0"))
    folder = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ids = _visible_ids(n)
    start = time.time()
    while True:
        for i, gid in enumerate(ids):
            lock = FileLock(str(folder / f"gpu{gid}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            log.info("training on cuda:%d (%d GPU(s) visible%s; lock %s)", i, n,
                     f", {assigned}" if assigned else "", lock.lock_file)
            return DeviceLease(torch.device(f"cuda:{i}"), lock)
        if wait_s is not None and time.time() - start > wait_s:
            raise TimeoutError(f"all {n} GPU(s) stayed busy for {wait_s:.0f} s "
                               f"(locks in {folder})")
        time.sleep(poll_s)


def free_bytes(device: torch.device) -> int:
    """Memory free for a new ensemble: the GPU's free memory, or the host's available RAM."""
    fake = os.environ.get("NOISESPARSE_FAKE_FREE_GB")  # tests of memory-sized ensembles
    if fake is not None:
        return int(float(fake) * 2**30)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def cpu_threads(requested: int = 0) -> int:
    """CPU threads for torch: the CPUs this job was given (SLURM_CPUS_PER_TASK under SLURM,
    else the CPUs this process may run on), or fewer when `requested` (a rule's threads) is
    smaller; 0 requests all of them."""
    given = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    slurm = os.environ.get("SLURM_CPUS_PER_TASK", "")
    if os.environ.get("SLURM_JOB_ID") and slurm.isdigit():
        given = min(given, int(slurm))
    return max(1, min(given, requested) if requested > 0 else given)
