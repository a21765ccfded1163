"""Claim 3: biases converge to one negative value and weight norms to one value, so the
layer acts as a Top-K (k winners take all) layer."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from .ladder import at, measure, verdict_sigmas
from .verdict import (by_sigma, finished, gated, judged_sigma, paired, row, seeds_note, sweep,
                      threshold_check)

CLAIM = 3
FIGURES = ("F7", "F12")  # what it reads, drawn (the report links them)
STATEMENT = "Biases converge to one negative value and weight norms to one value: a Top-K layer"
SIGMA_REF = 0.8  # the paper's default noise level
NEGATIVE = 0.9  # ours: "one negative value" leaves at most one bias in ten non-negative
REL_SPREAD = 0.5  # ours: biases that differ by under half the spread of the drives W x
# across units reorder few units: the bias acts as one common threshold
CRITERION = (
    f"main sweep at sigma~{SIGMA_REF:g} (or the largest converged sigma below it, named) "
    "against sigma 0 (same seeds; living units: the "
    "authors' definition), each per seed with a 95% t interval: (a) share of negative biases "
    f">= {NEGATIVE:g}, and the mean bias below its sigma-0 value; (b) the living units' bias "
    "std over the spread of the bias-free drive W x across units (std over units per input, "
    f"mean over inputs) <= {REL_SPREAD:g}; (c) the living units' weight-norm coefficient of "
    "variation below its sigma-0 value; (d) Top-K agreement corrected for chance, "
    "(a - k/N) / (1 - k/N) per input, above its sigma-0 value (raw agreement rises with k/N, "
    "which differs about 20-fold between the two). All essential")


def judge(plan) -> dict:
    df = sweep(plan)
    s08, r08, note = judged_sigma(df, SIGMA_REF)
    r0 = df[df["sigma"] == 0]
    both = pd.concat([r0, r08])

    def diff(col):
        a, b = paired(r08, r0, col)
        return a - b

    def own(col, rows=r08):
        ok = rows[rows["status"] == "ok"]
        return ok[col].to_numpy(float) if col in ok else np.array([])

    def rel(rows):
        if "drive_std" not in rows:
            return np.array([])
        return own("bias_std_living", rows) / own("drive_std", rows)

    checks = [
        gated(f"(a1) share of negative biases at sigma {s08:g}", r08,
              lambda: threshold_check("a1", own("bias_frac_negative"), NEGATIVE, ">=")),
        gated(f"(a2) mean bias sigma {s08:g} - sigma 0", both,
              lambda: threshold_check("a2", diff("bias_mean"), 0.0, "<", "difference")),
        gated(f"(b) bias std / drive std at sigma {s08:g}", r08,
              lambda: threshold_check("b", rel(r08), REL_SPREAD, "<=", "ratio")),
        gated(f"(c) weight-norm CV sigma {s08:g} - sigma 0", both,
              lambda: threshold_check("c", diff("wnorm_cv_living"), 0.0, "<", "difference")),
        gated(f"(d) chance-corrected Top-K agreement sigma {s08:g} - sigma 0", both,
              lambda: threshold_check("d", diff("topk_agreement_corrected")
                                      if "topk_agreement_corrected" in df else [],
                                      0.0, ">", "difference")),
    ]
    m = {c: by_sigma(df, c) for c in ("bias_frac_negative", "bias_mean", "bias_std_living",
                                      "wnorm_cv_living", "topk_agreement",
                                      "topk_agreement_corrected") if c in df}
    fmt = lambda c, s: f"{m[c].get(s, np.nan):.3f}" if c in m else "not measured"
    rel0 = np.nanmean(rel(r0)) if len(rel(r0)) else np.nan
    measured = (f"means over {seeds_note(df)}, sigma 0 -> {s08:g}: negative biases "
                f"{fmt('bias_frac_negative', 0.0)} -> {fmt('bias_frac_negative', s08)}; mean "
                f"bias {fmt('bias_mean', 0.0)} -> {fmt('bias_mean', s08)}; living bias std "
                f"{fmt('bias_std_living', 0.0)} -> {fmt('bias_std_living', s08)} (over the drive "
                f"spread: {rel0:.3f} -> {np.nanmean(rel(r08)) if len(rel(r08)) else np.nan:.3f});"
                f" weight-norm CV {fmt('wnorm_cv_living', 0.0)} -> "
                f"{fmt('wnorm_cv_living', s08)}; Top-K agreement raw "
                f"{fmt('topk_agreement', 0.0)} -> {fmt('topk_agreement', s08)}, chance-corrected "
                f"{fmt('topk_agreement_corrected', 0.0)} -> {fmt('topk_agreement_corrected', s08)}"
                + (f"; {note}" if note else ""))
    return row(CLAIM, STATEMENT, CRITERION, measured, checks)


def negative_share(runs: pd.DataFrame, sigma: float = SIGMA_REF) -> np.ndarray:
    """(a1): per seed, the share of negative biases at `sigma`."""
    r = finished(at(runs, sigma))
    return r["bias_frac_negative"].to_numpy(float)


def bias_spread(runs: pd.DataFrame, sigma: float = SIGMA_REF) -> np.ndarray:
    """(b): per seed, the living units' bias std over the drive's spread at `sigma`."""
    r = finished(at(runs, sigma))
    return (r["bias_std_living"] / r["drive_std"]).to_numpy(float)


def wnorm_change(runs: pd.DataFrame, sigma: float = SIGMA_REF) -> np.ndarray:
    """(c): per seed, the weight-norm CV at `sigma` minus at sigma 0 (same seed)."""
    a, b = paired(at(runs, sigma), at(runs, 0.0), "wnorm_cv_living")
    return a - b


def rungs(plan) -> list:
    """Claim 3's checks that decide it on `long` ((a1) on initialisation, the issue's probe;
    (b) and (c) fail there) along the sensitivity ladder, at the sigma its verdict was
    judged at and at SIGMA_REF (ladder.verdict_sigmas)."""
    out = []
    for s in verdict_sigmas(plan, SIGMA_REF):
        out += (measure(plan, f"(a1) negative biases at sigma {s:g}",
                        partial(negative_share, sigma=s), NEGATIVE, ">=", [s])
                + measure(plan, f"(b) bias std / drive std at sigma {s:g}",
                          partial(bias_spread, sigma=s), REL_SPREAD, "<=", [s])
                + measure(plan, f"(c) weight-norm CV sigma {s:g} - 0",
                          partial(wnorm_change, sigma=s), 0.0, "<", [0.0, s]))
    return out
