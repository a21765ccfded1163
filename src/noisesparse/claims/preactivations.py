"""Claim 9: each neuron's pre-activation distribution over the data shifts negative and
widens as sigma grows (the implicit loss terms of the ICML version: sparsity and margin)."""

from __future__ import annotations

import numpy as np

from .common import by_sigma, row, study, sweep

CLAIM = 9
STATEMENT = "Noise shifts each neuron's pre-activations negative and widens them"
CRITERION = ("per neuron, over clean held-out inputs, at the sigmas of the authors' figure "
             "(0.01, 0.5, 1, 5; the preactivations study, seed 0): the median neuron's mean "
             "pre-activation does not rise from one sigma to the next and ends lower; the median "
             "neuron's standard deviation and the share of neurons with a negative mean are both "
             "larger at sigma 5 than at 0.01. The same on noisy inputs (the authors kept noise on "
             "when they measured) is reported beside, not judged. The paper's modes (about +0.5, -0.5..0, -1, -3.5) "
             "are the scale of CIFAR-10 latents: compared in direction, not value")


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
    return row(CLAIM, STATEMENT, CRITERION, measured, checks)
