"""GPU assignment: concurrent training jobs each get their own GPU; a GPU a scheduler assigned
is used without a shared lock; locks are node-local (faked device counts and environments)."""

import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from noisesparse import devices

SCHEDULER_VARS = ("CUDA_VISIBLE_DEVICES", "SLURM_JOB_ID", *devices.SLURM_GPU_VARS,
                  devices.LOCK_DIR_ENV)


@pytest.fixture(autouse=True)
def plain_node(monkeypatch, tmp_path):
    """No scheduler variables from the machine running the tests leak in."""
    for var in SCHEDULER_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir()


def test_jobs_get_distinct_gpus_and_wait_for_a_free_one(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "2")
    a = devices.acquire("auto", lock_dir=str(tmp_path))
    b = devices.acquire("auto", lock_dir=str(tmp_path))
    assert {str(a.device), str(b.device)} == {"cuda:0", "cuda:1"}
    with pytest.raises(TimeoutError):
        devices.acquire("auto", lock_dir=str(tmp_path), wait_s=0.2, poll_s=0.05)
    a.release()
    c = devices.acquire("auto", lock_dir=str(tmp_path), wait_s=1, poll_s=0.05)
    assert c.device == torch.device("cuda:0")
    b.release(), c.release()


def test_cpu_fallback_is_logged(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "0")
    caplog.set_level("INFO", logger="noisesparse")
    assert devices.acquire("auto", lock_dir=str(tmp_path)).device.type == "cpu"
    assert "no GPU found" in caplog.text
    assert devices.acquire("cuda:1", lock_dir=str(tmp_path)).device.type == "cpu"
    assert "running on CPU" in caplog.text


def test_an_assigned_gpu_torch_cannot_see_is_named_in_the_cpu_fallback(tmp_path, monkeypatch,
                                                                       caplog):
    """A SLURM GPU (here a stand-in device file, as .ci/slurm makes) that torch cannot use:
    the log says which device and why, naming the job and its assignment."""
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "0")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_JOB_GPUS", "1")
    caplog.set_level("INFO", logger="noisesparse")
    assert devices.acquire("auto", lock_dir=str(tmp_path)).device.type == "cpu"
    assert ("training on cpu: SLURM job 4242 (SLURM_JOB_GPUS=1) assigned GPU(s), but torch "
            "sees no CUDA device") in caplog.text


@pytest.mark.parametrize("env", [
    {"CUDA_VISIBLE_DEVICES": "3"},
    {"CUDA_VISIBLE_DEVICES": "GPU-8f6d1c2e-0000-4000-8000-000000000000"},
    {"SLURM_JOB_ID": "4242", "SLURM_JOB_GPUS": "2"},
    {"SLURM_JOB_ID": "4242", "SLURM_STEP_GPUS": "0"},
    {"SLURM_JOB_ID": "4242", "GPU_DEVICE_ORDINAL": "1"},
])
def test_a_gpu_the_scheduler_assigned_is_used_without_a_lock(tmp_path, monkeypatch, caplog,
                                                             env):
    """Under SLURM every job sees its GPU as cuda:0: jobs on different GPUs or nodes must not
    wait on one gpu0.lock. Two leases at once both get cuda:0, and no lock file is made."""
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "1")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    caplog.set_level("INFO", logger="noisesparse")
    a = devices.acquire("auto", lock_dir=str(tmp_path / "locks"), wait_s=0)
    b = devices.acquire("auto", lock_dir=str(tmp_path / "locks"), wait_s=0)
    assert a.device == b.device == torch.device("cuda:0")
    assert a.lock_file is None and b.lock_file is None
    assert not (tmp_path / "locks").exists()
    assert "assigned by the scheduler" in caplog.text
    a.release(), b.release()


def test_slurm_without_a_gpu_variable_is_not_an_assignment(tmp_path, monkeypatch):
    """A SLURM job that was given no GPU (no GPU variable) shares the node's GPUs: locked."""
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "1")
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    assert devices.scheduler_assignment() is None
    a = devices.acquire("auto", lock_dir=str(tmp_path))
    assert a.lock_file is not None
    with pytest.raises(TimeoutError):
        devices.acquire("auto", lock_dir=str(tmp_path), wait_s=0.1, poll_s=0.05)
    a.release()


def test_a_multi_gpu_allocation_shares_its_gpus_by_their_own_names(tmp_path, monkeypatch):
    """Several assigned GPUs are handed out one per job, locked under CUDA_VISIBLE_DEVICES's
    names for them (node-wide ids), so the lock of cuda:0 is physical GPU 5's."""
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    a = devices.acquire("auto", lock_dir=str(tmp_path))
    b = devices.acquire("auto", lock_dir=str(tmp_path))
    assert (str(a.device), str(b.device)) == ("cuda:0", "cuda:1")
    assert (os.path.basename(a.lock_file), os.path.basename(b.lock_file)) == (
        "gpu5.lock", "gpu7.lock")
    a.release(), b.release()


def test_default_locks_are_node_local_never_in_the_project(tmp_path, monkeypatch):
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "1")
    monkeypatch.chdir(tmp_path)
    runtime = tmp_path / "runtime"
    folder = devices.default_lock_dir()
    assert folder.is_relative_to(runtime)
    assert socket.gethostname() in folder.name
    lease = devices.acquire("auto")
    assert lease.lock_file.startswith(str(runtime))
    assert not (tmp_path / "results").exists()  # nothing on the (shared) results/ tree
    lease.release()
    monkeypatch.setenv("SLURM_JOB_ID", "99")  # a SLURM job's locks are its own
    assert devices.default_lock_dir().name.endswith("-slurm99")
    monkeypatch.setenv(devices.LOCK_DIR_ENV, str(tmp_path / "mine"))
    assert devices.default_lock_dir() == tmp_path / "mine"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.delenv(devices.LOCK_DIR_ENV)
    assert devices.default_lock_dir().is_relative_to(tempfile.gettempdir())


HOLD = """
import os, sys, time
os.environ["NOISESPARSE_FAKE_GPUS"] = "1"
from noisesparse import devices
lease = devices.acquire("auto", lock_dir=sys.argv[1])
print("held", lease.device, flush=True)
time.sleep(60)
"""


def test_lock_of_a_killed_job_is_freed(tmp_path, monkeypatch):
    """Another process holds the node's only GPU: we wait; kill -9 it and the GPU is free."""
    monkeypatch.setenv("NOISESPARSE_FAKE_GPUS", "1")
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("held cuda:0")
        with pytest.raises(TimeoutError):
            devices.acquire("auto", lock_dir=str(tmp_path), wait_s=0.2, poll_s=0.05)
    finally:
        proc.kill()
        proc.wait()
    t0 = time.time()
    lease = devices.acquire("auto", lock_dir=str(tmp_path), wait_s=5, poll_s=0.05)
    assert lease.device == torch.device("cuda:0") and time.time() - t0 < 5
    lease.release()
