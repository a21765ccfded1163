"""Claim 8: the effect holds across datasets, noise distributions, widths, tasks and
activations."""

from __future__ import annotations

from ..noise import is_zero_mean
from .common import by_sigma, row, study

CLAIM = 8
STATEMENT = "It holds across datasets, noise distributions, widths, tasks and activations"
CRITERION = ("each curve's fraction active falls >= 2x between sigma 0 and its minimum over the "
             "curve's whole sigma range (the Transformer's up to 8). Measured on clean held-out "
             "inputs, except exponential and Poisson noise: not zero-mean, they shift every "
             "input by E[noise] = sigma, so they are judged at x + E[noise] and on noisy inputs "
             "(both must fall 2x). ReLU and GELU (the paper's 'GELU yes') are judged; sigmoid, "
             "tanh and ELU are reported")
CURVES = (("datasets", "dataset"), ("latents", "dataset"), ("noise_types", "noise"),
          ("width", "width"), ("tasks", "task"), ("activations", "activation"),
          ("lm_sigma", "arch"))
JUDGED_ACTIVATIONS = ("relu", "gelu")


def fall(curve) -> float:
    """Fraction active at sigma 0 over its minimum across the whole sigma range (inf when
    it reaches 0; NaN without a sigma-0 point or with no activity at all)."""
    if curve.empty or curve.index[0] != 0 or curve.iloc[0] <= 0:
        return float("nan")
    lo = curve.min()
    return curve.iloc[0] / lo if lo > 0 else float("inf")


def judge(plan) -> dict:
    checks, parts = [], []
    for name, key in CURVES:
        df = study(plan, name)
        if df is None:
            continue
        for value, g in df.groupby(key):
            shifted = name == "noise_types" and not is_zero_mean(value)
            metrics = (["frac_active_shifted", "frac_active_noisy"] if shifted
                       else ["frac_active_clean"])
            ratios = []
            for m in metrics:  # (at sigma 0, x + E[noise] is x: the clean value)
                ratios.append(fall(by_sigma(g, m).dropna()))
            if any(r != r for r in ratios):  # NaN: no sigma 0 in this curve
                continue
            judged = name != "activations" or value in JUDGED_ACTIVATIONS
            label = " / ".join("to 0" if r == float("inf") else f"{r:.1f}x" for r in ratios)
            what = " (at x + E[noise] / noisy)" if shifted else ""
            parts.append(f"{name}/{value}: {label}{what} over sigma 0-{g['sigma'].max():g}"
                         + ("" if judged else " (reported)"))
            if judged:
                checks.append(all(r >= 2 for r in ratios))
    return row(CLAIM, STATEMENT, CRITERION, "; ".join(parts), checks)
