"""F21: claim 9's implicit loss terms (noisesparse.implicit), measured on every trained
network: how much of the excess noisy loss the first-order penalty's diagonal and overlap
parts explain per σ, the trade-off over training, and the same for the shared-bias network."""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError
from ..results import load_final, load_history
from . import style as S

TERMS = ["implicit_excess", "implicit_excess_se", "implicit_diag", "implicit_overlap",
         "implicit_first_order", "implicit_remainder", "implicit_shift", "implicit_flip_off",
         "implicit_flip_on", "frac_active_clean", "loss_clean"]
SHARES = {"diag_share": ("diagonal (variance: sparsity)", "-", "o"),
          "overlap_share": ("overlap (specialisation)", "--", "s"),
          "remainder_share": ("remainder (units flipping)", ":", "^"),
          "shift_share": ("of which mean shift", "-.", "v")}
ROWS = {"neuron": ("per-neuron bias (main sweep + preactivations study)",
                   ("sigma_sweep", "preactivations")),
        "shared": ("one shared bias (shared_bias study)", ("shared_bias",))}


def _runs(plan, studies) -> list[str]:
    return list(dict.fromkeys(r for s in studies if s in plan.studies for r in plan.studies[s]))


def _final(runs) -> pd.DataFrame:
    df = load_final(runs)
    if "implicit_excess" not in df.columns:
        raise ConfigError("these runs carry no implicit_* metrics (trained before claim 9's "
                          "terms were measured): retrain them with `snakemake --cores 2`")
    df = df[df["sigma"] > 0].copy()  # at sigma 0 there is no noise whose terms to measure
    df["diag_coefficient"] = df["implicit_diag"] / df["sigma"] ** 2
    for share, part in (("diag_share", "implicit_diag"), ("overlap_share", "implicit_overlap"),
                        ("remainder_share", "implicit_remainder"),
                        ("shift_share", "implicit_shift")):
        df[share] = df[part] / df["implicit_excess"]
    return df


def f21_implicit(plan, fig_id, title):
    tables, hists, used = [], [], []
    fig, axes = S.panels(6, nrows=2, w=3.3, h=2.6)
    axes = axes.reshape(2, 3)
    finals = {bias: _final(r) for bias, (_, st) in ROWS.items() if (r := _runs(plan, st))}
    colours = S.sigma_colours(pd.concat([f["sigma"] for f in finals.values()]))
    for i, (bias, (label, studies)) in enumerate(ROWS.items()):
        runs = _runs(plan, studies)
        if bias not in finals:
            for ax in axes[i]:
                ax.text(0.5, 0.5, f"{label}:\nnot in this profile", transform=ax.transAxes,
                        ha="center", color="0.4", fontsize=7)
                ax.axis("off")
            continue
        used += runs
        df = finals[bias]
        t = S.summarise(df, ["sigma"], TERMS + ["diag_coefficient", *SHARES])
        t.insert(0, "bias", bias)
        tables.append(t)
        # (a, c) shares of the measured excess, per sigma
        ax = axes[i, 0]
        for share, (lab, ls, mk) in SHARES.items():
            S.curve(ax, t["sigma"], t[f"{share}_mean"], t[f"{share}_min"], t[f"{share}_max"],
                    label=lab, ls=ls, marker=mk)
        ax.plot(t["sigma"], t["implicit_flip_off_mean"], "x-", color="0.55", lw=0.8,
                label="flip rate: active units turned off")
        ax.axhline(0, color="0.5", lw=0.6)
        ax.axhline(1, color="0.5", lw=0.6, ls=":")
        S.sigma_axis(ax)
        ax.set_ylabel("share of the excess noisy loss")
        ax.set_title(f"{'ac'[i]}. {label}", fontsize=7.5)
        ax.legend(fontsize=5.5)
        # (b, d) over training, mean over seeds per sigma: clean loss vs first-order penalty
        h = load_history(runs)
        h = h[(h["status"] == "ok") & (h["sigma"] > 0)]
        h = h.groupby(["sigma", "step", "epoch"])[
            ["loss_clean", "implicit_first_order", "implicit_diag", "implicit_excess",
             "frac_active_clean"]].mean().reset_index()
        h.insert(0, "bias", bias)
        hists.append(h)
        ax = axes[i, 1]
        for s, g in h.groupby("sigma"):
            ax.plot(g["epoch"], g["loss_clean"], "-", color=colours.get(s), label=f"σ={s:g}")
            ax.plot(g["epoch"], g["implicit_first_order"], "--", color=colours.get(s))
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("clean loss (solid), penalty (dashed)")
        ax.set_title(f"{'bd'[i]}. over training: clean loss (solid) vs penalty (dashed)",
                     fontsize=7.5)
        ax.legend(ncol=2, fontsize=5.5)
        # the variance coefficient vs the fraction active, one point per sigma (check 4)
        ax = axes[i, 2]
        ax.plot(t["frac_active_clean_mean"], t["diag_coefficient_mean"], "-", color="0.6", lw=0.8)
        for _, r in t.iterrows():
            ax.plot(r["frac_active_clean_mean"], r["diag_coefficient_mean"], "o",
                    color=colours.get(r["sigma"]), label=f"σ={r['sigma']:g}")
        ax.set_xlabel(S.ACTIVE_LABEL + " (clean)")
        ax.set_ylabel("diagonal penalty / σ²")
        ax.set_yscale("log")
        ax.set_title("variance penalty per unit noise variance", fontsize=7.5)
    table = pd.concat(tables, ignore_index=True)
    caption = (
        "Implicit loss terms of Gaussian input noise (our derivation; the paper's text was not "
        "available): if no unit changes state, E‖f(x+ε)−x‖² − ‖f(x)−x‖² = σ²‖W2 D(x) W1‖²_F, "
        "split into its diagonal Σ_active ‖w1_i‖²‖w2_i‖² (the variance penalty: sparsity) and "
        "the overlap of active units' weights (specialisation); units that flip under the noise "
        "leave the remainder (margin keeps them few), part of it the mean shift "
        "2 (f(x)−x)·(E f(x+ε)−f(x)) that ReLU's convexity brings. (a, c) each part's share of the measured "
        "excess (Monte Carlo, antithetic draws; standard errors in the table), with the share of "
        "active units the noise turns off; (b, d) over training (mean over seeds per σ): clean loss "
        "(solid) and the first-order penalty (dashed), both mean squared error per output "
        "dimension; right: the diagonal penalty with σ² factored out vs the fraction active. "
        "σ = 0 runs have no terms. Only ReLU reconstruction networks with Gaussian noise are "
        "measured: for GELU the Jacobian is no 0/1 diagonal and for classification the loss is "
        f"not quadratic, so the decomposition does not carry over (claim 9 in F18)."
        f"\n{S.describe(plan, used)}.")
    return S.save(fig_id, fig, table, plan, title, caption,
                  {"history": pd.concat(hists, ignore_index=True)})

