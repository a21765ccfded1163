"""Claim 4: one shared scalar bias gives the same loss and very similar sparsity."""

from __future__ import annotations

import numpy as np

from .common import by_sigma, row, study, sweep

CLAIM = 4
STATEMENT = "One shared bias gives the same loss and very similar sparsity"
FLOOR = 0.02  # fractions active this close are similar, whatever their ratio
CRITERION = ("over sigma >= 0.3: mean relative loss difference <= 10%, and at each such sigma "
             "the fraction active (clean held-out) of the shared-bias network is within [0.67, 1.5]x "
             f"the per-neuron network's or within {FLOOR} of it in absolute terms (a ratio of "
             "two near-zero fractions says nothing)")


def similar(a: float, b: float) -> bool:
    """Two fractions active are similar when their ratio is within [0.67, 1.5] or they
    differ by at most FLOOR."""
    return abs(a - b) <= FLOOR or (b > 0 and 0.67 <= a / b <= 1.5)


def judge(plan) -> dict | None:
    shared = study(plan, "shared_bias")
    if shared is None:
        return None
    main = sweep(plan)
    ls, ln = by_sigma(shared, "loss_clean"), by_sigma(main, "loss_clean")
    fs, fa = by_sigma(shared, "frac_active_clean"), by_sigma(main, "frac_active_clean")
    idx = [s for s in ls.index if s >= 0.3 and s in ln.index]
    rel = float(np.mean([abs(ls[s] - ln[s]) / ln[s] for s in idx])) if idx else np.nan
    return row(CLAIM, STATEMENT, CRITERION,
               f"loss difference {rel:.1%}; fraction active shared vs per-neuron: "
               + ", ".join(f"sigma {s:g}: {fs[s]:.3f} vs {fa[s]:.3f}" for s in idx),
               [rel <= 0.10, all(similar(fs[s], fa[s]) for s in idx)] if idx else [])
