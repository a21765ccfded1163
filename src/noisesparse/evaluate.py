"""Evaluation of an ensemble on a set of inputs: every metric of the spec, per member.

Inputs are processed in chunks so memory stays bounded at any width; metrics that are
means over inputs are averaged over chunks weighted by chunk size, and per-neuron
quantities (activity sums, active counts) are summed across chunks.
"""

from __future__ import annotations

import torch

from . import metrics as M
from . import noise as N
from .model import SparseNet


@torch.no_grad()
def activity_sums(model: SparseNet, x: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Per-neuron summed activity over clean inputs x [M, D] -> [K, N] (for dead neurons)."""
    total = torch.zeros(model.members, model.w1.shape[1], device=x.device)
    for i in range(0, len(x), chunk):
        _, z = model.encode(x[i:i + chunk])
        total += M.activity_sum(z, model.activation)
    return total


@torch.no_grad()
def evaluate(model: SparseNet, x: torch.Tensor, y: torch.Tensor | None, sigma: torch.Tensor,
             noise_kind: str, seeds: list[int], act_threshold: float,
             dead: torch.Tensor | None = None, chunk: int = 512) -> dict[str, torch.Tensor]:
    """Metrics on clean inputs x [E, D] and on the same inputs with fresh noise at `sigma` [K].

    Noise for evaluation comes from generators seeded by `seeds`, independent of the
    training stream, so evaluating never changes what a run trains on. `dead` is a [K, N]
    mask from a full pass over the training data; when None, the inputs x define it.
    """
    K, dev = model.members, x.device
    gens = [torch.Generator(device=dev).manual_seed(10_007 + s) for s in seeds]
    sums: dict[str, torch.Tensor] = {}
    counts = torch.zeros(K, model.w1.shape[1], device=dev)
    activity = torch.zeros_like(counts)
    b = model.hidden_bias()

    def add(name, value, weight):
        sums[name] = sums.get(name, 0) + value * weight

    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk]
        n = len(xc)
        pre, z = model.encode(xc)
        act = M.active_mask(z, model.activation, act_threshold)
        add("frac_active_clean", M.fraction_active(act), n)
        wx = pre - b.unsqueeze(1)
        add("topk_agreement", M.topk_agreement(wx, act), n)
        for k, v in M.preactivation_stats(pre).items():
            add(k, v, n)
        for k, v in M.sign_flips(wx, pre).items():
            add(k, v, n)
        counts += M.neuron_active_counts(act)
        activity += M.activity_sum(z, model.activation)
        out = model.decode(z)
        noise = torch.stack([N.sample(noise_kind, sigma[k], xc.shape, gens[k], dev)
                             for k in range(K)])
        _, zn = model.encode(xc.unsqueeze(0) + noise)
        add("frac_active_noisy", M.fraction_active(M.active_mask(zn, model.activation,
                                                                 act_threshold)), n)
        out_noisy = model.decode(zn)
        if model.task == "reconstruction":
            tc = model.target(xc)
            add("loss_clean", M.mse(out, tc), n)
            add("loss_noisy", M.mse(out_noisy, tc), n)
            err2, energy = M.error_and_energy(out, tc)
            add("_err2", err2, 1)
            add("_energy", energy, 1)
        else:
            yc = y[i:i + chunk]
            add("loss_clean", M.cross_entropy(out, yc), n)
            add("loss_noisy", M.cross_entropy(out_noisy, yc), n)
            add("accuracy_clean", M.accuracy(out, yc), n)
            add("accuracy_noisy", M.accuracy(out_noisy, yc), n)
    res = {k: v / len(x) for k, v in sums.items() if not k.startswith("_")}
    if "_err2" in sums:  # relative error over the whole held-out set, not a mean of chunks
        res["loss_clean_rel"] = sums["_err2"] / sums["_energy"].clamp(min=1e-12)
    dead = M.dead_mask(activity) if dead is None else dead
    res["frac_dead"] = M.fraction_dead(dead)
    res["frac_active_living"] = M.fraction_active_living(counts, len(x), dead)
    res.update(M.bias_stats(b))
    if model.bias_mode == "shared":
        res["bias_shared"] = model.b1[:, 0]
    res.update(M.weight_norm_stats(model.w1))
    if model.task == "reconstruction":
        res["encdec_cosine"] = M.encoder_decoder_cosine(model.w1, model.w2).mean(dim=-1)
    return res
