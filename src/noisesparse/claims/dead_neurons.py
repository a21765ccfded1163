"""Claim 2: the sparsity is sparse coding, not dead neurons."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from .ladder import at, measure, verdict_sigmas
from .verdict import (by_sigma, gated, judged_sigma, paired, row, seeds_note, study, sweep,
                      threshold_check)

CLAIM = 2
FIGURES = ("F14",)  # what it reads, drawn (the report links them)
STATEMENT = "It is sparse coding, not dead neurons"
SIGMA_REF = 0.8  # the paper's default noise level
FALL = 1 / 2  # ours: the living units alone are at least twice as sparse as at sigma 0
DISPERSION = 0.5  # ours: halfway between units firing equally often (0) and on/off units (1)
CRITERION = (
    f"at sigma~{SIGMA_REF:g} (or the largest converged sigma below it, named) against sigma "
    "0, per seed with a 95% t interval (main sweep, and "
    "each latent dataset when run): (a) the authors' definition (dead: no activity over a "
    "noisy pass of the training data at the run's sigma): fraction active among living units, "
    f"ratio <= {FALL:g}; (b) ours: fraction active among the units that fire on clean data, "
    f"ratio <= {FALL:g} (at sigma > 0 the noise wakes every unit, so (a) alone repeats claim 1; "
    "(b) fails when the sparsity is units silent on clean data); (c) lifetime sparsity: the "
    "spread across units of each unit's share of inputs it fires on, over its largest value "
    f"at the same mean (1: on/off units, 0: every unit equally often), <= {DISPERSION:g} at "
    f"sigma~{SIGMA_REF:g}. All essential; the share silent on clean data is reported")


def curve_checks(label: str, df: pd.DataFrame) -> tuple[list, str]:
    s08, r08, note = judged_sigma(df, SIGMA_REF)
    r0 = df[df["sigma"] == 0]
    both = pd.concat([r0, r08])

    def ratio(col):
        a, b = paired(r08, r0, col)
        return a / b

    disp = (r08.loc[r08["status"] == "ok", "lifetime_dispersion"].to_numpy(float)
            if "lifetime_dispersion" in r08 else np.array([]))
    checks = [
        gated(f"{label} (a) living fraction active sigma {s08:g} / 0", both,
              lambda: threshold_check("a", ratio("frac_active_living"), FALL, "<=", "ratio")),
        gated(f"{label} (b) fraction active among units firing on clean data, sigma {s08:g} / 0",
              both, lambda: threshold_check("b", ratio("frac_active_nonsilent"), FALL, "<=",
                                            "ratio")),
        gated(f"{label} (c) lifetime dispersion at sigma {s08:g}", r08,
              lambda: threshold_check("c", disp, DISPERSION, "<=", "dispersion")),
    ]
    silent = by_sigma(df, "frac_silent_clean")
    dead = by_sigma(df, "frac_dead")
    text = (f"{label} ({seeds_note(df)}), sigma 0 -> {s08:g}: dead (authors') "
            f"{dead.get(0.0, np.nan):.1%} -> {dead.get(s08, np.nan):.1%}; silent on clean data "
            f"{silent.get(0.0, np.nan):.1%} -> {silent.get(s08, np.nan):.1%}"
            + (f" ({note})" if note else ""))
    return checks, text


def judge(plan) -> dict:
    # Judged on the main sweep and, when planned, on latents (the paper's own kind of data):
    # the two can differ (silent units dominate on small pixel patches).
    main = sweep(plan)
    lat = study(plan, "curves_latents")
    curves = [("main sweep", main)] + [
        (f"latents/{d}", g) for d, g in (lat.groupby("dataset") if lat is not None else [])
        if d not in set(main["dataset"])]  # the paper profile's sweep is on latents
    checks, parts = [], []
    for label, df in curves:
        c, text = curve_checks(label, df)
        checks += c
        parts.append(text)
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), checks)


def deciding(runs: pd.DataFrame, sigma: float = SIGMA_REF) -> np.ndarray:
    """What decides claim 2 on `long` ((c) fails there): per seed, the lifetime
    dispersion at `sigma`, on one rung's runs."""
    r = at(runs, sigma)
    return r.loc[r["status"] == "ok", "lifetime_dispersion"].to_numpy(float)


def rungs(plan) -> list:
    """Claim 2 along the sensitivity ladder (claims/sensitivity.py), at the sigma its
    verdict was judged at and at SIGMA_REF (ladder.verdict_sigmas)."""
    return [r for s in verdict_sigmas(plan, SIGMA_REF)
            for r in measure(plan, f"(c) lifetime dispersion at sigma {s:g}",
                             partial(deciding, sigma=s), DISPERSION, "<=", [s])]
