"""Claim 4: one shared scalar bias gives the same loss and very similar sparsity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .ladder import at, measure
from .verdict import (BASELINE_FAILED, Check, converged_sigmas, finished, flag, gated, row,
                      seeds_note, study, sweep, threshold_check)

CLAIM = 4
FIGURES = ("F8",)  # what it reads, drawn (the report links them)
STATEMENT = "One shared bias gives the same loss and very similar sparsity"
MIN_SIGMA = 0.3  # below it the two networks are barely sparse: nothing to compare
EV_GAP = 0.05  # ours: "the same loss" is within 5% of the data's variance explained
RATIO = 1.5  # ours: "very similar" sparsity is within a factor 1.5 either way
REL_FLOOR = 0.05  # ours: differences under 5% of the sigma-0 network's activity are nil
CRITERION = (
    f"shared-bias against per-neuron networks, same seeds on both sides, over sigma >= "
    f"{MIN_SIGMA:g} where the per-neuron network beats the zero predictor (above, both sit at "
    "its loss and compare nothing) and both networks' runs converged (the others are named; "
    "with none, 'not converged'), per seed with a 95% t interval: (a) explained variance "
    "1 - loss / Var (Var: the zero predictor's loss), per-neuron minus shared, mean over sigma, "
    f"<= {EV_GAP:g}; (b) fraction active (clean held-out), the largest |log ratio| over sigma "
    f"<= log {RATIO:g}, each fraction floored at {REL_FLOOR:g} x the per-neuron network's "
    "sigma-0 fraction of that seed (a relative floor: the ratio of two near-zero fractions "
    "says nothing, and an absolute one would equal the paper's own values). Both essential")


def explained_variance(df: pd.DataFrame) -> pd.Series:
    """1 - loss / Var, Var the zero predictor's loss (noisesparse.runs.results)."""
    return 1 - df["loss_clean"] / df["loss_zero_clean"]


def soft_log_ratio(a, b, floor) -> np.ndarray:
    """|log((a + floor) / (b + floor))|: a ratio that two fractions far below `floor`
    cannot make large."""
    a, b, floor = (np.asarray(v, float) for v in (a, b, floor))
    return np.abs(np.log((a + floor) / (b + floor)))


def _beats(g: pd.DataFrame) -> bool:
    return bool(flag(g, "beats_zero_predictor").all())


def judge(plan) -> dict | None:
    shared = study(plan, "shared")
    if shared is None:
        return None
    main = sweep(plan)
    cand = sorted(s for s in set(shared["sigma"]) & set(main["sigma"]) if s >= MIN_SIGMA)
    working = [s for s in cand if _beats(finished(main[main["sigma"] == s]))]
    conv = set(converged_sigmas(shared)) & set(converged_sigmas(main))
    sig = [s for s in working if s in conv] or working  # none converged: the gates say so
    unconv = [s for s in working if s not in conv]
    sh, pn = shared[shared["sigma"].isin(sig)], main[main["sigma"].isin(sig)]
    keys = ["sigma", "seed"]
    a = finished(sh).assign(ev=explained_variance, f=lambda d: d["frac_active_clean"])
    b = finished(pn).assign(ev=explained_variance, f=lambda d: d["frac_active_clean"])
    m = a[keys + ["ev", "f"]].merge(b[keys + ["ev", "f"]], on=keys, suffixes=("_s", "_p"))
    f0 = finished(main[main["sigma"] == 0]).groupby("seed")["frac_active_clean"].mean()
    m["floor"] = REL_FLOOR * m["seed"].map(f0)
    gap = (m["ev_p"] - m["ev_s"]).groupby(m["seed"]).mean().to_numpy(float)
    spread = (m.assign(r=soft_log_ratio(m["f_s"], m["f_p"], m["floor"]))
              .groupby("seed")["r"].max().to_numpy(float))
    runs = pd.concat([sh, pn])
    if not working:
        out = [Check(n, BASELINE_FAILED, f"the per-neuron network does not beat the zero "
                     f"predictor at any sigma >= {MIN_SIGMA:g} ({cand})")
               for n in ("(a) explained variance", "(b) fraction active")]
    else:
        out = [gated("(a) explained variance, per-neuron - shared", runs,
                     lambda: threshold_check("a", gap, EV_GAP, "<=", "gap")),
               gated("(b) fraction active, largest |log ratio|", runs,
                     lambda: threshold_check("b", spread, float(np.log(RATIO)), "<=",
                                             "|log ratio|"))]
    per = m.groupby("sigma")[["ev_s", "ev_p", "f_s", "f_p"]].mean()
    measured = (f"paired seeds: {sorted(set(m['seed']))} (shared-bias study: "
                f"{seeds_note(shared)}); sigmas compared: {sig}, left out (per-neuron network "
                f"at the zero predictor): {[s for s in cand if s not in working]}, not "
                f"converged: {unconv}; "
                + ", ".join(f"sigma {s:g}: explained variance shared {r.ev_s:.3f} vs per-neuron "
                            f"{r.ev_p:.3f}, fraction active {r.f_s:.3f} vs {r.f_p:.3f}"
                            for s, r in per.iterrows()))
    return row(CLAIM, STATEMENT, CRITERION, measured, out)


SIGMA_LADDER = 0.8  # the paper's default noise level, where the ladder compares


def deciding(runs: pd.DataFrame) -> np.ndarray:
    """What decides claim 4 on `long` ((b) fails there): per seed, the floored |log ratio|
    of the shared-bias and per-neuron networks' clean fraction active at SIGMA_LADDER, on
    one rung's runs (both bias modes)."""
    keys = ["seed"]
    s = finished(at(runs, SIGMA_LADDER))
    sh = s[s["bias"] == "shared"][keys + ["frac_active_clean"]]
    pn = s[s["bias"] == "neuron"][keys + ["frac_active_clean"]]
    m = sh.merge(pn, on=keys, suffixes=("_s", "_p"))
    z = finished(at(runs, 0.0))
    f0 = z[z["bias"] == "neuron"].groupby("seed")["frac_active_clean"].mean()
    floor = REL_FLOOR * m["seed"].map(f0).to_numpy(float)
    return soft_log_ratio(m["frac_active_clean_s"], m["frac_active_clean_p"], floor)


def rungs(plan) -> list:
    """Claim 4 at sigma 0.8 along the sensitivity ladder (rungs that train both biases)."""
    return measure(plan, f"(b) |log ratio| shared / per-neuron at sigma {SIGMA_LADDER:g}",
                   deciding, float(np.log(RATIO)), "<=", [0.0, SIGMA_LADDER],
                   runs_of=lambda r: r.runs)
