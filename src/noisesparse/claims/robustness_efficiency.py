"""Claim 10 (ICML abstract): noisy training helps robustness and computational efficiency."""

from __future__ import annotations

from .common import by_sigma, nearest, row, sweep

CLAIM = 10
STATEMENT = "Noisy training helps robustness and computational efficiency"
CRITERION = ("no reference numbers were recovered; reported: decoder multiply-adds needed with "
             "sparse activations, relative to dense")


def judge(plan) -> dict:
    s08, f08 = nearest(by_sigma(sweep(plan), "frac_active_clean"), 0.8)
    return row(CLAIM, STATEMENT, CRITERION,
               f"{f08:.3f} of dense at sigma {s08:g} ({1 / f08:.0f}x fewer)" if f08 > 0
               else "n/a", [], verdict_text="not tested")
