"""GPU assignment: concurrent training jobs each get their own GPU (faked device count)."""

import pytest
import torch

from noisesparse import devices


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
