"""Checkpoints on SIGTERM (noisesparse.training.interrupt): a real training process, signalled while
it trains, saves its state and exits with EXIT_INTERRUPTED; a second process resumes from
that checkpoint and ends bit for bit where an uninterrupted process ends. Plus the interval
setting, the demonstration hold and the CPU threads a job trains with."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from noisesparse.devices import cpu_threads
from noisesparse.errors import ConfigError
from noisesparse.training.interrupt import EXIT_INTERRUPTED, Checkpoints, hold_step, parse_every

REPO = Path(__file__).resolve().parents[1]
STEPS = 3000  # long enough (a few seconds) to be signalled mid-run

# One training group of two runs, written to argv[1]/out, checkpointed in argv[1]/g.pt.
SCRIPT = textwrap.dedent(f"""
    import logging, sys
    import torch
    from noisesparse.training.config import make_run_config
    from noisesparse.data import build, load
    from noisesparse.training.train import train_group
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)
    torch.set_num_threads(1)
    work = sys.argv[1]
    data = load("natural_grey6", path=build("natural_grey6", out=work + "/d.pt"))
    base = dict(dataset="natural_grey6", width=16, steps={STEPS}, batch_size=32,
                log_every=100, eval_size=64, lr=3e-3)
    configs = [make_run_config(dict(base, sigma=s, seed=k)) for k, s in ((1, 0.3), (2, 0.8))]
    train_group(configs, data, [f"{{work}}/out/{{c.run_id}}" for c in configs],
                ckpt_path=work + "/g.pt", device="cpu", progress=False)
""")


def _start(work: Path, every: str) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NOISESPARSE_ROOT": str(REPO), "NOISESPARSE_CHECKPOINT_EVERY": every}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(work)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _results(work: Path) -> dict:
    """Every run's final metrics, history and parameters (not its wall time)."""
    out = {}
    for run in sorted((work / "out").iterdir()):
        rec = json.loads((run / "metrics.json").read_text())
        state = torch.load(run / "model.pt", weights_only=True)["state"]
        out[run.name] = (rec["final"], (run / "history.csv").read_text(), state)
    return out


@pytest.mark.integration
def test_sigterm_saves_a_checkpoint_and_resume_equals_an_uninterrupted_run(tmp_path):
    cut = _start(tmp_path / "cut", "100steps")
    ckpt = tmp_path / "cut" / "g.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and cut.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert cut.poll() is None, "finished before it could be signalled:\n" + cut.stdout.read()
    cut.send_signal(signal.SIGTERM)
    log = cut.communicate(timeout=120)[0]
    assert cut.returncode == EXIT_INTERRUPTED, log
    assert "SIGTERM at step" in log and ckpt.exists(), log
    stopped = torch.load(ckpt, weights_only=True)["step"]
    assert 100 <= stopped < STEPS, stopped
    assert not (tmp_path / "cut" / "out").exists()  # nothing written as if complete

    resumed = _start(tmp_path / "cut", "100steps")
    log = resumed.communicate(timeout=600)[0]
    assert resumed.returncode == 0, log
    assert f"at step {stopped}" in log  # it continued from the checkpoint, not afresh
    assert not ckpt.exists()  # complete: the checkpoint is gone

    whole = _start(tmp_path / "whole", "120s")
    log = whole.communicate(timeout=600)[0]
    assert whole.returncode == 0, log
    a, b = _results(tmp_path / "cut"), _results(tmp_path / "whole")
    assert a.keys() == b.keys() and len(a) == 2
    for run in a:
        assert a[run][0] == b[run][0], run  # final metrics: equal floats
        assert a[run][1] == b[run][1], run  # the history, every logged value
        for name, t in a[run][2].items():
            assert torch.equal(t, b[run][2][name]), (run, name)  # parameters, bit for bit


def test_interval_setting():
    assert parse_every("120s") == ("s", 120.0)
    assert parse_every("500steps") == ("steps", 500)
    assert parse_every(" 1 step") == ("steps", 1)
    for bad in ("", "0s", "10", "5 minutes", "-3s"):
        with pytest.raises(ConfigError):
            parse_every(bad)


def test_checkpoints_fall_due_by_steps_and_on_sigterm(tmp_path):
    saved = []
    ck = Checkpoints(str(tmp_path / "g.pt"), lambda: {"n": len(saved)}, 0, "3steps")
    ck.save = lambda step: (saved.append(step), setattr(ck, "last_step", step))
    with ck:
        for step in range(1, 8):
            ck.after_step(step)
        assert saved == [3, 6]
        os.kill(os.getpid(), signal.SIGTERM)  # caught: sets the flag, the test goes on
        time.sleep(0.05)
        with pytest.raises(SystemExit) as exc:
            ck.after_step(8)
    assert exc.value.code == EXIT_INTERRUPTED and saved == [3, 6, 8]
    assert signal.getsignal(signal.SIGTERM) != ck._on_term  # the one before the `with` is back


def test_a_held_trainer_waits_unsaved_until_sigterm_then_saves(tmp_path, monkeypatch):
    """.ci/slurm's hold: the trainer waits at its step without saving, so the checkpoint it
    leaves there is the one its SIGTERM handler saved."""
    import threading
    monkeypatch.setenv("NOISESPARSE_HOLD_AT", "g@2")
    saved = []
    ck = Checkpoints(str(tmp_path / "g.pt"), dict, 0, "120s")
    ck.save = lambda step: saved.append(step)
    with ck:
        ck.after_step(1)
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        t0 = time.monotonic()
        with pytest.raises(SystemExit) as exc:
            ck.after_step(2)
    assert time.monotonic() - t0 >= 0.4  # it waited for the signal
    assert exc.value.code == EXIT_INTERRUPTED and saved == [2]


def test_hold_applies_to_the_named_group_only():
    assert hold_step("results/partial/g1.pt", "g1@20") == 20
    assert hold_step("results/partial/g1/run-a.pt", "g1@5") == 5  # the language model's
    assert hold_step("results/partial/g2.pt", "g1@20") is None
    assert hold_step(None, "g1@20") is None and hold_step("x.pt", "") is None
    with pytest.raises(ConfigError):
        hold_step("results/partial/g1.pt", "g1")


def test_threads_are_the_cpus_given(monkeypatch):
    have = len(os.sched_getaffinity(0))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert cpu_threads(0) == have and cpu_threads(1) == 1
    assert cpu_threads(have + 4) == have  # a rule asking more than there is gets what is
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "1")
    assert cpu_threads(4) == 1 and cpu_threads(0) == 1  # the allocation, not the node
