"""Figures that plot metrics against σ or over training: F1-F6, F8, F9, F11, F12, F14, F15
and the Transformer's per-layer figure. Each takes the plan and returns save()'s outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FormatStrFormatter, LogLocator

from ..claims.replication import load_reference
from ..runs.results import load_final, load_history
from . import style as S

ACTIVE = ["frac_active_clean", "frac_active_noisy"]


def _final(plan, fig_id: str, role: str | None = None) -> pd.DataFrame:
    """Final metrics of the runs the figure reads (as `role`: its `studies` mapping in
    config/studies.yaml, which names the studies)."""
    return load_final(plan.read_runs(fig_id, role))


def _reference(name: str):
    ref = load_reference()
    for c in ref["curves"]:
        if c["name"] == name:
            return c.get("sigmas", ref["sigmas"]), c["values"], c["label"]
    raise KeyError(name)


def _beside_paper(ax, table, ref_name: str, ref_label: str) -> None:
    """Our final fraction active vs σ, clean and noisy, beside a reference curve's values."""
    S.sigma_curves(ax, table, None, "frac_active_clean")
    ax.lines[-1].set_label("ours, clean held-out")
    S.sigma_curves(ax, table, None, "frac_active_noisy", ls="--", marker="s")
    ax.lines[-1].set_label("ours, noisy")
    sig, vals, _ = _reference(ref_name)
    ax.plot(sig, vals, ":", color="0.4", marker="^", label=ref_label)
    S.sigma_axis(ax)
    ax.set_ylabel(S.ACTIVE_LABEL)
    ax.legend()


def _ablation(plan, fig_id, title, by, fmt=str, metrics=("frac_active_clean",
              "frac_active_noisy"), note="", prepare=None):
    """Fraction active vs σ, one curve per value of `by`; one panel per metric. `prepare`
    may add columns to the runs' final metrics first."""
    runs = plan.read_runs(fig_id)
    df = load_final(runs)
    if prepare is not None:
        df = prepare(df)
    table = S.summarise(df, [by, "sigma"], list(metrics))
    fig, axes = S.panels(len(metrics))
    for ax, m in zip(axes, metrics):
        S.sigma_curves(ax, table, by, m, fmt=fmt)
        ax.set_ylabel(_ylabel(m))
        ax.set_title(_panel_title(m))
    # Beside the last panel: inside, four or more curves leave it no free corner.
    axes[-1].legend(title=by, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    caption = (f"Final {S.ACTIVE_LABEL} vs σ, one curve per {by}. {note}"
               f"\n{S.describe(plan, runs)}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def _ylabel(metric: str) -> str:
    return {"frac_active_clean": S.ACTIVE_LABEL, "frac_active_noisy": S.ACTIVE_LABEL,
            "frac_active_shifted": S.ACTIVE_LABEL,
            "frac_active_living": "fraction active among living neurons",
            "frac_dead": "fraction dead", "frac_silent_clean": "fraction silent (clean)",
            "loss_clean": "loss on clean held-out inputs",
            "accuracy": "accuracy"}.get(metric, metric)


def _panel_title(metric: str) -> str:
    return {"frac_active_clean": S.CLEAN, "frac_active_noisy": S.NOISY,
            "frac_active_shifted": "at x + E[noise] (held-out)",
            "frac_dead": DEAD_PAPER, "frac_silent_clean": SILENT_OURS,
            "loss_clean": "loss (clean held-out inputs)"}.get(metric, metric)


# The two dead-neuron definitions, labelled wherever dead neurons appear.
DEAD_PAPER = "dead, paper's definition (noisy pass)"
SILENT_OURS = "silent on clean data (ours)"
DEAD_NOTE = ("Dead neurons, the authors' definition: no activity (ReLU: summed output < 1e-5; "
             "other activations: never |a| > threshold) over a full pass of the training data "
             "with the run's noise at its final σ; ours beside it: the same over the clean "
             "training data, so a unit that fires only on noise is living for the paper and "
             "silent on clean data for us.")


def f1_training(plan, fig_id, title):
    hist = load_history(plan.read_runs(fig_id))
    hist = hist[hist["status"] == "ok"]
    table = (hist.groupby(["sigma", "step", "epoch"])[ACTIVE].agg(["mean", "min", "max"]))
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    table = table.reset_index()
    table["seeds"] = hist.groupby(["sigma", "step"]).size().values
    colours = S.sigma_colours(table["sigma"])
    fig, axes = S.panels(3, w=3.3)
    for ax, m in zip(axes[:2], ACTIVE):
        for s, g in table.groupby("sigma"):
            S.curve(ax, g["epoch"], g[f"{m}_mean"], g[f"{m}_min"], g[f"{m}_max"],
                    colour=colours[s], label=f"σ={s:g}", marker="")
        ax.set_xlabel("epoch")
        ax.set_ylabel(S.ACTIVE_LABEL)
        ax.set_title(f"over training,\n{_panel_title(m)}")  # one line runs into the next
        ax.set_ylim(0, None)
    axes[0].legend(ncol=2)
    final = S.summarise(_final(plan, fig_id), ["sigma"], ACTIVE)
    _beside_paper(axes[2], final, "default", "paper, noisy")
    axes[2].set_title("at the end of training")
    seeds = int(table["seeds"].max())
    caption = (f"Fraction of hidden neurons active (ReLU output > 0) over training, one curve "
               f"per σ; bands: min-max over {seeds} seed(s). Right: final values beside the "
               f"paper's (read from config/reference.yaml; theirs is a noisy-input number on "
               f"CIFAR-10 latents with 10,000 neurons).\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f2_width(plan, fig_id, title):
    df = _final(plan, fig_id)
    metrics = ["frac_active_clean", "frac_active_noisy", "frac_dead", "frac_silent_clean"]
    table = S.summarise(df, ["width", "sigma"], metrics)
    fig, axes = S.panels(4, w=2.9)
    for ax, m in zip(axes, metrics):
        S.sigma_curves(ax, table, "width", m, fmt=lambda w: f"{w} neurons")
        ax.set_ylabel(_ylabel(m))
        ax.set_title(_panel_title(m), fontsize=8)
    # beside the last panel: inside the first, the curves of some widths ran through it
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    caption = ("Width ablation: final fraction active vs σ for each number of hidden neurons, "
               f"and the fraction of dead neurons under both definitions. {DEAD_NOTE}"
               f"\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f3_datasets(plan, fig_id, title):
    return _ablation(plan, fig_id, title, "dataset",
                     note="Raw pixels, a second natural-image set and digits stand in for "
                          "raw CIFAR-10, latents and MNIST outside the paper profile; "
                          "natural_latents (when run) are the authors' ConvMixer latents of "
                          "natural-image patches.")


def f4_noise(plan, fig_id, title):
    from ..training.noise import is_zero_mean

    def shifted(df):  # zero-mean noise: x + E[noise] is x, the clean value
        df = df.copy()
        if "frac_active_shifted" not in df:
            df["frac_active_shifted"] = float("nan")
        zero = df["noise"].map(is_zero_mean)
        df.loc[zero, "frac_active_shifted"] = df.loc[zero, "frac_active_clean"]
        return df

    return _ablation(plan, fig_id, title, "noise",
                     fmt=lambda n: n + ("" if is_zero_mean(n) else "* (not zero-mean)"),
                     metrics=("frac_active_clean", "frac_active_noisy", "frac_active_shifted"),
                     prepare=shifted,
                     note="σ parameterises each noise as in the paper: the standard deviation of "
                          "Gaussian noise, the scale of Laplace noise (std σ√2), the mean of "
                          "exponential noise (rate 1/σ) and the rate of Poisson noise (mean σ). "
                          "The last two shift every input by E[noise] = σ, so clean inputs lie "
                          "outside what those networks trained on; the right panel measures "
                          "them at x + E[noise] (for zero-mean noise, the clean value).")


def f5_tasks(plan, fig_id, title):
    df = _final(plan, fig_id, "heads")
    table = S.summarise(df, ["task", "sigma"], ACTIVE + ["loss_clean"])
    fig, axes = S.panels(3)
    S.sigma_curves(axes[0], table, "task", "frac_active_clean")
    axes[0].set_title(f"MLP, {S.CLEAN}")
    S.sigma_curves(axes[1], table, "task", "frac_active_noisy")
    axes[1].set_title(f"MLP, {S.NOISY}")
    for ax in axes[:2]:
        ax.set_ylabel(S.ACTIVE_LABEL)
    S.legend_on_top(axes[0], 0.45, title="task", ncol=2, fontsize=6, title_fontsize=6)
    ax = axes[2]
    ax.set_title("Transformer LM, mean over MLP layers")
    runs = plan.read_runs(fig_id, "heads")
    if plan.reads(fig_id, "transformer"):
        lm = S.summarise(_final(plan, fig_id, "transformer"), ["task", "sigma"],
                         ACTIVE + ["loss_clean"])
        _beside_paper(ax, lm, "transformer", "paper, WikiText-103")
        table = pd.concat([table, lm], ignore_index=True)
        runs += plan.read_runs(fig_id, "transformer")
    else:  # the panel's slot and data contract exist even when a profile has no LM study
        S.sigma_axis(ax)
        ax.text(0.5, 0.5, "no Transformer runs\nin this profile", ha="center",
                transform=ax.transAxes, color="0.4")
    caption = ("Task ablation: reconstruction and classification heads on the same data, and "
               "a decoder-only Transformer trained with noise added after the LayerNorm at the "
               "input of every MLP block (the paper does not say where; noise is off at "
               f"evaluation unless marked noisy).\n{S.describe(plan, runs)}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f5_layers(plan, fig_id, title):
    df = _final(plan, fig_id)
    layers = sorted(int(c.rsplit("_L", 1)[1]) for c in df.columns
                    if c.startswith("frac_active_clean_L"))
    panels = ["frac_active_clean", "frac_active_noisy", "frac_dead", "frac_silent_clean"]
    panels = [m for m in panels if f"{m}_L{layers[0]}" in df]  # results from before both
    metrics = [f"{m}_L{i}" for i in layers for m in panels]
    table = S.summarise(df, ["sigma"], metrics + ["loss_clean", "ppl_clean"])
    fig, axes = S.panels(len(panels), w=2.9)
    for ax, m in zip(axes, panels):
        for i in layers:
            S.curve(ax, table["sigma"], table[f"{m}_L{i}_mean"], table[f"{m}_L{i}_min"],
                    table[f"{m}_L{i}_max"], colour=S.CATEGORICAL[i % 10], label=f"layer {i}",
                    converged=table.get("converged"))
        S.sigma_axis(ax)
        ax.set_ylabel(_ylabel(m))
        ax.set_title(_panel_title(m), fontsize=8)
    axes[0].legend()
    caption = ("Fraction of MLP hidden units active per token in each Transformer layer vs σ; "
               "noise is added after the LayerNorm at the input of every MLP block during "
               "training only. Dead units: the authors' definition (no activity over the "
               "validation windows with the run's noise) beside ours (silent on the clean "
               f"windows).\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f6_activations(plan, fig_id, title):
    return _ablation(plan, fig_id, title, "activation",
                     metrics=("frac_active_clean", "loss_clean", "frac_dead",
                              "frac_silent_clean"),
                     note="For non-ReLU activations a unit counts as active when |a| exceeds "
                          "the activation threshold of the config, and as dead when it never "
                          f"does (as the authors counted). {DEAD_NOTE}")


def f8_shared_bias(plan, fig_id, title):
    df = _final(plan, fig_id)  # per-neuron and shared bias, told apart by `bias`
    metrics = ["loss_clean", "frac_active_clean", "frac_active_noisy"]
    table = S.summarise(df, ["bias", "sigma"], metrics)
    fig, axes = S.panels(3)
    for ax, m in zip(axes, metrics):
        S.sigma_curves(ax, table, "bias", m, fmt=lambda b: {"neuron": "per-neuron bias",
                                                            "shared": "one shared bias"}[b])
        ax.set_ylabel(_ylabel(m))
        ax.set_title(_panel_title(m))
    axes[0].set_yscale("log")
    axes[0].legend()
    caption = ("One learned scalar bias shared by all hidden neurons vs a bias per neuron: "
               "loss and sparsity side by side; bands: min-max over seeds."
               f"\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f9_noise_removal(plan, fig_id, title):
    """Seed means over training of the annealed runs and of their never-noised reference
    (sigma 0 throughout, trained as long), one line style per learning rate; the latent
    data's runs (noise_removal_latents, when asked for) in their own rows of the table."""
    runs = plan.read_runs(fig_id)
    hist = load_history(runs)
    hist = hist[hist["status"] == "ok"]
    table = hist.groupby(["dataset", "lr", "sigma", "step", "epoch"])[
        ["sigma_now", "frac_active_clean", "frac_active_noisy", "loss_clean"]].mean().reset_index()
    colours = S.sigma_colours(table["sigma"])
    styles = dict(zip(sorted(table["lr"].unique(), reverse=True), ["-", "--", ":", "-."]))
    sets = sorted(table["dataset"].unique())
    fig, axes = S.panels(3 * len(sets), nrows=len(sets))
    for row, ds in enumerate(sets):
        ax3 = axes[3 * row:3 * row + 3]
        for (lr, s), g in table[table["dataset"] == ds].groupby(["lr", "sigma"]):
            lab = (f"σ={s:g}, annealed to 0" if s > 0 else "never noised") + f", lr {lr:g}"
            for ax, col in zip(ax3, ["frac_active_clean", "loss_clean", "sigma_now"]):
                ax.plot(g["epoch"], g[col], styles[lr], color=colours[s], label=lab)
        for ax, yl, t in zip(ax3, [S.ACTIVE_LABEL, "loss on clean held-out inputs",
                                   "training σ"], [S.CLEAN, "loss", "noise schedule"]):
            ax.set_xlabel("epoch")
            ax.set_ylabel(yl)
            ax.set_title(f"{t} ({ds})" if len(sets) > 1 else t)
        ax3[1].set_yscale("log")
        ax3[0].legend(fontsize="x-small")
    caption = ("Noise removal: σ held until the fraction active plateaus, annealed linearly to 0, "
               "then held at 0, vs the never-noised network (σ 0) trained as long; one line "
               f"style per Adam learning rate, seed means.\n{S.describe(plan, runs)}.")
    return S.save(fig_id, fig, table, plan, title, caption)


TOPK_SCHEDULES = {"fixed": "", "linear": ", k decayed linearly",
                  "exponential": ", k decayed exponentially"}
F11_NOISE = "noise (ReLU, per-neuron bias)"
F11_TOPK = "Top-K, noise network's architecture (raw input, per-neuron bias)"
F11_AUTHORS = "authors' normalised Top-K"
F11_COSINE = "authors' normalised cosine (shared bias)"
F11_L1 = "L1 penalty, no noise"
FAILED_LABEL = "×: failed to train (MSE ≥ zero predictor's)"


def _failed(df: pd.DataFrame) -> pd.DataFrame:
    """failed_<inputs>: 1 where a run does not beat the zero predictor on those inputs, 0
    where it does (convergence.beats_zero_on)."""
    from ..runs.results import beats_zero_on
    out = df.copy()
    for ev in ("clean", "noisy"):
        beats = beats_zero_on(out, ev)
        out[f"failed_{ev}"] = (~beats).astype(float)
    return out


def f11_baselines(plan, fig_id, title):
    """Reconstruction MSE (of the clean input) against fraction active, on clean held-out
    inputs and on the same inputs with each model's training noise: noise vs Top-K with the
    noise network's architecture trained at the same σ (one dashed line across k per σ), the
    authors' normalised Top-K and cosine model (labelled variants), and the L1 penalty (no
    noise, so clean only). A run that does not beat the zero predictor on a panel's inputs
    is crossed out there: it failed to train, and claim 7 does not compare with it."""
    parts = [_final(plan, fig_id, "noise").assign(method=F11_NOISE, k=0)]
    if plan.reads(fig_id, "l1"):
        parts.append(_final(plan, fig_id, "l1").assign(method=F11_L1, k=0))
    for role, label in (("topk", F11_TOPK), ("topk_normalised", F11_AUTHORS)):
        if plan.reads(fig_id, role):
            tk = _final(plan, fig_id, role)
            parts.append(tk.assign(method=label + tk["topk_schedule"].map(TOPK_SCHEDULES),
                                   k=tk["topk"]))
    if plan.reads(fig_id, "cosine"):
        parts.append(_final(plan, fig_id, "cosine").assign(method=F11_COSINE, k=0))
    df = _failed(pd.concat(parts, ignore_index=True))
    metrics = ["frac_active_clean", "frac_active_noisy", "loss_clean", "loss_noisy",
               "loss_clean_rel", "failed_clean", "failed_noisy"]
    metrics += [c for c in ("loss_zero_clean", "loss_zero_noisy") if c in df]
    table = S.summarise(df, ["method", "sigma", "k", "l1"], metrics)
    colours = S.sigma_colours(table["sigma"])
    fig, axes = S.panels(2, w=5.2, h=3.6)
    for ax, ev, title_ in zip(axes, ("clean", "noisy"), (S.CLEAN, "noisy inputs (its own σ)")):
        fa, loss = f"frac_active_{ev}_mean", f"loss_{ev}_mean"
        for method, g in table.groupby("method", sort=False):
            if method == F11_L1 and ev == "noisy":
                continue  # trained without noise: no noisy inputs of its own
            topk = method.startswith(F11_TOPK) or method.startswith(F11_AUTHORS)
            if topk:  # one line across k per sigma
                marker = "s" if method.startswith(F11_TOPK) else "v"
                ls = "--" if method in (F11_TOPK, F11_AUTHORS) else ":"
                for s, gs in g.groupby("sigma"):
                    gs = gs.sort_values(fa)
                    ax.plot(gs[fa], gs[loss], ls=ls, marker=marker, color=colours[s], ms=3,
                            lw=0.9, label=f"{method}, σ={s:g}" if ev == "clean" else None)
                    S.mark_unconverged(ax, gs[fa], gs[loss], gs.get("converged"), marker,
                                       colours[s], 3)
                    _cross_failed(ax, gs, ev, fa, loss)
                continue
            g = g.sort_values("l1" if method == F11_L1 else "sigma")
            marker = {F11_NOISE: "o", F11_COSINE: "^", F11_L1: "D"}[method]
            ax.plot(g[fa], g[loss], "-", color="C3" if method == F11_L1 else "0.3", lw=0.8,
                    label=method if ev == "clean" else None)
            ax.scatter(g[fa], g[loss], c=[colours[s] for s in g["sigma"]], marker=marker,
                       s=22, zorder=3, edgecolors="0.2", linewidths=0.4)
            S.mark_unconverged(ax, g[fa], g[loss], g.get("converged"), marker,
                               [colours[s] for s in g["sigma"]], 22 ** 0.5)
            _cross_failed(ax, g, ev, fa, loss)
        zero = table.get(f"loss_zero_{ev}_mean")
        if zero is not None and zero.notna().any():
            ax.axhline(float(zero.mean()), color="C3", ls=":", lw=0.8,
                       label="zero predictor (outputs 0)" if ev == "clean" else None)
        ax.set_xscale("log")
        ax.set_yscale("log")
        # fractions as plain numbers at 1, 2, 5: matplotlib's minor labels (3x10^-1,
        # 4x10^-1) ran into each other
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_locator(LogLocator(subs=(2, 5)))
        ax.xaxis.set_minor_formatter(FormatStrFormatter("%g"))
        ax.set_xlabel(f"{S.ACTIVE_LABEL} ({title_})")
        ax.set_ylabel(f"MSE to the clean input ({ev} inputs)")
        ax.set_title(title_)
    handles, labels = axes[0].get_legend_handles_labels()  # beside: no free corner
    for h, lab in zip(*axes[1].get_legend_handles_labels()):  # marks drawn on the right only
        if lab not in labels:
            handles.append(h)
            labels.append(lab)
    axes[1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1),
                   borderaxespad=0, fontsize=5.5)
    caption = ("Reconstruction error at matched sparsity, each model evaluated on the inputs it "
               "was trained for: on clean held-out inputs (left) and with its own training noise "
               "(right). Markers are coloured by the training σ: noise-trained ReLU networks "
               "(circles, along σ); Top-K with the noise network's architecture (raw input, "
               "per-neuron bias, the k largest of W x + b kept and ReLU'd; squares, one dashed "
               "line across k per σ), the baseline claim 7 judges; the authors' normalised "
               "Top-K (unit inputs and encoder rows, shared bias; down-triangles) and cosine "
               "model (triangles), labelled variants; an L1 penalty without noise (diamonds, "
               "clean only). All reconstruct the raw clean input, so the MSEs compare; the "
               "dotted red line is the zero predictor's MSE, and a run above it on a panel's "
               "inputs is crossed out (failed to train; not compared). Claim 7 (F18) compares "
               "the noise network with the raw Top-K at the same σ, interpolated across k to "
               "the same fraction active. Lower is better.\n"
               f"{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def _cross_failed(ax, g: pd.DataFrame, ev: str, fa: str, loss: str) -> None:
    """A red x over the points (seed means) of which some seed failed to beat the zero
    predictor on `ev` inputs; one legend entry per axis."""
    col = f"failed_{ev}_mean"
    if col not in g:
        return
    bad = g[g[col].fillna(0) > 0]
    if bad.empty:
        return
    ax.scatter(bad[fa], bad[loss], marker="x", s=30, color="C3", linewidths=1.0, zorder=5)
    if FAILED_LABEL not in ax.get_legend_handles_labels()[1]:
        ax.scatter([], [], marker="x", color="C3", label=FAILED_LABEL)


def f12_inhibition(plan, fig_id, title):
    circuits = _final(plan, fig_id, "circuits")
    df = pd.concat([_final(plan, fig_id, "plain"), circuits])
    sigmas = set(circuits["sigma"])
    df = df[df["sigma"].isin(sigmas)]
    metrics = ["frac_active_clean", "loss_clean", "topk_agreement"]
    table = S.summarise(df, ["inhib", "sigma"], metrics)
    fig, axes = S.panels(3)
    names = {"none": "no circuit (ReLU)", "all_to_all": "all-to-all inhibition",
             "interneuron": "one inhibitory interneuron"}
    for ax, m in zip(axes, metrics):
        S.sigma_curves(ax, table, "inhib", m, fmt=names.get)
        ax.set_ylabel(_ylabel(m) if m != "topk_agreement" else "Top-K agreement")
        ax.set_title(_panel_title(m))
    axes[1].set_yscale("log")
    axes[0].legend()
    caption = ("Inhibitory circuit variants trained with noise, beside the plain network at "
               f"the same σ.\n{S.describe(plan, plan.read_runs(fig_id, 'circuits'))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f14_dead(plan, fig_id, title):
    df = _final(plan, fig_id)
    metrics = ["frac_active_clean", "frac_active_living", "frac_active_nonsilent", "frac_dead",
               "frac_silent_clean"]
    table = S.summarise(df, ["sigma"], metrics)
    fig, axes = S.panels(2, w=3.6, h=3.3)
    names = {"frac_active_clean": ("all neurons", "-", "o"),
             "frac_active_living": ("living neurons, paper's definition", "-", "s"),
             "frac_active_nonsilent": ("neurons not silent on clean data (ours)", "--", "s"),
             "frac_dead": (f"share {DEAD_PAPER}", "-", "x"),
             "frac_silent_clean": (f"share {SILENT_OURS}", "--", "x")}
    for i, m in enumerate(metrics):
        label, ls, marker = names[m]
        S.curve(axes[0], table["sigma"], table[f"{m}_mean"], table[f"{m}_min"],
                table[f"{m}_max"], colour=S.CATEGORICAL[i], label=label, ls=ls, marker=marker,
                converged=table.get("converged"))
    S.sigma_axis(axes[0])
    axes[0].set_ylabel("fraction")
    axes[0].set_title("fraction active (clean held-out) and dead", fontsize=8)
    # fractions stay <= 1: the legend gets the band above them (one line more for open markers)
    axes[0].set_ylim(0, 1.85 if S.has_unconverged(fig) else 1.6)
    axes[0].set_yticks([0, 0.25, 0.5, 0.75, 1])
    axes[0].legend(loc="upper left", fontsize=6)
    for i, (m, label, ls) in enumerate((("frac_active_clean", "all neurons", "-"),
                                        ("frac_active_living", "living, paper's definition", "-"),
                                        ("frac_active_nonsilent", "not silent on clean (ours)",
                                         "--"))):
        ratio = table[f"{m}_mean"] / table[f"{m}_mean"].iloc[0]
        axes[1].plot(table["sigma"], ratio, marker="os"[min(i, 1)], ls=ls,
                     color=S.CATEGORICAL[i], label=label)
        S.mark_unconverged(axes[1], table["sigma"], ratio, table.get("converged"),
                           "os"[min(i, 1)], S.CATEGORICAL[i])
        table[f"{m}_relative_to_sigma0"] = ratio
    S.sigma_axis(axes[1])
    axes[1].set_yscale("log")
    axes[1].set_ylabel("fraction active / its σ = 0 value")
    axes[1].set_title("sparsity that is not dead neurons")
    axes[1].legend(loc="lower left", fontsize=6.5)
    caption = (f"{DEAD_NOTE} If the fall in fraction active were only dead neurons, the living "
               "curves would stay flat. Fraction active is measured on clean held-out inputs."
               f"\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def _optimiser_label(r) -> str:
    if r["optimizer"] == "adam":
        return f"Adam lr {r['lr']:g}"
    mom = f", momentum {r['momentum']:g}" if r["momentum"] else ""
    bias = f", bias lr {r['bias_lr']:g}" if pd.notna(r["bias_lr"]) else ""
    return f"SGD lr {r['lr']:g}{bias}{mom}"


def f15_optimisers(plan, fig_id, title):
    opt = _final(plan, fig_id, "by_optimiser")
    opt["variant"] = opt.apply(_optimiser_label, axis=1)
    t1 = S.summarise(opt, ["variant", "sigma"], ["frac_active_clean", "loss_clean"])
    lr = _final(plan, fig_id, "by_lr")
    t2 = S.summarise(lr, ["sigma", "lr"], ["frac_active_clean", "loss_clean"])
    fig, axes = S.panels(3)
    S.sigma_curves(axes[0], t1, "variant", "frac_active_clean")
    axes[0].set_ylabel(S.ACTIVE_LABEL)
    axes[0].set_title(f"optimisers, {S.CLEAN}")
    S.legend_on_top(axes[0], 0.4, fontsize=5.5)
    S.sigma_curves(axes[1], t1, "variant", "loss_clean")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("loss on clean held-out inputs")
    axes[1].set_title("optimisers, loss")
    colours = S.sigma_colours(t2["sigma"])
    for s, g in t2.groupby("sigma"):
        g = g.sort_values("lr")
        S.curve(axes[2], g["lr"], g["frac_active_clean_mean"], g["frac_active_clean_min"],
                g["frac_active_clean_max"], colour=colours[s], label=f"σ={s:g}",
                converged=g.get("converged"))
    axes[2].set_xscale("log")
    axes[2].set_xlabel("Adam learning rate")
    axes[2].set_ylabel(S.ACTIVE_LABEL)
    axes[2].set_title("learning-rate sweep")
    axes[2].legend()
    table = pd.concat([t1.assign(panel="optimiser"), t2.assign(panel="Adam learning rate")],
                      ignore_index=True)
    caption = ("SGD and SGD with momentum (biases at their own learning rate) vs σ, and an "
               "Adam learning-rate sweep at fixed σ; runs that diverged are marked x."
               f"\n{S.describe(plan, plan.read_runs(fig_id))}.")
    return S.save(fig_id, fig, table, plan, title, caption)
