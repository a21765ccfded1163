"""When a training loop saves its state, for both trainers (train.GroupTrainer and
lm.train.LMTrainer).

- Periodically: every N steps or every N seconds, the setting $NOISESPARSE_CHECKPOINT_EVERY
  ("120s", the default, or "500steps"). It changes no result (a resumed run equals an
  uninterrupted one), so it is in no run's configuration or hash.
- On SIGTERM: the warning SLURM sends before it kills a job (scancel, the time limit, a
  preemption; KillWait seconds later comes SIGKILL) and what `kill` sends by default. The
  loop finishes its step, saves a checkpoint atomically and exits with EXIT_INTERRUPTED, so
  that a retry (Snakemake's --retries) or a requeue continues from results/partial/.

$NOISESPARSE_HOLD_AT ("GROUP@STEP") makes a demonstration of that deterministic (.ci/slurm):
the trainer whose checkpoint path names GROUP waits after STEP for the signal, without saving,
so that a cancellation lands mid-run even when the run itself takes a second, and a
checkpoint at STEP can only come from the SIGTERM handler.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from ..errors import ConfigError
from ..output import save_torch

log = logging.getLogger("noisesparse")
EVERY_ENV, HOLD_ENV = "NOISESPARSE_CHECKPOINT_EVERY", "NOISESPARSE_HOLD_AT"
DEFAULT_EVERY = "120s"
EXIT_INTERRUPTED = 143  # 128 + SIGTERM, as a shell reports a process the signal ended


class Interrupted(SystemExit):
    """Training stopped on SIGTERM after saving its checkpoint: exit, resume later."""

    def __init__(self, step: int, ckpt: str | None):
        super().__init__(EXIT_INTERRUPTED)
        self.step, self.ckpt = step, ckpt


def parse_every(text: str) -> tuple[str, float]:
    """"120s" -> ("s", 120.0); "500steps" -> ("steps", 500)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|steps?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"${EVERY_ENV}={text!r}: give a positive number of seconds or "
                          "steps, e.g. 120s or 500steps")
    unit = "s" if m.group(2) == "s" else "steps"
    return unit, float(m.group(1)) if unit == "s" else int(float(m.group(1)))


def hold_step(ckpt_path: str | None, spec: str | None = None) -> int | None:
    """The step $NOISESPARSE_HOLD_AT holds this checkpoint's trainer at, or None."""
    spec = os.environ.get(HOLD_ENV, "") if spec is None else spec
    if not spec or not ckpt_path:
        return None
    group, _, step = spec.rpartition("@")
    if not group or not step.isdigit():
        raise ConfigError(f"${HOLD_ENV}={spec!r}: write GROUP@STEP")
    p = Path(ckpt_path)
    return int(step) if group in (p.stem, p.parent.name) else None


class Checkpoints:
    """Use as `with Checkpoints(path, trainer.state, start_step) as ck:` around the step
    loop, and call `ck.after_step(step)` after each step. SIGTERM is caught only inside the
    `with` (elsewhere it ends the process as usual)."""

    def __init__(self, path: str | None, state: Callable[[], dict], step: int,
                 every: str | None = None):
        self.path, self.state = path, state
        self.unit, self.every = parse_every(every or os.environ.get(EVERY_ENV) or DEFAULT_EVERY)
        self.hold = hold_step(path)
        self.last_step, self.last_t = step, time.monotonic()
        self.signalled = threading.Event()
        self._previous = None

    def __enter__(self) -> "Checkpoints":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_term)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None

    def _on_term(self, signum, frame) -> None:
        self.signalled.set()  # acted on after the current step: its state is consistent

    def due(self, step: int) -> bool:
        if self.unit == "steps":
            return step - self.last_step >= self.every
        return time.monotonic() - self.last_t >= self.every

    def save(self, step: int) -> None:
        if self.path:
            save_torch(self.state(), self.path)
        self.last_step, self.last_t = step, time.monotonic()

    def after_step(self, step: int) -> None:
        if self.hold is not None and step == self.hold:
            log.info("holding at step %d for a signal (%s)", step, HOLD_ENV)
            while not self.signalled.wait(0.2):
                pass
        if self.signalled.is_set():
            self.save(step)
            log.warning("SIGTERM at step %d: %s; exiting with %d so that a retry or "
                        "requeue resumes from it", step,
                        f"checkpoint saved to {self.path}" if self.path else "no checkpoint",
                        EXIT_INTERRUPTED)
            raise Interrupted(step, self.path)
        if self.path and self.due(step):
            self.save(step)
