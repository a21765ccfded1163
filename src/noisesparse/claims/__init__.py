"""The paper's claims, one module each. Every module states its
claim, the criterion that judges it, and `judge(plan)`, which computes the verdict row
from run results; a claim whose studies this profile does not plan returns None. The
claims that depart from the paper on `long` (and claims 1 and 9 at sigma 0.8) also name
their deciding quantities along the sensitivity ladder, `rungs(plan)`, which
claims/sensitivity.py's rule turns into a conclusion."""

from __future__ import annotations

import pandas as pd

from ..plan.registry import Plan
from . import (dead_neurons, generality, mechanism, noise_removal, preactivations,
               receptive_fields, robustness_efficiency, sensitivity, shared_bias, sparsity,
               topk)

CLAIMS = (sparsity, dead_neurons, mechanism, shared_bias, noise_removal, receptive_fields,
          topk, generality, preactivations, robustness_efficiency)


def verdicts(plan: Plan) -> pd.DataFrame:
    """A computed verdict for each claim of the paper, with its criterion and measurements.
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


# The claims the sensitivity ladder reads (issue 22): those not "agrees" on `long`, and
# claims 1 and 9 at sigma 0.8. Claim id -> its module's `rungs`.
LADDER = {"1": sparsity.rungs, "2": dead_neurons.rungs, "3": mechanism.rungs,
          "4": shared_bias.rungs, "5": noise_removal.rungs, "6": receptive_fields.rungs,
          "8": generality.rungs, "9": preactivations.rungs, "10a": robustness_efficiency.rungs}


def ladder_rungs(plan: Plan) -> dict[str, list]:
    """Each ladder claim's rungs (claims/sensitivity.py Rung), empty where none is planned."""
    return {c: f(plan) for c, f in LADDER.items()}


def conclusions(plan: Plan, rungs: dict[str, list] | None = None) -> dict[str, dict]:
    """{claim id: {"conclusion": str, "detail": str, "quantities": ...}} under
    sensitivity.RULE: the summary's `sensitivity` key and F18's conclusion column.
    `quantities` (sensitivity.readings: each deciding quantity's rungs) only where the claim
    has rungs."""
    rungs = ladder_rungs(plan) if rungs is None else rungs
    out = {}
    for c, rs in rungs.items():
        word, detail = sensitivity.conclude_claim(rs)
        out[c] = {"conclusion": word, "detail": detail,
                  **({"quantities": sensitivity.readings(rs)} if rs else {})}
    return out


def ladder_table(rungs: dict[str, list]) -> pd.DataFrame:
    """One row per claim, quantity and rung (F22's table)."""
    parts = [sensitivity.table(c, rs) for c, rs in rungs.items() if rs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["claim", "quantity", "axis", "setting", "order", "mean", "low", "high",
                 "seeds", "converged", "counted", "threshold", "op", "outcome"])
