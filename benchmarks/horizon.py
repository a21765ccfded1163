"""The convergence horizon: how many steps each sigma needs before its judged metrics plateau.

One definition, runs/results.py's own: a run of T steps is converged when results.convergence,
applied to its history up to step T, finds every metric (clean and noisy fraction active,
clean loss) changed by at most REL_TOL over the last 20% of those T steps. With a constant
sigma and learning rate a run of T steps follows the first T steps of a longer one, so one
long run gives the verdict for every shorter length. A metric's horizon is the first logged
step T from which every longer prefix (up to the longest trained) is converged in that
metric; the run's horizon is the largest of its three metrics. A metric still unconverged at
the longest prefix has no horizon (">T" in the table): it needs more than was trained.

    python benchmarks/horizon.py train --dataset natural_grey12_centred --width 512 \
        --lr 1e-3 --steps 20000 [--sigmas 0 0.05 ...] [--log-every 200]
    python benchmarks/horizon.py table     # -> benchmarks/horizon_<date>.csv and .md

`train` trains the sigmas, for each of `--seeds` (default 0), as one ensemble (batch 256
unless `--batch`, PyTorch's default init unless `--init normal`, eval 1,024 inputs: the quick
profile's run_defaults) on one thread and writes each member's history to
benchmarks/horizon_histories/, with the process CPU seconds per member-step (the cost
figure used to budget profiles; CPU time, not wall time, because the machine is shared).
Needs the dataset built (`noisesparse data NAME`; natural_latents needs the ConvMixer
weights, $NOISESPARSE_CONVMIXER_WEIGHTS).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from noisesparse.runs import results
from noisesparse.training.config import make_run_config
from noisesparse.data import load
from noisesparse.training.train import GroupTrainer

HERE = Path(__file__).resolve().parent
HIST = HERE / "horizon_histories"
SIGMAS = [0, 0.05, 0.1, 0.3, 0.8, 1.5, 3, 10]
QUICK = dict(eval_size=1024)  # config/profiles/quick.yaml run_defaults (batch, seed: SETTING)


# A history's setting beyond (dataset, width, lr), the quick profile's by default; older
# histories (seed 0 only, the profile's defaults) lack these columns and read as these.
SETTING = {"seed": 0, "init": "torch", "batch_size": 256}


def tag(dataset: str, width: int, lr: float, init: str = SETTING["init"],
        batch: int = SETTING["batch_size"]) -> str:
    """A history's file stem; the default setting leaves its fields out."""
    extra = (("" if init == SETTING["init"] else f"-init{init}")
             + ("" if batch == SETTING["batch_size"] else f"-b{batch}"))
    return f"{dataset}-n{width}-lr{lr:g}{extra}"


def train(args) -> None:
    torch.set_num_threads(args.threads)
    configs = [make_run_config(dict(QUICK, dataset=args.dataset, width=args.width, lr=args.lr,
                                    steps=args.steps, log_every=args.log_every, sigma=s,
                                    seed=seed, init=args.init, batch_size=args.batch))
               for seed in args.seeds for s in args.sigmas]
    data = load(args.dataset)
    trainer = GroupTrainer(configs, data, torch.device("cpu"), "tf32", False)
    loss_zero = trainer.zero_predictor_loss()
    sig = "_".join(f"{x:g}" for x in args.sigmas)
    HIST.mkdir(exist_ok=True)
    seeds = ("" if args.seeds == [SETTING["seed"]]
             else "-seeds" + "_".join(map(str, args.seeds)))
    path = HIST / (f"{tag(args.dataset, args.width, args.lr, args.init, args.batch)}"
                   f"-T{args.steps}-s{sig}{seeds}.csv")
    cpu0, wall0 = time.process_time(), time.time()
    log_metrics = trainer.log_metrics

    def log_and_write():  # the history so far after every log step: a cut-short run counts
        log_metrics()
        write(trainer, configs, path, loss_zero, time.process_time() - cpu0,
              time.time() - wall0, args)

    trainer.log_metrics = log_and_write
    trainer.fit(None, progress=False)
    cpu = time.process_time() - cpu0
    print(f"{path}: {len(configs)} members x {args.steps} steps, {cpu:.0f} CPU s "
          f"({cpu / (args.steps * len(configs)) * 1e3:.2f} ms per member-step)")


def write(trainer, configs, path, loss_zero, cpu, wall, args) -> None:
    rows = []
    for k, c in enumerate(configs):
        h = pd.DataFrame({n: [r[n][k] for r in trainer.history] for n in trainer.history[0]})
        rows.append(h[["step", *results.CONV_METRICS]].assign(
            sigma=c.sigma, seed=c.seed, init=c.init, batch_size=c.batch_size))
    done = max(trainer.step, 1) * len(configs)
    out = pd.concat(rows).assign(dataset=args.dataset, width=args.width, lr=args.lr,
                                 loss_zero=loss_zero, threads=args.threads,
                                 cpu_s_per_member_step=cpu / done, wall_s=wall)
    out.to_csv(path, index=False, float_format="%.6g")


def horizons(history: pd.DataFrame, loss_zero: float) -> dict:
    """{metric: horizon step or NaN} for one run's history (columns step and CONV_METRICS),
    and "run": the largest of them (NaN if any is NaN). Prefixes with fewer than three
    logged steps are not judged."""
    h = history.sort_values("step").reset_index(drop=True)
    ends = h["step"].to_numpy()[2:]
    ok = {m: [] for m in results.CONV_METRICS}
    for T in ends:
        conv = results.convergence(h[h["step"] <= T], loss_zero)
        for m in results.CONV_METRICS:
            v = conv[f"conv_{m}"]
            ok[m].append(v is not None and abs(v) <= results.REL_TOL)
    out = {}
    for m, flags in ok.items():
        flags = np.array(flags)
        bad = np.flatnonzero(~flags)
        out[m] = (float(ends[0]) if len(bad) == 0 else
                  float(ends[bad[-1] + 1]) if bad[-1] + 1 < len(ends) else math.nan)
    vals = list(out.values())
    out["run"] = math.nan if any(math.isnan(v) for v in vals) else max(vals)
    return out


def table(args) -> None:
    rows = []
    for path in sorted(HIST.glob("*.csv")):
        d = pd.read_csv(path)
        d = d.assign(**{k: d[k] if k in d else v for k, v in SETTING.items()})
        for (ds, w, lr, s, seed, init, batch), h in d.groupby(
                ["dataset", "width", "lr", "sigma", *SETTING]):
            hz = horizons(h, float(h["loss_zero"].iloc[0]))
            last = h.sort_values("step").iloc[-1]
            rows.append({"dataset": ds, "width": int(w), "lr": lr, "sigma": s,
                         "seed": int(seed), "init": init, "batch_size": int(batch),
                         "steps_trained": int(last["step"]),
                         **{f"horizon_{m}": hz[m] for m in results.CONV_METRICS},
                         "horizon": hz["run"],
                         "final_frac_active_clean": last["frac_active_clean"],
                         "final_loss_clean_over_zero": last["loss_clean"] / h["loss_zero"].iloc[0],
                         "cpu_ms_per_member_step": 1e3 * h["cpu_s_per_member_step"].iloc[0]})
    # A sigma trained in two histories (a longer run of a few sigmas after a shorter sweep)
    # counts by its longest: a horizon is only known up to the last step trained.
    key = ["dataset", "width", "lr", "sigma", *SETTING]
    t = (pd.DataFrame(rows).sort_values("steps_trained")
         .drop_duplicates(key, keep="last")
         .sort_values(["dataset", "lr", "width", "init", "batch_size", "seed", "sigma"],
                      ascending=[False, False, True, False, True, True, True]))
    date = dt.date.today().isoformat()
    t.to_csv(HERE / f"horizon_{date}.csv", index=False, float_format="%.6g")
    (HERE / f"horizon_{date}.md").write_text(markdown(t))
    print(markdown(t))


def markdown(t: pd.DataFrame) -> str:
    """Steps to convergence, one row per (dataset, width, lr), one column per sigma; '>T'
    where the longest run trained (T steps) had not converged."""
    sig = sorted(t["sigma"].unique())
    head = ("| data | width | Adam lr | init | batch | seed | "
            + " | ".join(f"σ {s:g}" for s in sig) + " | ms CPU / member-step |")
    lines = [head, "|" + "---|" * (len(sig) + 7)]
    for (ds, lr, w, init, b, seed), g in t.groupby(
            ["dataset", "lr", "width", "init", "batch_size", "seed"], sort=False):
        g = g.set_index("sigma")
        cell = lambda s: ("" if s not in g.index else
                          f">{g.at[s, 'steps_trained']:,}" if math.isnan(g.at[s, "horizon"])
                          else f"{int(g.at[s, 'horizon']):,}")
        lines.append(f"| {ds} | {w} | {lr:g} | {init} | {b} | {seed} | "
                     + " | ".join(cell(s) for s in sig)
                     + f" | {g['cpu_ms_per_member_step'].iloc[0]:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--dataset", default="natural_grey12_centred")
    t.add_argument("--width", type=int, default=512)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--steps", type=int, default=20000)
    t.add_argument("--log-every", type=int, default=200)
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--sigmas", type=float, nargs="+", default=SIGMAS)
    t.add_argument("--seeds", type=int, nargs="+", default=[SETTING["seed"]])
    t.add_argument("--init", default=SETTING["init"], choices=["torch", "normal"])
    t.add_argument("--batch", type=int, default=SETTING["batch_size"])
    sub.add_parser("table")
    args = p.parse_args()
    train(args) if args.cmd == "train" else table(args)


if __name__ == "__main__":
    main()
