"""Claim 1: input noise makes the hidden layer sparse, more so with more noise."""

from __future__ import annotations

import numpy as np

from .common import by_sigma, nearest, row, sweep

CLAIM = 1
STATEMENT = "Input noise makes the hidden layer sparse, more so with more noise (up to a limit)"
CRITERION = ("clean held-out fraction active at sigma~0.8 <= 1/3 of sigma 0, and non-increasing "
             "(tolerance 0.01) from sigma 0 to 3")


def judge(plan) -> dict:
    fa = by_sigma(sweep(plan), "frac_active_clean")
    s08, f08 = nearest(fa, 0.8)
    upto3 = fa[fa.index <= 3]
    mono = bool((np.diff(upto3.values) <= 0.01).all())
    return row(CLAIM, STATEMENT, CRITERION,
               f"fraction active {fa.iloc[0]:.3f} at sigma 0, {f08:.3f} at sigma {s08:g} "
               f"({fa.iloc[0] / f08:.1f}x); monotone up to 3: {mono}; at max sigma "
               f"{fa.index[-1]:g}: {fa.iloc[-1]:.3f}", [f08 <= fa.iloc[0] / 3, mono])
