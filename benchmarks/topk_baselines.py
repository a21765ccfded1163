"""Claim 7's baselines on the quick profile's terms: why the authors' normalised Top-K and
cosine models lose to the zero predictor on clean inputs, and which k the raw Top-K (the
noise network's own architecture) needs to bracket the noise networks' sparsity.

Trains, at the quick profile's topk_baseline settings (data, width, steps, lr, batch) and
its sigmas, one group per model: the noise network (the sigma sweep's, seed 0), the
authors' normalised Top-K at one k, the authors' cosine model, and the raw Top-K at each k
of --ks. Writes one row per (model, sigma) to benchmarks/topk_baselines_<date>.csv:
fraction active and MSE on clean and noisy held-out inputs, the zero predictor's MSE,
the mean output norm against the mean target norm, the mean input norm clean and noisy,
and the clean MSE after the best single output gain (a diagnostic: what is left when only
the output's scale is wrong). CPU seconds (user + sys of this process) per group beside it.

    cd <a project root with data/processed/natural_grey12_centred.pt> &&
    python benchmarks/topk_baselines.py --threads 1 [--ks 8 32 128 256]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import resource
from pathlib import Path

import pandas as pd
import torch

from noisesparse.measures import metrics as M
from noisesparse.training import noise as N
from noisesparse.data import store
from noisesparse.plan.registry import build_plan
from noisesparse.seeds import EVAL_NOISE
from noisesparse.training.train import GroupTrainer


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@torch.no_grad()
def diagnose(trainer: GroupTrainer) -> list[dict]:
    """Per member: norms of outputs, targets and inputs, clean and noisy, and the clean
    MSE after rescaling the outputs by the one gain that fits them best."""
    model, x = trainer.model, trainer.x_test
    sig = trainer.sigma_now(trainer.c0.steps)
    gens = [torch.Generator().manual_seed(EVAL_NOISE + c.seed) for c in trainer.configs]
    noise = torch.stack([N.sample(trainer.c0.noise, sig[k], x.shape, g, x.device)
                         for k, g in enumerate(gens)])
    _, _, out = model(x)
    _, _, out_n = model(x.unsqueeze(0) + noise)
    rows = []
    for k in range(model.members):
        gain = float((out[k] * x).sum() / (out[k] * out[k]).sum().clamp(min=1e-12))
        rows.append({
            "out_norm_clean": float(out[k].norm(dim=-1).mean()),
            "out_norm_noisy": float(out_n[k].norm(dim=-1).mean()),
            "target_norm": float(x.norm(dim=-1).mean()),
            "input_norm_noisy": float((x + noise[k]).norm(dim=-1).mean()),
            "best_gain_clean": gain,
            "loss_clean_best_gain": float(M.mse(gain * out[k:k + 1], x)[0]),
        })
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 32, 128, 256])
    ap.add_argument("--authors-k", type=int, default=32)
    ap.add_argument("--steps", type=int, default=None, help="override the profile's steps")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    plan = build_plan("quick")
    topk_runs = plan.studies["topk_baseline"]
    base = next(c for c in plan.runs.values() if c.run_id in topk_runs)
    sigmas = sorted({plan.runs[r].sigma for r in topk_runs})
    common = dict(normalize=False, bias="neuron", topk=0)
    if args.steps:
        common["steps"] = args.steps
    models = {"noise": dict(common)}
    models[f"authors_topk{args.authors_k}"] = dict(common, normalize=True, bias="shared",
                                                    topk=args.authors_k)
    models["authors_cosine"] = dict(common, normalize=True, bias="shared")
    for k in args.ks:
        models[f"raw_topk{k}"] = dict(common, topk=k)
    data = store.load(base.dataset)
    rows = []
    for name, fields in models.items():
        cfgs = [dataclasses.replace(base, sigma=s, seed=0, **fields) for s in sigmas]
        t0 = cpu_s()
        tr = GroupTrainer(cfgs, data, torch.device("cpu"))
        tr.fit(None, progress=False)
        fin = {k: v.float() for k, v in tr.final_metrics().items()}
        zero = tr.zero_predictor_loss()
        diag = diagnose(tr)
        spent = cpu_s() - t0
        for k, c in enumerate(cfgs):
            rows.append({"model": name, "sigma": c.sigma, "k": c.topk, "width": c.width,
                         "steps": c.steps, **{m: float(fin[m][k]) for m in (
                             "frac_active_clean", "frac_active_noisy", "loss_clean",
                             "loss_noisy")},
                         "loss_zero": zero, **diag[k],
                         "group_cpu_s": round(spent, 1), "threads": args.threads})
        print(pd.DataFrame(rows[-len(cfgs):]).to_string(index=False), flush=True)
    out = Path(args.out or Path(__file__).parent /
               f"topk_baselines_{datetime.date.today().isoformat()}.csv")
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.6g")
    print(f"wrote {out}")


if __name__ == "__main__":
    os.environ.setdefault("NOISESPARSE_ROOT", ".")
    main()
