"""Which device a training job uses.

`snakemake --resources gpu=N` only caps how many GPU jobs run at once; it does not say which
GPU each job gets. Each job therefore takes an exclusive lock on one GPU (a file lock per
device, released when the process ends, even if it crashes), so two concurrent jobs never
share a GPU while another sits idle.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

import torch

log = logging.getLogger("noisesparse")
LOCK_DIR = "results/partial/locks"


def gpu_count() -> int:
    # NOISESPARSE_FAKE_GPUS lets tests exercise assignment on machines without a GPU.
    fake = os.environ.get("NOISESPARSE_FAKE_GPUS")
    return int(fake) if fake is not None else torch.cuda.device_count()


class DeviceLease:
    """An exclusive claim on one device; `release()` or process exit frees it."""

    def __init__(self, device: torch.device, handle=None):
        self.device, self._handle = device, handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def acquire(requested: str = "auto", lock_dir: str = LOCK_DIR, wait_s: float | None = None,
            poll_s: float = 2.0) -> DeviceLease:
    """Lease a device. "auto": the first free GPU (waiting up to wait_s, None = forever),
    or the CPU when there is none. An explicit "cuda:1" or "cpu" is used as given."""
    if requested not in ("auto", "cuda"):
        dev = torch.device(requested)
        if dev.type == "cuda" and gpu_count() == 0:
            log.warning("%s requested but no GPU is available: running on CPU", requested)
            dev = torch.device("cpu")
        return DeviceLease(dev)
    n = gpu_count()
    if n == 0:
        log.info("no GPU found: running on CPU")
        return DeviceLease(torch.device("cpu"))
    Path(lock_dir).mkdir(parents=True, exist_ok=True)
    start = time.time()
    while True:
        for i in range(n):
            handle = open(Path(lock_dir) / f"gpu{i}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            log.info("training on cuda:%d (%d GPU(s) visible)", i, n)
            return DeviceLease(torch.device(f"cuda:{i}"), handle)
        if wait_s is not None and time.time() - start > wait_s:
            raise TimeoutError(f"all {n} GPU(s) stayed busy for {wait_s:.0f} s")
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
