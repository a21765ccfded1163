"""Receptive-field baselines of claim 6 (F10), measured: each variant trained on the quick
profile's receptive-field data (centred 12x12 grey patches, 256 neurons, batch 256, Adam
1e-3), then its living fields fitted as claim 6 fits them (`claims.receptive_fields`:
a seeded sample of 64 living neurons, `receptive.analyse`).

    python benchmarks/rf_baselines.py NAME [NAME ...] [--steps N] [--out CSV]

NAME picks variants from VARIANTS below; one CSV row per
run: its sparsity, losses against the zero predictor, convergence check, field shares and
the CPU time (process time, one thread) of its group's training. Needs NOISESPARSE_ROOT
with data/processed/natural_grey12_centred.pt (`noisesparse data natural_grey12_centred`).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from noisesparse.measures import receptive as RF
from noisesparse.claims.receptive_fields import N_FIT, living
from noisesparse.training.config import make_run_config
from noisesparse.data import load as load_data
from noisesparse.runs.results import judgement
from noisesparse.training.train import GroupTrainer

BASE = {"dataset": "natural_grey12_centred", "width": 256, "lr": 1e-3, "batch_size": 256,
        "log_every": 100, "eval_size": 1024, "steps": 6000}
TOPK_NORMALISED = {"normalize": True, "bias": "shared", "topk_schedule": "exponential"}
# name -> (shared options, member l1 values or [None])
VARIANTS = {
    "l1_free": ({}, [1e-3, 1e-4]),  # the quick profile's l1_pixels before this change
    "l1_unitdec": ({"unit_norm": "decoder"}, [3e-4, 1e-3, 3e-3, 1e-2]),
    "l1_unitboth": ({"unit_norm": "both"}, [3e-4, 1e-3, 3e-3, 1e-2]),
    "topk_norm16": ({**TOPK_NORMALISED, "topk": 16}, [None]),  # topk_pixels before
    "topk_norm16_fixed": ({"normalize": True, "bias": "shared", "topk": 16}, [None]),
    "l1_unitdec_chosen": ({"unit_norm": "decoder"}, [1e-3]),  # quick's l1_pixels, alone
    "l1_unitdec_mid": ({"unit_norm": "decoder"}, [5e-4, 2e-3]),
    "topk_raw16": ({"topk": 16}, [None]),
    "topk_raw8": ({"topk": 8}, [None]),
    "topk_raw32": ({"topk": 32}, [None]),
    "topk_raw16_lr3e-4": ({"topk": 16, "lr": 3e-4}, [None]),
    "topk_raw16_unitdec": ({"topk": 16, "unit_norm": "decoder"}, [None]),
    "topk_raw8_unitdec": ({"topk": 8, "unit_norm": "decoder"}, [None]),
    "topk_raw32_unitdec": ({"topk": 32, "unit_norm": "decoder"}, [None]),
    "topk_raw16_unitboth": ({"topk": 16, "unit_norm": "both"}, [None]),
}


def run_variant(name: str, steps: int, data: dict, tmp: Path) -> list[dict]:
    opts, l1s = VARIANTS[name]
    configs = [make_run_config({**BASE, "steps": steps, **opts,
                                **({} if l1 is None else {"l1": l1})}, name) for l1 in l1s]
    t = GroupTrainer(configs, data, torch.device("cpu"))
    c0 = time.process_time()
    t.fit(progress=False)
    cpu_s = time.process_time() - c0
    recs = t.write_results([str(tmp / c.run_id) for c in configs])
    rows = []
    shape = data["meta"]["shape"]
    for k, (cfg, rec) in enumerate(zip(configs, recs)):
        net = t.model  # member k's fields: the encoder rows as F10 shows them
        w = net.encoder_weight()[k].detach().numpy()
        # `living` reads member 0: a one-member view of this member's parameters
        alive = np.flatnonzero(_living_member(t, k, cfg))
        rng = np.random.default_rng(0)
        pick = np.sort(rng.choice(alive, size=min(N_FIT, len(alive)), replace=False))
        sh = RF.shares(RF.analyse(w[pick].reshape(-1, *shape))) if len(pick) else {}
        # the dictionary (decoder columns) of the same neurons, for comparison
        dec = net.w2[k].detach().numpy().T[pick]
        dsh = RF.shares(RF.analyse(dec.reshape(-1, *shape))) if len(pick) else {}
        f = rec["final"]
        ch = judgement(rec, pd.read_csv(tmp / cfg.run_id / "history.csv"))  # as load_final
        rows.append({"variant": name, "l1": cfg.l1, "steps": steps, "run_id": cfg.run_id,
                     "frac_active_clean": f["frac_active_clean"],
                     "frac_dead": f["frac_dead"], "loss_clean": f["loss_clean"],
                     "loss_zero_clean": ch.get("loss_zero_clean"),
                     "beats_zero": ch.get("beats_zero_predictor"),
                     "converged": ch.get("converged"),
                     "conv": json.dumps({m: round(v, 3) for m, v in ch.items()
                                         if m.startswith("conv_") and v == v}),
                     "n_living": len(alive), **sh,
                     **{f"decoder_{n}": dsh.get(n) for n in ("share_gabor",
                                                             "share_centre_surround")},
                     "group_cpu_s": round(cpu_s, 1), "group_members": len(configs)})
        print(rows[-1], flush=True)
    return rows


def _living_member(t: GroupTrainer, k: int, cfg) -> np.ndarray:
    from noisesparse.training.model import SparseNet

    one = SparseNet([cfg], t.x.shape[1], t.x.shape[1])
    one.load_state_dict({n: p[k:k + 1].detach() for n, p in t.model.named_parameters()})
    one.k = t.model.k
    return living(one, t.x.cpu(), cfg)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="+")
    ap.add_argument("--steps", type=int, default=BASE["steps"])
    ap.add_argument("--out", default="benchmarks/rf_baselines.csv")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    names = a.names
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    data = load_data(BASE["dataset"])
    with tempfile.TemporaryDirectory() as d:
        rows = [r for n in names for r in run_variant(n, a.steps, data, Path(d))]
    out = Path(a.out)
    new = pd.DataFrame(rows)
    if out.exists():
        new = pd.concat([pd.read_csv(out), new], ignore_index=True)
    new.to_csv(out, index=False)


if __name__ == "__main__":
    main()
