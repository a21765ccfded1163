"""Claim 9: noise shifts the pre-activations negative and widens them (the implicit loss
terms of the ICML version: margin and sparsity)."""

from __future__ import annotations

from .common import by_sigma, nearest, row, sweep

CLAIM = 9
STATEMENT = "Noise shifts pre-activations negative and widens them"
CRITERION = "mean pre-activation at sigma~3 below sigma 0, and its spread larger"


def judge(plan) -> dict:
    df = sweep(plan)
    pm, ps = by_sigma(df, "pre_mean"), by_sigma(df, "pre_std")
    s3, pm3 = nearest(pm, 3)
    _, ps3 = nearest(ps, 3)
    return row(CLAIM, STATEMENT, CRITERION,
               f"mean {pm.iloc[0]:.3f} -> {pm3:.3f}, std {ps.iloc[0]:.3f} -> {ps3:.3f} "
               f"(sigma {s3:g})", [pm3 < pm.iloc[0], ps3 > ps.iloc[0]])
