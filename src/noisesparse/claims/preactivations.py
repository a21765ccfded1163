"""Claim 9: noise adds implicit loss terms (the ICML version's theory), judged two ways:
each neuron's pre-activation distribution over the data shifts negative and widens as sigma
grows, and the terms themselves, computed exactly from every trained network
(noisesparse.implicit): the first-order penalty sigma^2 ||W2 D W1||_F^2, split into its
diagonal (variance: sparsity) and overlap (specialisation) parts, and the remainder that
units flipping under the noise leave (margin)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import by_sigma, row, study, sweep

CLAIM = 9
STATEMENT = ("Noise adds implicit loss terms: a variance penalty that turns units off, and a "
             "margin; pre-activations shift negative and widen")
FLIP_RARE = 0.10  # at most one unit in ten (active or not) changes state under the noise
BAND = 0.2  # where flips are that rare, first order = measured excess within +-20%
MIN_RANK_CORR = 0.5
CRITERION = (
    "(1-3) per neuron, over clean held-out inputs, at the sigmas of the authors' figure "
    "(0.01, 0.5, 1, 5; the preactivations study, seed 0): the median neuron's mean "
    "pre-activation does not rise from one sigma to the next and ends lower; the median "
    "neuron's standard deviation and the share of neurons with a negative mean are both "
    "larger at sigma 5 than at 0.01. The same on noisy inputs (the authors kept noise on "
    "when they measured) is reported beside, not judged. The paper's modes (about +0.5, "
    "-0.5..0, -1, -3.5) are the scale of CIFAR-10 latents: compared in direction, not value. "
    "Implicit terms (main sweep and preactivations study, sigma > 0, mean over seeds; our "
    "derivation, the paper's text was not available): (4) the diagonal penalty per input "
    "with the noise factored out, sum over active units of |w1_i|^2 |w2_i|^2, is lower at "
    "the largest sigma than at the smallest and moves with the fraction active (rank "
    f"correlation over sigma >= {MIN_RANK_CORR}): the variance penalty falls as units turn "
    f"off. (5) Where flips are rare (at most {FLIP_RARE:.0%} of active units turned off and "
    f"of inactive ones turned on by the noise) the first-order penalty is within "
    f"{BAND:.0%} of the measured excess noisy loss: the units that flip sit near their "
    "threshold, where their terms are small, so with one in ten flipping the first order "
    "should carry most of the excess, and 20% leaves room for their terms, the mean shift "
    "they cause and the Monte Carlo error; where no sigma has rare flips this check is not "
    "made. The algebra needs a "
    "piecewise-linear activation and squared error: GELU and classification runs are not "
    "judged on it (only the direction of the pre-activation shift carries over to them)")


def rank_corr(a, b) -> float:
    """Spearman's rank correlation (ties averaged); NaN below 2 points or with no spread."""
    a, b = pd.Series(a).rank().values, pd.Series(b).rank().values
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])


def implicit_checks(df: pd.DataFrame) -> tuple[str, list[bool]]:
    """Checks (4) and (5) on final metrics with the implicit_* columns; ('', []) when the
    runs carry none (results from before the terms were measured)."""
    if "implicit_excess" not in df.columns:
        return "", []
    ok = df[(df["status"] == "ok") & (df["sigma"] > 0) & df["implicit_excess"].notna()]
    if ok.empty:
        return "", []
    cols = ["implicit_excess", "implicit_excess_se", "implicit_diag", "implicit_overlap",
            "implicit_first_order", "implicit_remainder", "implicit_shift",
            "implicit_flip_off", "implicit_flip_on", "frac_active_clean"]
    t = ok.groupby("sigma")[cols].mean().sort_index()
    coef = t["implicit_diag"] / t.index.values ** 2
    share = t["implicit_first_order"] / t["implicit_excess"]
    flips = t[["implicit_flip_off", "implicit_flip_on"]].max(axis=1)
    rho = rank_corr(coef, t["frac_active_clean"])
    checks = []
    if len(t) >= 2:
        checks.append(bool(coef.iloc[-1] < coef.iloc[0]) and bool(rho >= MIN_RANK_CORR))
    rare = flips <= FLIP_RARE
    if rare.any():
        checks.append(bool((share[rare] - 1).abs().le(BAND).all()))
    text = "; ".join(
        f"sigma {s:g}: excess {t.loc[s, 'implicit_excess']:.3g} (se "
        f"{t.loc[s, 'implicit_excess_se']:.1g}), first order {share[s]:.0%} of it (diagonal "
        f"{t.loc[s, 'implicit_diag']:.3g}, overlap {t.loc[s, 'implicit_overlap']:.3g}), "
        f"remainder {t.loc[s, 'implicit_remainder']:.3g} (mean shift "
        f"{t.loc[s, 'implicit_shift']:.3g}), flips off/on "
        f"{t.loc[s, 'implicit_flip_off']:.1%}/{t.loc[s, 'implicit_flip_on']:.1%}, diagonal "
        f"coefficient {coef[s]:.3g}, active {t.loc[s, 'frac_active_clean']:.3f}"
        for s in t.index)
    text += (f". Diagonal coefficient vs fraction active: rank correlation {rho:.2f}"
             + ("" if rare.any() else f"; no sigma with flips <= {FLIP_RARE:.0%}: the "
                "first-order check (5) is not made"))
    return text, checks


def judge(plan) -> dict:
    df = study(plan, "preactivations")
    if df is None:  # a profile without the study: the main sweep's sigma > 0
        df = sweep(plan)
        df = df[df["sigma"] > 0]
    mean = by_sigma(df, "pre_neuron_mean_median")
    std = by_sigma(df, "pre_neuron_std_median")
    neg = by_sigma(df, "pre_neuron_frac_negative")
    pooled = by_sigma(df, "pre_mean")
    checks = [bool((np.diff(mean.values) <= 0).all()) and mean.iloc[-1] < mean.iloc[0],
              std.iloc[-1] > std.iloc[0], neg.iloc[-1] > neg.iloc[0]]
    mean_n, std_n = (by_sigma(df, f"pre_neuron_{m}_median_noisy") for m in ("mean", "std"))
    measured = "; ".join(
        f"sigma {s:g}: median neuron mean {mean[s]:.3f}, std {std[s]:.3f}, negative-mean "
        f"neurons {neg[s]:.0%} (pooled mean {pooled[s]:.3f}; on noisy inputs: median neuron "
        f"mean {mean_n[s]:.3f}, std {std_n[s]:.3f})" for s in mean.index)
    both = pd.concat([sweep(plan), df], ignore_index=True).drop_duplicates("run_id")
    text, more = implicit_checks(both)
    if text:
        measured += ". Implicit terms (loss_clean's units): " + text
    return row(CLAIM, STATEMENT, CRITERION, measured, checks + more)
