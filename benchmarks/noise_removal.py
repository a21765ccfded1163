"""Noise removal at quick scale (claim 5, issue 15): when does the held phase plateau, and
does the network stay sparse once sigma is annealed to 0, at Adam 1e-3 and 1e-4?

  python benchmarks/noise_removal.py held   STEPS            # sigma held: plateau step per run
  python benchmarks/noise_removal.py anneal HOLD RAMP TAIL   # held, annealed, then flat at 0
  REMOVAL_LRS=1e-3 python ...                                 # one learning rate only
  python benchmarks/noise_removal.py reanalyse               # plateau steps of saved held runs

Runs the quick profile's run defaults (natural_grey12_centred, width 512, batch 256) on one
thread, sigma 0 (never noised) and the removal sigmas, both learning rates, seed 0, in one
ensemble. Needs the dataset built under $NOISESPARSE_ROOT (`noisesparse data
natural_grey12_centred`). Writes benchmarks/noise_removal_<mode>.csv (per run) and
..._<mode>_history.csv; prints the CPU time of the process (user + sys, one thread).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from noisesparse.runs import results
from noisesparse.training.config import make_run_config
from noisesparse.data.store import load
from noisesparse.training.train import GroupTrainer

SIGMAS = (0.0, 0.3, 0.8, 1.5)
LRS = tuple(float(x) for x in os.environ.get("REMOVAL_LRS", "1e-3,1e-4").split(","))
BASE = dict(dataset="natural_grey12_centred", width=512, batch_size=256, log_every=100,
            eval_size=1024, seed=0)
OUT = Path(__file__).parent


def plateau_step(h: pd.DataFrame, loss_zero: float, upto: int | None = None) -> int | None:
    """The first logged step T from which on results.convergence of the clean fraction
    active and loss (results.HELD_METRICS) calls the history up to T, and up to every later
    logged step, converged (each moved at most 10% over the last 20% of the steps; "from
    which on", because an early transient can look flat); None if never. `upto`: only the
    history up to that step (the held phase of an annealed run)."""
    h = h if upto is None else h[h["step"] <= upto]
    for t in h["step"]:
        if t >= 500 and all(results.convergence(h[h["step"] <= u], loss_zero,
                                                  results.HELD_METRICS)["converged"]
                            for u in h["step"] if u >= t):
            return int(t)
    return None


def reanalyse_held() -> None:
    """Recompute the held runs' plateau steps from their saved history (no training)."""
    table = pd.read_csv(OUT / "noise_removal_held.csv")
    hist = pd.read_csv(OUT / "noise_removal_held_history.csv")
    table["plateau_step"] = [
        plateau_step(hist[(hist["sigma0"] == r.sigma) & (hist["lr"] == r.lr)], r.loss_zero)
        for r in table.itertuples()]
    table.to_csv(OUT / "noise_removal_held.csv", index=False)
    print(table.to_string())


def main(mode: str, *args: int) -> None:
    torch.set_num_threads(1)
    if mode == "reanalyse":
        return reanalyse_held()
    if mode == "held":
        (steps,) = args
        extra = dict(steps=steps)
    elif mode == "anneal":
        hold, ramp, tail = args
        steps = hold + ramp + tail
        extra = dict(steps=steps, schedule="linear", sigma_end=0.0, ramp_start=hold / steps,
                     ramp_end=(hold + ramp) / steps)
    else:
        raise SystemExit("mode: held STEPS | anneal HOLD RAMP TAIL")
    cfgs = [make_run_config({**BASE, **extra, "sigma": s, "lr": lr}, "benchmark")
            for lr in LRS for s in SIGMAS]
    data = load(BASE["dataset"])
    cpu0, wall0 = time.process_time(), time.time()
    tr = GroupTrainer(cfgs, data, torch.device("cpu"), "tf32")
    tr.fit(progress=False)
    cpu, wall = time.process_time() - cpu0, time.time() - wall0
    loss_zero = tr.zero_predictor_loss()
    hist, rows = [], []
    for k, c in enumerate(cfgs):
        h = pd.DataFrame({n: [r[n][k] for r in tr.history] for n in
                          ("step", "sigma", "frac_active_clean", "frac_active_noisy", "loss_clean")})
        h["step"] = h["step"].astype(int)
        h.insert(0, "lr", c.lr)
        h.insert(0, "sigma0", c.sigma)
        hist.append(h)
        row = {"mode": mode, "sigma": c.sigma, "lr": c.lr, "steps": steps,
               "final_frac_active_clean": h["frac_active_clean"].iloc[-1],
               "final_loss_clean": h["loss_clean"].iloc[-1], "loss_zero": loss_zero}
        if mode == "held":
            row["plateau_step"] = plateau_step(h, loss_zero)
        else:
            row["hold_plateau_step"] = plateau_step(h, loss_zero, upto=hold)
            row["frac_active_before_removal"] = h[h["step"] <= hold]["frac_active_clean"].iloc[-1]
            tail_h = h[h["step"] >= hold + ramp]
            row["tail_converged"] = (results.convergence(tail_h, loss_zero)["converged"]
                                     if len(tail_h) >= 2 else None)
            held = results.held_phase(h, hold, loss_zero)
            row["held_converged"] = held["held_converged"]
            row["held_conv_frac_active_clean"] = held["held_conv_frac_active_clean"]
            row["end_converged"] = results.convergence(h, loss_zero)["converged"]
        rows.append(row)
    table = pd.DataFrame(rows)
    table["cpu_s_ensemble"] = round(cpu, 1)
    table["wall_s_ensemble"] = round(wall, 1)
    tag = mode if mode == "held" else f"anneal_{args[0]}_{args[1]}_{args[2]}"
    table.to_csv(OUT / f"noise_removal_{tag}.csv", index=False)
    pd.concat(hist).to_csv(OUT / f"noise_removal_{tag}_history.csv", index=False)
    print(table.to_string())
    print(f"{len(cfgs)} members x {steps} steps: CPU {cpu:.1f} s (user+sys, 1 thread), "
          f"wall {wall:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:]))
