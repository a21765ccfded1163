"""What made a result: the code's git commit (and whether its tree had uncommitted changes),
the torch version and the device. Recorded in every run's metrics.json."""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path

import torch


def _git(*args: str) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


@functools.cache
def git_state() -> dict:
    """Commit of the repository holding this package's source; dirty when a tracked file
    differs from it (dvc.lock aside: DVC rewrites it while the pipeline runs). Both None
    outside a git checkout (an installed wheel)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    top = _git("rev-parse", "--show-toplevel")
    status = _git("-C", top, "status", "--porcelain", "--untracked-files=no", "--", ".",
                  ":(exclude)dvc.lock") if top else None
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def device_name(device: torch.device | str) -> str:
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        try:  # platform.processor() is often just the architecture on Linux
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or platform.machine()
    return str(device)


def environment(device: torch.device | str) -> dict:
    """Provenance fields of a run's `train` record."""
    return {**git_state(), "torch": torch.__version__, "device_name": device_name(device)}
