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
    """A computed verdict for each claim of the spec, with its criterion and measurements."""
    rows = [r for r in (c.judge(plan) for c in CLAIMS) if r is not None]
    return pd.DataFrame(rows)
