"""Claim 2: the sparsity is sparse coding, not dead neurons."""

from __future__ import annotations

from .common import by_sigma, nearest, row, study, sweep

CLAIM = 2
STATEMENT = "It is sparse coding, not dead neurons"
CRITERION = ("fraction active among living neurons at sigma~0.8 <= 1/2 of its value at sigma 0 "
             "(main sweep, and the latent study when run)")


def judge(plan) -> dict:
    # Judged on the main sweep and, when planned, on latents (the paper's own kind of data):
    # the two can differ (dead neurons dominate on small pixel patches).
    main = sweep(plan)
    lat = study(plan, "latents")
    curves = [("main sweep", main)] + [
        (f"latents/{d}", g) for d, g in (lat.groupby("dataset") if lat is not None else [])
        if d not in set(main["dataset"])]  # the paper profile's sweep is on latents
    checks, parts = [], []
    for label, df in curves:
        liv = by_sigma(df, "frac_active_living")
        dead = by_sigma(df, "frac_dead")
        _, l08 = nearest(liv, 0.8)
        _, d08 = nearest(dead, 0.8)
        parts.append(f"{label}: living-neuron fraction active {liv.iloc[0]:.3f} -> {l08:.3f}, "
                     f"dead neurons {dead.iloc[0]:.1%} -> {d08:.1%}")
        checks.append(l08 <= liv.iloc[0] / 2)
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), checks)
