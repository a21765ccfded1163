"""Claim 2: the sparsity is sparse coding, not dead neurons."""

from __future__ import annotations

from .common import by_sigma, nearest, row, study, sweep

CLAIM = 2
STATEMENT = "It is sparse coding, not dead neurons"
CRITERION = ("the authors' definition (dead: no activity over a noisy pass of the training data "
             "at the run's sigma): fraction active among living neurons at sigma~0.8 <= 1/2 of "
             "its value at sigma 0 (main sweep, and the latent study when run). Ours beside it, "
             "not judged: the share silent on clean data (units that fire only on noise) and "
             "the fraction active among the units that fire on clean data")


def judge(plan) -> dict:
    # Judged on the main sweep and, when planned, on latents (the paper's own kind of data):
    # the two can differ (silent units dominate on small pixel patches).
    main = sweep(plan)
    lat = study(plan, "latents")
    curves = [("main sweep", main)] + [
        (f"latents/{d}", g) for d, g in (lat.groupby("dataset") if lat is not None else [])
        if d not in set(main["dataset"])]  # the paper profile's sweep is on latents
    checks, parts = [], []
    for label, df in curves:
        liv, dead = by_sigma(df, "frac_active_living"), by_sigma(df, "frac_dead")
        silent, nonsilent = by_sigma(df, "frac_silent_clean"), by_sigma(df, "frac_active_nonsilent")
        s08, l08 = nearest(liv, 0.8)
        d08, q08, n08 = (nearest(v, 0.8)[1] for v in (dead, silent, nonsilent))
        parts.append(f"{label}, sigma 0 -> {s08:g}: paper's definition: living-neuron fraction "
                     f"active {liv.iloc[0]:.3f} -> {l08:.3f}, dead {dead.iloc[0]:.1%} -> "
                     f"{d08:.1%}; ours: silent on clean data {silent.iloc[0]:.1%} -> {q08:.1%}, "
                     f"fraction active among the rest {nonsilent.iloc[0]:.3f} -> {n08:.3f}")
        checks.append(l08 <= liv.iloc[0] / 2)
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), checks)
