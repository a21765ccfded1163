"""Claim 10's figures, measured on the trained checkpoints (no retraining): F19 robustness
(PGD attacks and Gaussian noise at test time) and F20 computational efficiency (a decoder
that uses only the active units, timed against the dense one)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch

from ..data import load as load_data
from ..measures import attacks as A
from ..measures import efficiency as E
from ..plan.registry import resolve
from ..runs.results import load_final, load_model
from . import style as S

EPS_LABEL = "attack radius ε (input units)"


@contextmanager
def _one_thread():
    """Attacks on small networks and the timings run on one CPU thread: extra threads only
    add overhead at these sizes, and a fixed count keeps the timings comparable (a workflow
    step may share the machine with other jobs)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _var(plan, name):
    return resolve(plan.profile, f"${name}", f"figure of profile {plan.profile}")


def _ok_runs(plan, fig_id, role=None, task=None) -> pd.DataFrame:
    """The finished runs the figure reads (as `role`), of one task if given."""
    df = load_final(plan.read_runs(fig_id, role))
    if df.empty:
        return df
    df = df[df["status"] == "ok"]
    return df[df["task"] == task] if task else df


def _robustness_rows(plan, fig_id) -> pd.DataFrame:
    eps, steps = _var(plan, "attack_eps"), _var(plan, "attack_steps")
    n_in, sigmas = _var(plan, "attack_inputs"), _var(plan, "test_noise_sigmas")
    runs = pd.concat([_ok_runs(plan, fig_id, "classifiers", "classification"),
                      _ok_runs(plan, fig_id, "reconstruction", "reconstruction")])
    rows, data = [], {}
    for _, r in runs.iterrows():
        cfg, net = load_model(r["run_id"])
        if cfg.dataset not in data:
            d = load_data(cfg.dataset)
            data[cfg.dataset] = (d, A.data_range(d["x_train"], d["x_test"][:n_in]))
        d, (lo, hi) = data[cfg.dataset]
        x = d["x_test"][:n_in]
        y = d["y_test"][:n_in] if cfg.task == "classification" else None
        for p in net.parameters():
            p.requires_grad_(False)  # gradients flow to the inputs only
        found = (A.attack_curves(net, cfg.task, x, y, eps, steps, lo, hi, seed=cfg.seed)
                 + A.noise_curve(net, cfg.task, x, y, sigmas, seed=cfg.seed))
        model = "classifier" if cfg.task == "classification" else "reconstruction"
        rows += [{"model": model, "dataset": cfg.dataset, "sigma": cfg.sigma, "seed": cfg.seed,
                  "run_id": r["run_id"], "metric": "accuracy" if model == "classifier"
                  else "relative error", "inputs": len(x), "clamp_lo": lo, "clamp_hi": hi,
                  **f} for f in found]
    return pd.DataFrame(rows)


def f19_robustness(plan, fig_id, title):
    with _one_thread():
        runs = _robustness_rows(plan, fig_id)
    by = ["model", "dataset", "metric", "attack", "sigma", "eps"]
    g = runs.groupby(by)["value"]
    table = g.mean().rename("value_mean").to_frame().join(g.min().rename("value_min")).join(
        g.max().rename("value_max")).join(g.size().rename("seeds")).join(
        runs.groupby(by)["value_raw"].mean().rename("value_raw_mean")).reset_index()
    panels = list(table.groupby(["model", "dataset"], sort=False).groups)
    attacks = [("pgd_linf", "PGD, L∞"), ("pgd_l2", "PGD, L2"),
               ("gaussian", "test-time noise")]
    fig, axes = S.panels(3 * len(panels), nrows=len(panels), w=3.3, h=2.4)
    axes = axes.reshape(len(panels), 3)
    colours = S.sigma_colours(table["sigma"])
    for i, (model, dataset) in enumerate(panels):
        sub = table[(table["model"] == model) & (table["dataset"] == dataset)]
        for j, (atk, name) in enumerate(attacks):
            ax = axes[i, j]
            for s, c in sub[sub["attack"] == atk].groupby("sigma"):
                c = c.sort_values("eps")
                S.curve(ax, c["eps"], c["value_mean"], c["value_min"], c["value_max"],
                        colour=colours[s], label=f"σ={s:g}")
            ax.set_xscale("symlog", linthresh=0.01, linscale=0.5)
            ax.set_xlabel("test-noise σ" if atk == "gaussian" else EPS_LABEL)
            ax.set_title(f"{model}, {dataset}: {name}", fontsize=7.5)
            if model == "classifier":
                ax.set_ylim(-0.02, 1.02)
                ax.set_ylabel("accuracy")
            else:
                ax.set_yscale("log")
                ax.set_ylabel("relative error |x̂−x|²/|x|²")
    axes[0, 0].legend(ncol=2, title="training σ", fontsize=6)
    caption = (f"Trained networks under attack: classifiers (noise-trained over the σ grid, "
               f"`robustness` study) lose accuracy, reconstruction networks (`sigma_sweep`) gain "
               f"error against the clean input. PGD with {_var(plan, 'attack_steps')} steps of "
               "2.5ε/steps from a random start, the authors' ε grid and step count (their "
               "TrentBrick/SparsityFromNoise exp_commands/Adv_Robustness_*); foolbox's LinfPGD "
               "and L2PGD on the true label for classifiers, the same ascent on the "
               "reconstruction error for reconstructions; inputs kept in the [min, max] of the "
               "training and attacked inputs. Per input, the worst case over every ε' ≤ ε (the ε-ball holds the "
               "smaller ones; raw per-ε values in the table). Right: Gaussian noise added at "
               f"test time (mean of 4 draws). {_var(plan, 'attack_inputs')} held-out inputs per "
               f"network; mean over seeds, band min-max.\n{S.describe(plan, list(runs['run_id'].unique()))}.")
    return S.save(fig_id, fig, table, plan, title, caption, {"runs": runs})


def _encoder(net):
    """Dense encoder inputs: W1^T contiguous [D, N] and b1 [N] (per-neuron or shared)."""
    return net.encoder_weight()[0].detach().t().contiguous(), net.hidden_bias()[0].detach()


def _trained_rows(plan, fig_id, batches, repeats, devices) -> pd.DataFrame:
    runs = _ok_runs(plan, fig_id).sort_values(["sigma", "seed"])
    runs = runs.groupby("sigma", as_index=False).first()  # one network per σ: the lowest seed
    rows = []
    for _, r in runs.iterrows():
        cfg, net = load_model(r["run_id"])
        if cfg.activation != "relu" or cfg.inhib != "none" or cfg.normalize:
            continue  # the sparse path here is for ReLU networks with a plain encoder
        x_all = load_data(cfg.dataset)["x_test"]
        w1t, b1 = _encoder(net)
        w2t, b2 = net.w2[0].detach().t().contiguous(), net.b2[0].detach()
        for dev in devices:
            w1d, b1d, w2d, b2d = (t.to(dev) for t in (w1t, b1, w2t, b2))
            for b in batches:
                reps = -(-b // len(x_all))
                x = x_all.repeat(reps, 1)[:b].to(dev) if b > 1 else x_all[:16].to(dev)
                with torch.no_grad():
                    z = torch.relu(torch.addmm(b1d, x, w1d))
                    dense = E.dense_decode(z, w2d, b2d)
                    for m in ("gather", "csr"):  # the sparse paths give the dense output
                        assert torch.allclose(E.DECODERS[m](z, w2d, b2d), dense,
                                              rtol=1e-4, atol=1e-5), m
                    frac = float((z != 0).float().mean())
                    if b == 1:  # batch 1: cycle through 16 inputs, time per input
                        zs = [zi.unsqueeze(0) for zi in z]
                        xs = [xi.unsqueeze(0) for xi in x]
                        t_enc = E.median_time(lambda: [torch.relu(torch.addmm(b1d, xi, w1d))
                                                       for xi in xs], dev, repeats) / len(xs)
                        t_dec = {m: E.median_time(lambda m=m: [E.DECODERS[m](zi, w2d, b2d)
                                                               for zi in zs], dev, repeats)
                                 / len(zs) for m in E.METHODS}
                    else:
                        t_enc = E.median_time(lambda: torch.relu(torch.addmm(b1d, x, w1d)),
                                              dev, repeats)
                        t_dec = E.decoder_times(z, w2d, b2d, dev, repeats)
                macs = E.multiply_adds(frac, x.shape[1], cfg.width, w2t.shape[1])
                for m in ("gather", "csr"):
                    rows.append({"sigma": cfg.sigma, "seed": cfg.seed, "run_id": r["run_id"],
                                 "dataset": cfg.dataset, "device": str(dev), "batch": b,
                                 "method": m, "width": cfg.width, "d_in": x.shape[1],
                                 "d_out": w2t.shape[1], "frac_active": frac, **macs,
                                 "t_encoder_s": t_enc, "t_dense_decoder_s": t_dec["dense"],
                                 "t_sparse_decoder_s": t_dec[m],
                                 "decoder_speedup": t_dec["dense"] / t_dec[m],
                                 "network_speedup": (t_enc + t_dec["dense"]) / (t_enc + t_dec[m]),
                                 "threads": torch.get_num_threads()})
    return pd.DataFrame(rows)


FRACS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def _synthetic_rows(shapes, repeats, devices) -> pd.DataFrame:
    """shapes: (width, d_out, batches) to time on synthetic activations."""
    rows = []
    for width, d_out, batches in shapes:
        g = torch.Generator().manual_seed(0)
        w2t = torch.randn(width, d_out, generator=g) / width ** 0.5
        b2 = torch.zeros(d_out)
        for dev in devices:
            for b in batches:
                for f in FRACS:
                    z = E.synthetic_activations(b, width, f)
                    t = E.decoder_times(z, w2t, b2, dev, repeats)
                    rows += [{"width": width, "d_out": d_out, "device": str(dev), "batch": b,
                              "method": m, "frac_active": f, "t_dense_s": t["dense"],
                              "t_sparse_s": t[m], "sparse_over_dense": t[m] / t["dense"]}
                             for m in ("gather", "csr")]
    out = pd.DataFrame(rows)
    be = out.groupby(["width", "d_out", "device", "batch", "method"]).apply(
        lambda g: E.break_even(g["frac_active"], g["t_dense_s"], g["t_sparse_s"]),
        include_groups=False).rename("break_even_frac_active")
    return out.merge(be.reset_index(), on=["width", "d_out", "device", "batch", "method"])


def f20_efficiency(plan, fig_id, title):
    batches, repeats = _var(plan, "efficiency_batches"), _var(plan, "efficiency_repeats")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    with _one_thread():
        table = _trained_rows(plan, fig_id, batches, repeats, devices)
    # The trained networks' shapes at every batch size; the profile's further shapes (the
    # paper's width) at batch 1 only: a large batch there takes seconds per call on a CPU.
    trained = [(int(w), int(o)) for w, o in table[["width", "d_out"]].drop_duplicates().values]
    shapes = [(w, o, batches) for w, o in trained]
    shapes += [(int(w), int(o), [1]) for w, o in _var(plan, "efficiency_shapes")
               if (w, o) not in trained]
    with _one_thread():
        synth = _synthetic_rows(shapes, repeats, devices)

    fig, axes = S.panels(4, nrows=2, w=4.4, h=2.7)
    first = table.drop_duplicates("sigma")
    axes[0].plot(first["sigma"], first["frac_active"], "o-", color="k",
                 label="fraction active (clean held-out)")
    axes[0].plot(first["sigma"], first["network_macs_saved"], "s--", color="0.5",
                 label="network multiply-adds saved")
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("fraction")
    axes[0].set_title("activity and multiply-adds saved")
    axes[0].legend(fontsize=6)
    S.sigma_axis(axes[0])
    styles = {m: ls for m, ls in zip(("gather", "csr"), ("-", "--"))}
    for k, ((dev, b, m), c) in enumerate(table.groupby(["device", "batch", "method"])):
        colour = S.CATEGORICAL[(sorted(batches).index(b) + 2 * (dev != "cpu")) % 10]
        axes[1].plot(c["sigma"], c["decoder_speedup"], marker="o", ls=styles[m], color=colour,
                     label=f"{m}, batch {b}, {dev}")
        axes[2].plot(c["sigma"], c["network_speedup"], marker="o", ls=styles[m], color=colour)
    for ax, name in ((axes[1], "decoder"), (axes[2], "whole network")):
        ax.axhline(1, color="0.3", lw=0.8)
        ax.set_yscale("log")
        ax.set_ylabel("speedup (dense time / sparse time)")
        ax.set_title(f"measured speedup, {name}")
        S.sigma_axis(ax)
    S.legend_on_top(axes[1], 0.35, fontsize=5.5, ncol=2)
    keys = list(synth.groupby(["width", "d_out", "device", "batch"]).groups)
    for (w, o, dev, b, m), c in synth.groupby(["width", "d_out", "device", "batch", "method"]):
        c = c.sort_values("frac_active")
        axes[3].plot(c["frac_active"], c["sparse_over_dense"], marker=".", ls=styles[m],
                     color=S.CATEGORICAL[keys.index((w, o, dev, b)) % 10],
                     label=f"{w}→{o}, {m}, batch {b}, {dev}")
    axes[3].axhline(1, color="0.3", lw=0.8)
    axes[3].set_xscale("log")
    axes[3].set_yscale("log")
    axes[3].set_xlabel("fraction active (synthetic, random units)")
    axes[3].set_ylabel("sparse time / dense time")
    axes[3].set_title("break-even: where the curve crosses 1")
    S.legend_on_top(axes[3], 0.35, fontsize=5.5, ncol=2)
    be = synth.drop_duplicates(["width", "d_out", "device", "batch", "method"])
    be_text = "; ".join(f"{r.width}→{r.d_out} {r.method} batch {r.batch} {r.device}: "
                        f"{r.break_even_frac_active:.3g}" for r in be.itertuples())
    caption = ("The decoder of each trained network (seed 0 per σ, `sigma_sweep`) computed "
               "densely and with only the active units (gather: index_select of the active "
               "units' weight rows, the union over the batch; csr: z as a sparse CSR matrix), "
               "on clean held-out inputs; the encoder stays dense (it decides which units fire). "
               "Times are medians of "
               f"{repeats} repeats (a workflow step may share the machine with other jobs), "
               "with finding the active units included, on "
               f"{', '.join(devices)} with 1 CPU thread. Bottom right: the same "
               "decoders on synthetic activations of controlled sparsity, random units (the "
               "trained shape at every batch size, further shapes at batch 1); break-even fraction "
               f"active (0: sparse never faster on the grid, 1: always): {be_text}."
               f"\n{S.describe(plan, list(table['run_id'].unique()))}.")
    return S.save(fig_id, fig, table, plan, title, caption, {"synthetic": synth})
