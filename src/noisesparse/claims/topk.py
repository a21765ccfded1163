"""Claim 7: inhibition that emerges gradually (noise) beats Top-K enforced from the start."""

from __future__ import annotations

import numpy as np

from .common import row, study, sweep

CLAIM = 7
STATEMENT = "Inhibition that emerges gradually (noise) beats Top-K enforced from the start"
CRITERION = ("at matched fraction active (log-interpolated along the noise sweep up to its "
             "sparsest sigma, within its range), the noise-trained network has the lower "
             "relative reconstruction error (|x^ - x|^2 / |x|^2, clean held-out) than each "
             "fixed-k Top-K network")


def judge(plan) -> dict | None:
    tk = study(plan, "topk_baseline")
    if tk is None:
        return None
    tk = tk[tk["status"] == "ok"]
    main = sweep(plan)
    noise = (main[main["status"] == "ok"].groupby("sigma")
             [["frac_active_clean", "loss_clean_rel"]].mean())
    # The sparsifying branch only: past its sparsest sigma, more noise densifies again.
    noise = noise[noise.index <= noise["frac_active_clean"].idxmin()]
    noise = noise.sort_values("frac_active_clean")
    better, parts = [], []
    lo, hi = noise["frac_active_clean"].min(), noise["frac_active_clean"].max()
    for _, r in tk[tk["topk_schedule"] == "fixed"].iterrows():
        if not lo <= r["frac_active_clean"] <= hi:  # no noise run that sparse: not judged
            parts.append(f"k={r['topk']}: fraction active {r['frac_active_clean']:.3f} is "
                         f"outside the noise sweep's range [{lo:.3f}, {hi:.3f}], not compared")
            continue
        matched = np.interp(np.log(r["frac_active_clean"]), np.log(noise["frac_active_clean"]),
                            noise["loss_clean_rel"])
        better.append(matched < r["loss_clean_rel"])
        parts.append(f"k={r['topk']}: Top-K relative error {r['loss_clean_rel']:.4g} vs "
                     f"noise {matched:.4g} at fraction active {r['frac_active_clean']:.3f}")
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), better)
