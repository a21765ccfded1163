"""The paper's claims, one module each (spec: "The claims"). Every module states its
claim, the criterion that judges it, and `judge(plan)`, which computes the verdict row
from run results; a claim whose studies this profile does not plan returns None."""

from __future__ import annotations

import pandas as pd

from ..registry import Plan
from . import (dead_neurons, generality, mechanism, noise_removal, preactivations,
               receptive_fields, robustness_efficiency, shared_bias, sparsity, topk)

CLAIMS = (sparsity, dead_neurons, mechanism, shared_bias, noise_removal, receptive_fields,
          topk, generality, preactivations, robustness_efficiency)


def verdicts(plan: Plan) -> pd.DataFrame:
    """A computed verdict for each claim of the spec, with its criterion and measurements.
    A module may return several rows (claim 10: 10a robustness, 10b efficiency). Claim
    ids are strings ("1" .. "9", "10a", "10b"), the same in F18 and the summary. `figures`:
    the figures of this plan that show what the claim reads (its module's FIGURES)."""
    rows = []
    for c in CLAIMS:
        r = c.judge(plan)
        for one in [] if r is None else (r if isinstance(r, list) else [r]):
            figs = c.FIGURES[one["claim"]] if isinstance(c.FIGURES, dict) else c.FIGURES
            rows.append({**one, "figures": " ".join(f for f in figs if f in plan.figures)})
    out = pd.DataFrame(rows)
    if not out.empty:
        out["claim"] = out["claim"].astype(str)
    return out
