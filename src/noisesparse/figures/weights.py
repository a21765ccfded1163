"""Figures that look inside trained networks: F7 (bias and weight-norm synchronisation),
F10 (receptive fields), F13 (pre-activation distributions), F16 (reconstructions), and F17
(data norm vs noise norm)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..data import load as load_data
from ..runs.results import load_final, load_history, load_model
from ..training.noise import sample
from . import style as S

N_SHOWN = 8  # receptive fields per row


def _seed0(plan, fig_id: str) -> pd.DataFrame:
    """One run per σ (the lowest seed) of those the figure reads: the ones whose weights it
    shows."""
    df = load_final(plan.read_runs(fig_id))
    df = df[df["status"] == "ok"].sort_values(["sigma", "seed"])
    return df.groupby("sigma", as_index=False).first()


def f7_synchronisation(plan, fig_id, title):
    runs = _seed0(plan, fig_id)
    colours = S.sigma_colours(runs["sigma"])
    rows = []
    fig, axes = S.panels(4, nrows=2, w=3.4, h=2.4)
    for _, r in runs.iterrows():
        _, net = load_model(r["run_id"])
        b = net.hidden_bias()[0].detach().numpy()
        w = net.w1[0].detach().norm(dim=-1).numpy()
        c = colours[r["sigma"]]
        axes[0].hist(b, bins=40, histtype="step", color=c, label=f"σ={r['sigma']:g}",
                     density=True)
        axes[1].hist(w, bins=40, histtype="step", color=c, density=True)
        rows += [{"sigma": r["sigma"], "run_id": r["run_id"], "neuron": i, "bias": bi,
                  "weight_norm": wi} for i, (bi, wi) in enumerate(zip(b, w))]
    axes[0].set_xlabel("hidden bias")
    axes[0].set_title("biases at the end of training")
    axes[1].set_xlabel("encoder row L2 norm")
    axes[1].set_title("encoder weight norms at the end")
    for ax in axes[:2]:
        ax.set_ylabel("density")
    hist = load_history(list(runs["run_id"]))
    for s, g in hist.groupby("sigma"):
        axes[2].plot(g["epoch"], g["bias_std"], color=colours[s], label=f"σ={s:g}")
        axes[3].plot(g["epoch"], g["wnorm_cv"], color=colours[s])
    axes[2].legend(ncol=2)
    axes[2].set_ylabel("std of biases across neurons")
    axes[2].set_title("bias spread over training")
    axes[3].set_ylabel("coefficient of variation of norms")
    axes[3].set_title("weight-norm spread over training")
    for ax in axes[2:]:
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    table = pd.DataFrame(rows)
    spread = hist[["sigma", "step", "epoch", "bias_mean", "bias_std", "bias_frac_negative",
                   "wnorm_mean", "wnorm_cv"]]
    caption = ("Top: histograms over neurons of the hidden biases and encoder weight-row norms "
               "at the end of training (seed 0 per σ), over all neurons, dead ones included. "
               "Bottom: their spread over training. The paper reports that with noise the "
               "biases converge to one negative value and the norms to one value (claim 3; "
               f"F18 judges it).\n{S.describe(plan, list(runs['run_id']))}.")
    return S.save(fig_id, fig, table, plan, title, caption, {"spread": spread})


def _tiles(w: np.ndarray, shape, nrow: int = N_SHOWN) -> np.ndarray:
    """Encoder rows -> one image grid [H, W, C], each filter scaled to its own max |w|
    (grey = 0), white lines between filters (torchvision's make_grid)."""
    from torchvision.utils import make_grid

    t = torch.as_tensor(w, dtype=torch.float32).reshape(-1, *shape)
    t = t / (t.abs().amax(dim=(1, 2, 3), keepdim=True) + 1e-12) * 0.5 + 0.5
    grid = make_grid(t, nrow=nrow, padding=1, pad_value=1.0)  # 1 channel is made 3
    return grid.permute(1, 2, 0).numpy()[..., :shape[0]]


def _show(ax, strip):
    ax.imshow(strip.squeeze(-1) if strip.shape[-1] == 1 else strip.clip(0, 1),
              cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


KIND_COLOURS = {"gabor": "#1b9e77", "centre_surround": "#d95f02", "other": "0.75"}


def f10_receptive_fields(plan, fig_id, title):
    from ..claims import receptive_fields as C6

    models = C6.models(plan)
    per_field, per_model = C6.field_tables(plan)
    rows = []
    n = len(models)
    fig = S.plt.figure(figsize=(12.5, 0.95 * n + 1.6))
    gs = fig.add_gridspec(n, 3, width_ratios=[4, 4, 2.2])
    for i, m in enumerate(models):
        cfg, net = load_model(m["run_id"])
        data = load_data(cfg.dataset)
        shape = data["meta"]["shape"]
        w = net.encoder_weight()[0].detach().numpy()
        rng = np.random.default_rng(0)
        rand = rng.choice(w.shape[0], size=min(N_SHOWN, w.shape[0]), replace=False)
        # The neurons most activated by one training image, with the run's own noise on it.
        x = data["x_train"][:1]
        g = torch.Generator().manual_seed(0)
        xn = x + sample(cfg.noise, m["sigma"], x.shape, generator=g)
        with torch.no_grad():
            _, z = net.encode(xn)
        z = z[0, 0].numpy()
        top = np.argsort(-z)[:N_SHOWN]
        top = top[z[top] > 0]
        ax0, ax1 = fig.add_subplot(gs[i, 0]), fig.add_subplot(gs[i, 1])
        _show(ax0, _tiles(w[rand], shape))
        ax0.set_ylabel(m["model"], rotation=0, ha="right", va="center", fontsize=7)
        if len(top):
            _show(ax1, _tiles(w[top], shape))
        else:
            ax1.axis("off")
        ax1.set_xlabel(f"{int((z > 0).sum())} of {len(z)} neurons active for this image",
                       fontsize=6.5, labelpad=1)
        if i == 0:
            ax0.set_title("random neurons", fontsize=8)
            ax1.set_title("most active for one noisy training image, sorted", fontsize=8)
        for kind, idx in (("random", rand), ("most_active", top)):
            rows += [{"model": m["model"], "run_id": m["run_id"], "kind": kind, "rank": j,
                      "neuron": int(k), "activation": float(z[k])} for j, k in enumerate(idx)]
    ax = fig.add_subplot(gs[:, 2])
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for kind, col in KIND_COLOURS.items():
        share = per_model[f"share_{kind}"].to_numpy()
        ax.barh(y, share, left=left, color=col, label=kind.replace("_", "-"), height=0.7)
        left += share
    if "null_share_gabor" in per_model:  # the shuffled null's Gabor share, where fitted
        null = per_model["null_share_gabor"].to_numpy(float)
        has = np.isfinite(null)
        ax.scatter(null[has], y[has], marker="|", s=160, color="k", linewidths=1.6, zorder=3,
                   label="Gabor share of the null (pixels shuffled)")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{r.model} ({r.n_fields})" for r in per_model.itertuples()],
                       fontsize=6.5)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of living neurons' fields")
    ax.set_title("fitted field kind", fontsize=8)
    ax.legend(fontsize=6.5, loc="upper right", bbox_to_anchor=(1.0, -0.12), ncol=1)
    runs = [m["run_id"] for m in models]
    caption = ("Encoder rows (receptive fields) reshaped to the image, each scaled to its own "
               "range (grey = 0). Left: random neurons; middle: the neurons most activated by "
               "one training image with the model's training noise added. Right: for every living "
               f"neuron of a model (a seeded sample of {C6.N_FIT} where there are more; count in "
               f"brackets), the share whose field a 2-D Gabor fits (R² ≥ {C6.RF.R2_MIN}, "
               "envelope localised), that a difference of Gaussians fits better "
               "(centre-surround), or neither; black ticks: the Gabor share of the null, "
               f"{C6.N_NULL} of the same model's fields with their pixels shuffled (noise "
               f"models at σ > 0), the classifier's false-positive rate "
               f"(table F10_fields; claim 6 in F18).\n{S.describe(plan, runs)}.")
    return S.save(fig_id, fig, pd.DataFrame(rows), plan, title, caption,
                  {"fields": per_model.merge(
                      per_field.groupby("run_id")[["r2_gabor", "r2_dog"]].mean().add_prefix(
                          "mean_").reset_index(), on="run_id", how="left")})


def f13_preactivations(plan, fig_id, title):
    # seed 0 of the main sweep and the preactivations study (the authors' sigmas 0.01, 0.5,
    # 1, 5): one network per sigma
    runs = _seed0(plan, fig_id)
    colours = S.sigma_colours(runs["sigma"])
    rows = []
    fig, axes = S.panels(4, w=3.0)
    for _, r in runs.iterrows():
        cfg, net = load_model(r["run_id"])
        x = load_data(cfg.dataset)["x_test"][: cfg.eval_size]
        with torch.no_grad():
            pre = net.encode(x)[0][0]  # [B, N], clean inputs
        p = pre.numpy()
        mu, sd = p.mean(0), p.std(0)  # each neuron's distribution over the inputs
        c = colours[r["sigma"]]
        lab = f"σ={r['sigma']:g}"
        axes[0].hist(p.ravel(), bins=120, histtype="step", density=True, color=c, label=lab)
        axes[1].hist(mu, bins=40, histtype="step", density=True, color=c)
        axes[2].hist(sd, bins=40, histtype="step", density=True, color=c)
        qm, qs = np.quantile(mu, [0.25, 0.5, 0.75]), np.quantile(sd, [0.25, 0.5, 0.75])
        pos = p[p > 0]
        rows.append({"sigma": r["sigma"], "run_id": r["run_id"], "pooled_mean": p.mean(),
                     "pooled_std": p.std(), "frac_positive": (p > 0).mean(),
                     "mean_positive": pos.mean() if pos.size else np.nan,
                     "neuron_mean_q25": qm[0], "neuron_mean_median": qm[1],
                     "neuron_mean_q75": qm[2], "neuron_std_q25": qs[0],
                     "neuron_std_median": qs[1], "neuron_std_q75": qs[2],
                     "neurons_negative_mean": (mu < 0).mean(),
                     **({"converged": r["converged"]} if "converged" in r else {})})
    table = pd.DataFrame(rows)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("pre-activation W x + b")
    axes[0].set_title("pooled: all neurons x inputs")
    axes[0].legend(ncol=2, fontsize=5.5)
    axes[1].set_xlabel("a neuron's mean pre-activation")
    axes[1].set_title("per neuron: mean over inputs")
    axes[2].set_xlabel("a neuron's std of pre-activation")
    axes[2].set_title("per neuron: spread over inputs")
    for ax in axes[:3]:
        ax.set_ylabel("density")
    S.curve(axes[3], table["sigma"], table["neuron_mean_median"], table["neuron_mean_q25"],
            table["neuron_mean_q75"], label="mean (median neuron; band: quartiles)",
            converged=table.get("converged"))
    S.curve(axes[3], table["sigma"], table["neuron_std_median"], table["neuron_std_q25"],
            table["neuron_std_q75"], label="std (median neuron)", marker="s", ls="--",
            converged=table.get("converged"))
    S.sigma_axis(axes[3])
    axes[3].axhline(0, color="0.5", lw=0.6)
    axes[3].set_ylabel("pre-activation")
    axes[3].set_title("each neuron's distribution vs σ")
    S.legend_on_top(axes[3], 0.35, fontsize=6)
    caption = ("Pre-activations on clean held-out inputs, one network per σ (seed 0; the main "
               "sweep and the authors' σ = 0.01, 0.5, 1, 5). Claim 9 is about each neuron's "
               "distribution over the data: with noise it shifts negative (sparsity) and "
               "widens, while the positive part moves away from the threshold (margin). The "
               "authors' modes (about +0.5, -0.5..0, -1, -3.5 at those σ) are on CIFAR-10 "
               f"latents.\n{S.describe(plan, list(runs['run_id']))}.")
    return S.save(fig_id, fig, table, plan, title, caption)


def f16_reconstructions(plan, fig_id, title):
    runs = _seed0(plan, fig_id)
    n_img = 6
    fig, axes = S.panels(3 * len(runs), nrows=len(runs), w=2.6, h=0.9)
    axes = axes.reshape(len(runs), 3)
    rows = []
    for i, (_, r) in enumerate(runs.iterrows()):
        cfg, net = load_model(r["run_id"])
        data = load_data(cfg.dataset)
        shape = data["meta"]["shape"]
        x = data["x_test"][:n_img]
        g = torch.Generator().manual_seed(0)
        xn = x + sample(cfg.noise, cfg.sigma, x.shape, generator=g)
        with torch.no_grad():
            _, z, y = net(xn)
            _, zc, yc = net(x)
        lo, hi = float(x.min()), float(x.max())  # one scale: the clean images'
        for ax, im, name in zip(axes[i], (x, xn, y[0]), ("clean", "noisy input",
                                                           "reconstruction of noisy")):
            strip = _image_strip(im.numpy(), shape, lo, hi)
            _show(ax, strip)
            if i == 0:
                ax.set_title(name, fontsize=8)
        axes[i, 0].set_ylabel(f"σ={r['sigma']:g}", rotation=0, ha="right", va="center")
        rows += [{"sigma": r["sigma"], "run_id": r["run_id"], "image": j,
                  "mse_noisy_input": float(((y[0, j] - x[j]) ** 2).mean()),
                  "mse_clean_input": float(((yc[0, j] - x[j]) ** 2).mean()),
                  "active_noisy": int((z[0, j] > 0).sum()), "active_clean": int((zc[0, j] > 0).sum())}
                 for j in range(n_img)]
    caption = ("Held-out patches: clean, with the model's training noise added, and the "
               "model's reconstruction from the noisy version; all on the clean images' "
               f"intensity scale.\n{S.describe(plan, list(runs['run_id']))}.")
    return S.save(fig_id, fig, pd.DataFrame(rows), plan, title, caption)


def _image_strip(x: np.ndarray, shape, lo, hi) -> np.ndarray:
    """Images on one intensity scale [lo, hi] -> a strip [H, W, C] (torchvision's make_grid)."""
    from torchvision.utils import make_grid

    t = ((torch.as_tensor(x, dtype=torch.float32).reshape(-1, *shape) - lo)
         / (hi - lo + 1e-12)).clamp(0, 1)
    grid = make_grid(t, nrow=len(t), padding=1, pad_value=1.0)
    return grid.permute(1, 2, 0).numpy()[..., :shape[0]]


def f17_norms(plan, fig_id, title):
    sweep_sigmas = sorted({c.sigma for c in plan.runs.values() if c.arch == "mlp"})
    sigmas = [s for s in sweep_sigmas if s > 0]
    datasets = sorted({plan.runs[r].dataset for r in plan.figures[fig_id]["runs"]})
    colours = S.sigma_colours(sigmas)
    rows = []
    fig, axes = S.panels(len(datasets), w=3.0)
    for ax, name in zip(axes, datasets):
        x = load_data(name)["x_test"]
        norms = x.norm(dim=1).numpy()
        ax.hist(norms, bins=40, color="0.6", density=True, label="data ‖x‖")
        g = torch.Generator().manual_seed(0)
        for s in sigmas:
            nn_ = sample("gaussian", s, x.shape, generator=g).norm(dim=1).numpy()
            ax.axvline(nn_.mean(), color=colours[s], lw=1.2, label=f"noise σ={s:g}")
            rows.append({"dataset": name, "dim": x.shape[1], "sigma": s,
                         "data_norm_median": float(np.median(norms)),
                         "data_norm_mean": float(norms.mean()),
                         "noise_norm_mean": float(nn_.mean()),
                         "noise_to_data": float(nn_.mean() / np.median(norms))})
        ax.set_xscale("log")
        ax.set_xlabel("per-example L2 norm")
        ax.set_title(f"{name} ({x.shape[1]} dims)")
    axes[0].set_ylabel("density")
    # beside the last panel: the noise lines run through any corner of a panel
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    caption = ("Per-example L2 norm of the held-out data (histogram) vs the mean norm of "
               "Gaussian noise at each σ (lines): above a dataset's norm, the noise dominates "
               f"the input.\n{S.describe(plan, plan.figures[fig_id]['runs'])}.")
    return S.save(fig_id, fig, pd.DataFrame(rows), plan, title, caption)
