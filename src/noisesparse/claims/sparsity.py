"""Claim 1: input noise makes the hidden layer sparse, more so with more noise."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ladder import at, measure
from .verdict import (by_sigma, converged_sigmas, gated, judged_sigma, paired, per_seed, row,
                      seeds_note, sweep, threshold_check)

CLAIM = 1
FIGURES = ("F1", "F2")  # what it reads, drawn (the report links them)
STATEMENT = "Input noise makes the hidden layer sparse, more so with more noise (up to a limit)"
SIGMA_REF = 0.8  # the paper's default noise level
FALL = 1 / 3  # ours: "sparse" is at most a third of the noiseless network's activity
MAX_SIGMA = 3.0  # the paper's "up to a limit": sparsity keeps growing up to about sigma 3
TOL = 0.01  # a rise this small between grid points is noise (about one unit in 100)
CRITERION = (f"main sweep, clean held-out fraction active, per seed with a 95% t interval over "
             f"seeds: (a) at sigma~{SIGMA_REF:g} (or, where its runs did not converge, the "
             f"largest converged sigma below it, named) over sigma 0 (same seed) <= {FALL:.2g}; "
             f"(b) the largest rise from one sigma to the next over the sigmas up to "
             f"{MAX_SIGMA:g} whose runs converged <= {TOL} (the unconverged ones are named). "
             "Both essential")
# Combined under the shared rule (verdict.RULE).


def largest_rise(df: pd.DataFrame, col: str) -> np.ndarray:
    """Per seed, the largest increase of `col` from one sigma to the next (NaN for a seed
    with fewer than two finished sigmas)."""
    t = per_seed(df, col)
    if t.shape[1] < 2:
        return np.full(len(t), np.nan)
    return np.nanmax(np.diff(t.to_numpy(float), axis=1), axis=1)


def judge(plan) -> dict:
    df = sweep(plan)
    s08, r08, note = judged_sigma(df, SIGMA_REF)
    r0 = df[df["sigma"] == 0]
    hi, lo = paired(r08, r0, "frac_active_clean")
    ratio = hi / lo
    conv = converged_sigmas(df)
    upto = df[(df["sigma"] <= MAX_SIGMA) & df["sigma"].isin(conv)]
    left = sorted(set(df.loc[df["sigma"] <= MAX_SIGMA, "sigma"]) - set(conv))
    checks = [
        gated(f"(a) fraction active sigma {s08:g} / sigma 0", pd.concat([r0, r08]),
              lambda: threshold_check("a", ratio, FALL, "<=", "ratio")),
        gated(f"(b) non-increasing over the converged sigmas up to {MAX_SIGMA:g}"
              + (f" (not converged, left out: {', '.join(f'{x:g}' for x in left)})" if left
                 else ""), upto,
              lambda: threshold_check("b", largest_rise(upto, "frac_active_clean"), TOL, "<=",
                                      "largest rise")),
    ]
    fa = by_sigma(df, "frac_active_clean")
    return row(CLAIM, STATEMENT, CRITERION,
               f"fraction active (mean over {seeds_note(df)}) {fa.iloc[0]:.3f} at sigma 0, "
               f"{fa.get(s08, np.nan):.3f} at sigma {s08:g}; at max sigma {fa.index[-1]:g}: "
               f"{fa.iloc[-1]:.3f}" + (f"; (a) {note}" if note else ""), checks)


def deciding(runs: pd.DataFrame) -> np.ndarray:
    """The quantity that decides (a) at the paper's sigma: per seed, clean fraction active
    at sigma SIGMA_REF over sigma 0 (same seed), on one rung's runs."""
    hi, lo = paired(at(runs, SIGMA_REF), at(runs, 0.0), "frac_active_clean")
    return hi / lo


def rungs(plan) -> list:
    """Claim 1 at sigma 0.8 along the sensitivity ladder (claims/sensitivity.py)."""
    return measure(plan, f"(a) active sigma {SIGMA_REF:g} / 0", deciding, FALL, "<=",
                   [0.0, SIGMA_REF])
