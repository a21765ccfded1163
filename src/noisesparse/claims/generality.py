"""Claim 8: the effect holds across datasets, noise distributions, widths, tasks and
activations."""

from __future__ import annotations

from .common import by_sigma, row, study

CLAIM = 8
STATEMENT = "It holds across datasets, noise distributions, widths, tasks and activations"
CRITERION = ("each ReLU curve's fraction active falls >= 2x between sigma 0 and its minimum over "
             "sigma <= 3 (other activations are reported, not judged)")
CURVES = (("datasets", "dataset"), ("latents", "dataset"), ("noise_types", "noise"),
          ("width", "width"), ("tasks", "task"), ("activations", "activation"),
          ("lm_sigma", "arch"))


def judge(plan) -> dict:
    checks, parts = [], []
    for name, key in CURVES:
        df = study(plan, name)
        if df is None:
            continue
        for value, g in df.groupby(key):
            f = by_sigma(g, "frac_active_clean")
            f3 = f[f.index <= 3]
            if f3.empty or f3.iloc[0] == 0:
                continue
            ratio = f3.iloc[0] / f3.min()
            parts.append(f"{name}/{value}: {ratio:.1f}x")
            if name != "activations" or value == "relu":
                checks.append(ratio >= 2)
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), checks)
