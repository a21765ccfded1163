"""Claim 10 (ICML abstract): noisy training helps robustness and computational efficiency.

Judged on F19 (PGD attacks and test-time noise on the trained networks) and F20 (the
decoder timed dense and with only the active units), whose tables F18 reads (its `reads`
in config/studies.yaml makes them inputs of the F18 step)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import figure_table, row

CLAIM = 10
STATEMENT = "Noisy training helps robustness and computational efficiency"
SIGMA_REF = 0.8  # the noise level compared with sigma = 0 (nearest grid point)
CRITERION = (
    "paper: none (the abstract's words only, no definition or numbers recovered). Ours, "
    f"noisy = the trained sigma nearest {SIGMA_REF:g} vs sigma = 0. Robustness (F19): for "
    "classifiers, mean accuracy over the eps > 0 grid under PGD L-inf, under PGD L2 (worst "
    "case over eps' <= eps), and over test-time Gaussian noise sigma > 0: every noisy seed "
    "above every sigma-0 seed; for reconstructions, the relative error the attack adds to "
    "the network's clean error, mean over eps > 0, PGD L-inf and L2: every noisy seed below "
    "every sigma-0 seed (a denoiser's clean error is higher by design, and its error under "
    "Gaussian noise is its training objective: shown in F19, not judged). Efficiency (F20): at the "
    "noisy sigma, the faster sparse decoder beats the dense one on the CPU at batch 1 and at "
    "the large batch (measured speedup > 1)")


def _table(name: str) -> pd.DataFrame:
    return figure_table(name, CLAIM)


def _noisy_sigma(sigmas) -> float:
    s = np.asarray(sorted(set(sigmas) - {0.0}), float)
    return float(s[np.argmin(np.abs(s - SIGMA_REF))]) if len(s) else np.nan


def robustness_checks(runs: pd.DataFrame) -> list[tuple[str, bool]]:
    """(label, passed) per model, dataset and attack, from F19's per-run table."""
    checks = []
    for (model, dataset, attack), g in runs.groupby(["model", "dataset", "attack"]):
        if model == "reconstruction" and attack == "gaussian":
            continue  # a denoiser's error under noise is its training objective, not a test
        noisy = _noisy_sigma(g["sigma"])
        if 0.0 not in set(g["sigma"]) or np.isnan(noisy):
            continue
        per_seed = g[g["eps"] > 0].groupby(["sigma", "seed"])["value"].mean()
        if model == "reconstruction":  # the error the attack adds to the network's own
            per_seed -= g[g["eps"] == 0].groupby(["sigma", "seed"])["value"].mean()
        clean, noisy_v = per_seed.loc[0.0], per_seed.loc[noisy]
        better = (noisy_v.min() > clean.max() if model == "classifier"
                  else noisy_v.max() < clean.min())
        what = " (error added by the attack)" if model == "reconstruction" else ""
        checks.append((f"{model} {dataset} {attack}{what}: sigma {noisy:g} "
                       f"{noisy_v.mean():.3g} vs sigma 0 {clean.mean():.3g}", bool(better)))
    return checks


def efficiency_checks(eff: pd.DataFrame) -> tuple[list[tuple[str, bool]], str]:
    """(label, passed) per batch size on the CPU, and a line of what was measured."""
    cpu = eff[eff["device"] == "cpu"]
    noisy = _noisy_sigma(cpu["sigma"])
    checks, notes = [], []
    for b, g in cpu.groupby("batch"):
        at = g[g["sigma"] == noisy]
        best = at.loc[at["decoder_speedup"].idxmax()]
        checks.append((f"batch {b}: {best['method']} decoder {best['decoder_speedup']:.2f}x, "
                       f"network {best['network_speedup']:.2f}x at sigma {noisy:g} "
                       f"(fraction active {best['frac_active']:.3f}, decoder multiply-adds "
                       f"saved {best['decoder_macs_saved']:.0%})",
                       bool(best["decoder_speedup"] > 1)))
    return checks, "; ".join(notes)


def judge(plan) -> dict | None:
    if "robustness" not in plan.studies:
        return None
    rob = robustness_checks(_table("F19_runs"))
    eff, _ = efficiency_checks(_table("F20"))
    synth = _table("F20_synthetic")
    be = synth[synth["device"] == "cpu"].drop_duplicates(["width", "d_out", "batch", "method"])
    be_text = ", ".join(f"{r.width}->{r.d_out} batch {r.batch} {r.method} "
                        f"{r.break_even_frac_active:.3g}" for r in be.itertuples())

    def half(checks):
        ok = sum(p for _, p in checks)
        return f"{ok}/{len(checks)} pass ({'; '.join(t for t, _ in checks)})"

    measured = (f"robustness: {half(rob)}. efficiency: {half(eff)}; break-even fraction "
                f"active on synthetic activations (CPU): {be_text}")
    return row(CLAIM, STATEMENT, CRITERION, measured, [p for _, p in rob + eff])
