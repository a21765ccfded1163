"""The training skeleton both trainers share (train.GroupTrainer, the one-hidden-layer
ensemble; lm.train.LMTrainer, the Transformer): the step loop with its progress bar,
resuming from a checkpoint, checkpoints as noisesparse.training.interrupt says, the log steps, and
writing a finished run (history.csv, model.pt, metrics.json, one log line). A trainer
supplies only its step, its evaluation at a log step and its state.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..output import fmt, json_number, save_torch, write_text
from ..provenance import environment
from .interrupt import Checkpoints

log = logging.getLogger("noisesparse")


class TrainingLoop:
    """The loop; a subclass sets `device`, `steps` (to train to), `log_every`, `label` (what
    the log calls the runs) and `desc` (the progress bar's), starts `step` at 0 and
    `history` empty, and defines `train_step(step)`, `log_metrics()` (appends to
    `history`), `state()` and `load_state(state)` (raising ConfigError for another run's)."""

    def stopped(self) -> bool:
        """Whether training ends before `steps` (a diverged run that trains alone)."""
        return False

    def one_step(self, step: int) -> None:
        self.train_step(step)

    def resume(self, ckpt_path: str | None) -> None:
        if not (ckpt_path and Path(ckpt_path).exists()):
            return
        try:
            self.load_state(torch.load(ckpt_path, weights_only=True, map_location=self.device))
            log.info("resumed %s from %s at step %d", self.label, ckpt_path, self.step)
        except (ConfigError, RuntimeError, KeyError) as e:
            log.warning("ignoring checkpoint %s (%s): starting afresh", ckpt_path, e)

    def fit(self, ckpt_path: str | None = None, ckpt_every: str | None = None,
            progress: bool = True, stop_after: int | None = None) -> None:
        """Train to `steps`, checkpointing as noisesparse.training.interrupt says (`ckpt_every`: its
        setting, e.g. "500steps"; default $NOISESPARSE_CHECKPOINT_EVERY or 120 s), metrics
        logged at step 0, every `log_every` steps and at the end. `stop_after` ends early
        (tests of interruption and resume)."""
        self.resume(ckpt_path)
        if not self.history:
            self.log_metrics()
        bar = tqdm(total=self.steps, initial=self.step, disable=not progress, unit="step",
                   desc=self.desc, leave=False)
        t0, s0 = time.time(), self.step
        with Checkpoints(ckpt_path, self.state, self.step, ckpt_every) as ck:
            while self.step < self.steps and not self.stopped():
                self.one_step(self.step)
                self.step += 1
                bar.update(1)
                if self.step % self.log_every == 0 or self.step == self.steps:
                    self.log_metrics()
                if stop_after is not None and self.step >= stop_after:
                    ck.save(self.step)
                    break
                ck.after_step(self.step)
        bar.close()
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the wall time counts the queued kernels
        self.wall_s = time.time() - t0
        self.steps_per_s = (self.step - s0) / self.wall_s if self.wall_s > 0 else float("nan")

    def train_record(self, members: int, precision: str, **extra) -> dict:
        """The `train` part of a run's metrics.json: where and how fast it trained."""
        return {"device": str(self.device), "precision": precision, **extra,
                "members": members, "steps": self.step, "wall_s": round(self.wall_s, 2),
                "steps_per_s": round(self.steps_per_s, 2), **environment(self.device)}


def write_run(out: str | Path, cfg, history: pd.DataFrame, model_state: dict,
              final: dict, diverged_at: int | None, loss_zero: float, train: dict,
              headline: str) -> dict:
    """A finished run's folder: history.csv, model.pt (its config and weights) and
    metrics.json (status, final metrics, the zero predictor's loss, how it trained); the
    log line gives `headline` (a template over the final metrics' names, e.g.
    "loss={loss_clean}") beside the status and speed.
    A diverged run keeps its history and weights, and no final metric. Returns the record."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(history.to_csv(index=False), out / "history.csv")
    save_torch({"config": cfg.to_dict(), "state": model_state}, out / "model.pt")
    status = "ok" if diverged_at is None else "diverged"
    rec = {"run_id": cfg.run_id, "hash": cfg.hash, "status": status,
           "diverged_at_step": diverged_at, "config": cfg.to_dict(),
           "final": {k: (None if status == "diverged" else json_number(v))
                     for k, v in final.items()},
           "loss_zero": loss_zero, "train": train}
    write_text(json.dumps(rec, indent=2), out / "metrics.json")
    shown = defaultdict(lambda: "nan", {k: fmt(v) for k, v in rec["final"].items()})
    log.info("run %s [%s] sigma=%g %s | %d steps, %.1f steps/s, %d member(s) on %s",
             cfg.run_id, status, cfg.sigma, headline.format_map(shown), train["steps"],
             train["steps_per_s"], train["members"], train["device"])
    return rec
