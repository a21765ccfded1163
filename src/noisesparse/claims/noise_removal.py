"""Claim 5: removing the noise later in training leaves the network sparse."""

from __future__ import annotations

from ..results import load_history
from .common import by_sigma, row, study, sweep

CLAIM = 5
STATEMENT = "Removing the noise later leaves the network sparse"
CRITERION = ("after annealing to sigma 0: fraction active <= 1/2 of the never-noised network and "
             "<= 1.5x its value before removal")


def judge(plan) -> dict | None:
    rem = study(plan, "noise_removal")
    if rem is None:
        return None
    fa0 = by_sigma(sweep(plan), "frac_active_clean").iloc[0]
    lin = rem[(rem["schedule"] == "linear") & (rem["status"] == "ok")]
    hist = load_history(list(lin["run_id"]))
    checks, parts = [], []
    for _, r in lin.iterrows():
        h = hist[hist["run_id"] == r["run_id"]]
        hold = h[h["step"] <= r["ramp_start"] * r["steps"]]["frac_active_clean"].iloc[-1]
        checks += [r["frac_active_clean"] <= 0.5 * fa0, r["frac_active_clean"] <= 1.5 * hold]
        parts.append(f"sigma {r['sigma']:g}: {hold:.3f} before removal -> "
                     f"{r['frac_active_clean']:.3f} after")
    return row(CLAIM, STATEMENT, CRITERION,
               "; ".join(parts) + f"; never noised: {fa0:.3f}", checks)
