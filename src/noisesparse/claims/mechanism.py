"""Claim 3: biases converge to one negative value and weight norms to one value, so the
layer acts as a Top-K (k winners take all) layer."""

from __future__ import annotations

from .common import by_sigma, nearest, row, sweep

CLAIM = 3
STATEMENT = "Biases converge to one negative value and weight norms to one value: a Top-K layer"
CRITERION = ("at sigma~0.8: >= 90% of biases negative, mean bias below its sigma-0 value, and the "
             "active set overlaps the k most driven units (Top-K agreement) >= 0.9")


def judge(plan) -> dict:
    df = sweep(plan)
    bneg, bmean = by_sigma(df, "bias_frac_negative"), by_sigma(df, "bias_mean")
    topk, cv = by_sigma(df, "topk_agreement"), by_sigma(df, "wnorm_cv")
    _, n08 = nearest(bneg, 0.8)
    _, m08 = nearest(bmean, 0.8)
    _, t08 = nearest(topk, 0.8)
    _, c08 = nearest(cv, 0.8)
    return row(CLAIM, STATEMENT, CRITERION,
               f"negative biases {n08:.0%}; mean bias {bmean.iloc[0]:.3f} -> {m08:.3f}; Top-K "
               f"agreement {t08:.3f}; weight-norm CV {cv.iloc[0]:.3f} -> {c08:.3f}",
               [n08 >= 0.9, m08 < bmean.iloc[0], t08 >= 0.9])
