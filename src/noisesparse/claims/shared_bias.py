"""Claim 4: one shared scalar bias gives the same loss and very similar sparsity."""

from __future__ import annotations

import numpy as np

from .common import by_sigma, row, study, sweep

CLAIM = 4
STATEMENT = "One shared bias gives the same loss and very similar sparsity"
CRITERION = ("for sigma >= 0.3: mean relative loss difference <= 10% and fraction-active ratio "
             "(shared / per-neuron) within [0.67, 1.5] at every sigma")


def judge(plan) -> dict | None:
    shared = study(plan, "shared_bias")
    if shared is None:
        return None
    main = sweep(plan)
    ls, ln = by_sigma(shared, "loss_clean"), by_sigma(main, "loss_clean")
    fs, fa = by_sigma(shared, "frac_active_clean"), by_sigma(main, "frac_active_clean")
    idx = [s for s in ls.index if s >= 0.3 and s in ln.index]
    rel = float(np.mean([abs(ls[s] - ln[s]) / ln[s] for s in idx])) if idx else np.nan
    ratio = [fs[s] / fa[s] for s in idx]
    return row(CLAIM, STATEMENT, CRITERION,
               f"loss difference {rel:.1%}; fraction-active ratios "
               + ", ".join(f"{r:.2f}" for r in ratio),
               [rel <= 0.10, all(0.67 <= r <= 1.5 for r in ratio)] if idx else [])
