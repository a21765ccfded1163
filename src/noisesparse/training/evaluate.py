"""Evaluation of an ensemble on a set of inputs: every metric (docs/metrics.md), per member.

Inputs are processed in chunks so memory stays bounded at any width; metrics that are
means over inputs are averaged over chunks weighted by chunk size, and per-neuron
quantities (activity sums, active counts) are summed across chunks.
"""

from __future__ import annotations

import torch

from ..measures import metrics as M
from ..seeds import DEAD_PASS_NOISE, EVAL_NOISE
from . import noise as N
from .model import SparseNet


def _noise(kind: str, sigma: torch.Tensor, shape, gens, dev) -> torch.Tensor:
    """[K, *shape]: member k's noise at its own sigma[k] from its own generator."""
    return torch.stack([N.sample(kind, sigma[k], shape, gens[k], dev) for k in range(len(gens))])


@torch.no_grad()
def activity_sums(model: SparseNet, x: torch.Tensor, act_threshold: float = 1e-4,
                  noise_kind: str | None = None, sigma: torch.Tensor | None = None,
                  seeds: list[int] | None = None, chunk: int = 1024) -> torch.Tensor:
    """Per-neuron activity (metrics.activity_sum) over one full pass of x [M, D] -> [K, N].

    Clean when `noise_kind` is None (our silent-on-clean definition). With noise, each
    member sees x plus fresh noise of its own kind at its sigma [K] (the authors' dead
    neurons: their TrackedActFunc summed activity over the noisy training batches of an
    epoch, in training mode, after the noise layer). Ours is one extra pass over the whole
    training set after training, at the final sigma, so it scores the final weights rather
    than weights that change during the epoch; its noise comes from its own generators,
    seeded by `seeds`, not from the training stream."""
    total = torch.zeros(model.members, model.w1.shape[1], device=x.device)
    gens = None if noise_kind is None else [
        torch.Generator(device=x.device).manual_seed(DEAD_PASS_NOISE + s) for s in seeds]
    for i in range(0, len(x), chunk):
        xc = x[i:i + chunk]
        if gens is not None:
            xc = xc.unsqueeze(0) + _noise(noise_kind, sigma, xc.shape, gens, x.device)
        _, z = model.encode(xc)
        total += M.activity_sum(z, model.activation, act_threshold)
    return total


@torch.no_grad()
def evaluate(model: SparseNet, x: torch.Tensor, y: torch.Tensor | None, sigma: torch.Tensor,
             noise_kind: str, seeds: list[int], act_threshold: float,
             dead: torch.Tensor | None = None, silent: torch.Tensor | None = None,
             chunk: int = 512) -> dict[str, torch.Tensor]:
    """Metrics on clean inputs x [E, D] and on the same inputs with fresh noise at `sigma` [K].

    Noise for evaluation comes from generators seeded by `seeds`, independent of the
    training stream, so evaluating never changes what a run trains on. `dead` (the
    authors' definition, a noisy pass) and `silent` (ours, a clean pass) are [K, N] masks
    from full passes over the training data; when None, the noisy and clean passes over
    these inputs define them (the cheap version logged in the history).
    """
    K, dev = model.members, x.device
    gens = [torch.Generator(device=dev).manual_seed(EVAL_NOISE + s) for s in seeds]
    sums: dict[str, torch.Tensor] = {}
    counts = torch.zeros(K, model.w1.shape[1], device=dev)
    activity = torch.zeros_like(counts)  # clean pass: silent-on-clean
    activity_noisy = torch.zeros_like(counts)  # noisy pass: the authors' dead neurons
    pre_sum, pre_sq = torch.zeros_like(counts), torch.zeros_like(counts)  # clean inputs
    pre_sum_n, pre_sq_n = torch.zeros_like(counts), torch.zeros_like(counts)  # noisy inputs
    b = model.hidden_bias()
    # Non-zero-mean noise (exponential, Poisson) shifts every input by E[noise]; the network
    # is trained on that shifted distribution, so its sparsity is also measured at x + E.
    shift = None if N.is_zero_mean(noise_kind) else N.expected_value(noise_kind, sigma)

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
        add("topk_agreement_corrected", M.topk_agreement_corrected(wx, act), n)
        add("drive_std", M.drive_spread(wx), n)
        for k, v in M.preactivation_stats(pre).items():
            add(k, v, n)
        for k, v in M.sign_flips(wx, pre).items():
            add(k, v, n)
        s1, s2 = M.neuron_moments(pre)
        pre_sum += s1
        pre_sq += s2
        counts += M.neuron_active_counts(act)
        activity += M.activity_sum(z, model.activation, act_threshold)
        out = model.decode(z)
        noise = _noise(noise_kind, sigma, xc.shape, gens, dev)
        pre_n, zn = model.encode(xc.unsqueeze(0) + noise)
        s1, s2 = M.neuron_moments(pre_n)
        pre_sum_n += s1
        pre_sq_n += s2
        add("frac_active_noisy", M.fraction_active(M.active_mask(zn, model.activation,
                                                                 act_threshold)), n)
        activity_noisy += M.activity_sum(zn, model.activation, act_threshold)
        if shift is not None:
            _, zs = model.encode(xc.unsqueeze(0) + shift.view(K, 1, 1))
            add("frac_active_shifted", M.fraction_active(M.active_mask(zs, model.activation,
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
    dead = M.dead_mask(activity_noisy) if dead is None else dead
    silent = M.dead_mask(activity) if silent is None else silent
    # Both definitions, and the clean held-out fraction active among the living under each.
    res["frac_dead"] = M.fraction_dead(dead)
    res["frac_active_living"] = M.fraction_active_living(counts, len(x), dead)
    res["frac_silent_clean"] = M.fraction_dead(silent)
    res["frac_active_nonsilent"] = M.fraction_active_living(counts, len(x), silent)
    res.update(M.lifetime_sparsity(counts, len(x)))  # claim 2: every unit, or a few?
    res.update(M.neuron_preactivation_summary(pre_sum, pre_sq, len(x)))
    res.update({f"{k}_noisy": v for k, v in
                M.neuron_preactivation_summary(pre_sum_n, pre_sq_n, len(x)).items()})
    res.update(M.bias_stats(b))
    res.update(M.living_spread(b, model.w1, ~dead))
    if model.bias_mode == "shared":
        res["bias_shared"] = model.b1[:, 0]
    res.update(M.weight_norm_stats(model.w1))
    if model.task == "reconstruction":
        res["encdec_cosine"] = M.encoder_decoder_cosine(model.w1, model.w2).mean(dim=-1)
    return res
