"""F21: claim 9's implicit loss terms (noisesparse.measures.implicit), measured on every trained
network: how much of the excess noisy loss the first-order penalty's diagonal and overlap
parts explain per σ, the trade-off over training, and the same for the shared-bias network."""

from __future__ import annotations

import pandas as pd

from ..errors import ConfigError
from ..runs.results import load_final, load_history
from . import style as S

TERMS = ["implicit_excess", "implicit_excess_se", "implicit_diag", "implicit_overlap",
         "implicit_first_order", "implicit_remainder", "implicit_shift", "implicit_flip_off",
         "implicit_flip_on", "frac_active_clean", "loss_clean"]
# The measured excess is exactly the sum of these four parts (the remainder split in two).
# Legend labels kept short, so that the legend of panels a and c fits above their bars
# (the caption says which parts make the remainder).
PARTS = {"implicit_diag": ("diagonal (sparsity)", 0),
         "implicit_overlap": ("overlap (specialisation)", 1),
         "flip_variance": ("flip variance", 2),
         "implicit_shift": ("mean shift", 3)}
HEADROOM = 0.32  # share of panels a and c's height above the bars, for their legend
# One row of panels per role of F21's `studies` in config/studies.yaml, which names them.
ROWS = {"neuron": "per-neuron bias", "shared": "one shared bias"}


def _final(runs) -> pd.DataFrame:
    df = load_final(runs)
    if "implicit_excess" not in df.columns:
        raise ConfigError("these runs carry no implicit_* metrics (trained before claim 9's "
                          "terms were measured): retrain them with `snakemake --cores 2`")
    df = df[df["sigma"] > 0].copy()  # at sigma 0 there is no noise whose terms to measure
    df["diag_coefficient"] = df["implicit_diag"] / df["sigma"] ** 2
    df["flip_variance"] = df["implicit_remainder"] - df["implicit_shift"]
    df["first_order_share"] = df["implicit_first_order"] / df["implicit_excess"]
    # Shares of the gross terms (sum of |part|): well defined where the excess is near 0 or
    # negative (a network trained on noise can set its clean output against the mean shift)
    gross = sum(df[p].abs() for p in PARTS)
    for p in PARTS:
        df[f"{p}_of_gross"] = df[p] / gross
    df["excess_of_gross"] = df["implicit_excess"] / gross
    return df


def f21_implicit(plan, fig_id, title):
    tables, hists, used = [], [], []
    fig, axes = S.panels(6, nrows=2, w=3.3, h=2.6)
    axes = axes.reshape(2, 3)
    finals = {bias: _final(r) for bias in ROWS if (r := plan.read_runs(fig_id, bias))}
    colours = S.sigma_colours(pd.concat([f["sigma"] for f in finals.values()]))
    for i, (bias, what) in enumerate(ROWS.items()):
        runs = plan.read_runs(fig_id, bias)
        label = f"{what} ({' + '.join(plan.reads(fig_id, bias)) or 'no study'})"
        if bias not in finals:
            for ax in axes[i]:
                ax.text(0.5, 0.5, f"{label}:\nnot in this profile", transform=ax.transAxes,
                        ha="center", color="0.4", fontsize=7)
                ax.axis("off")
            continue
        used += runs
        df = finals[bias]
        t = S.summarise(df, ["sigma"], TERMS + [
            "diag_coefficient", "flip_variance", "first_order_share", "excess_of_gross",
            *(f"{p}_of_gross" for p in PARTS)])
        t.insert(0, "bias", bias)
        tables.append(t)
        # (a, c) the four parts per sigma as signed stacked bars, shares of the gross terms;
        # the measured excess (their sum) as a black diamond
        ax = axes[i, 0]
        pos = range(len(t))
        up, down = [0.0] * len(t), [0.0] * len(t)
        for p, (lab, c) in PARTS.items():
            v = t[f"{p}_of_gross_mean"].fillna(0).values
            base = [u if x >= 0 else d for x, u, d in zip(v, up, down)]
            ax.bar(pos, v, bottom=base, color=S.CATEGORICAL[c], width=0.7, label=lab)
            up = [u + max(x, 0) for x, u in zip(v, up)]
            down = [d + min(x, 0) for x, d in zip(v, down)]
        ax.plot(pos, t["excess_of_gross_mean"], "D", color="k", ms=4,
                label="measured excess (sum)")
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_xticks(list(pos), [f"{s:g}" for s in t["sigma"]], rotation=45, fontsize=6.5)
        ax.set_xlabel(S.SIGMA_LABEL)
        ax.set_ylabel("share of Σ|part|")
        ax.set_title(f"{'ac'[i]}. {label}", fontsize=7.5)
        # the bars reach at most 1: the legend gets the band above them, HEADROOM of the panel
        low = min(down) - 0.1
        ax.set_ylim(low, (1.05 - HEADROOM * low) / (1 - HEADROOM))
        ax.set_yticks([v for v in (-1, -0.5, 0, 0.5, 1) if v >= low])
        ax.legend(fontsize=5.2, loc="upper center", ncol=2, borderaxespad=0.2)
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
        ax.set_ylabel("MSE per output")  # the title says which line is which
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
        "leave the remainder (margin keeps them few): a mean shift 2 (f(x)−x)·(E f(x+ε)−f(x)), "
        "ReLU being convex, and the flip variance, the rest. (a, c) The four parts per σ, each "
        "a share of their summed magnitudes, stacked with their signs; the diamond is the "
        "measured excess (Monte Carlo, antithetic draws), which they sum to. Shares of the "
        "excess itself and standard errors are in the table (the excess can be near 0 or "
        "negative: a network trained on noise sets its clean output against the mean shift). "
        "(b, d) over training (mean over seeds per σ): clean loss "
        "(solid) and the first-order penalty (dashed), both mean squared error per output "
        "dimension; right: the diagonal penalty with σ² factored out vs the fraction active. "
        "σ = 0 runs have no terms. Only ReLU reconstruction networks with Gaussian noise are "
        "measured: for GELU the Jacobian is no 0/1 diagonal and for classification the loss is "
        f"not quadratic, so the decomposition does not carry over (claim 9 in F18)."
        f"\n{S.describe(plan, used)}.")
    return S.save(fig_id, fig, table, plan, title, caption,
                  {"history": pd.concat(hists, ignore_index=True)})

