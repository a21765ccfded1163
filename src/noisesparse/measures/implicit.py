"""Claim 9 by its own algebra: the implicit loss terms that Gaussian input noise adds to a
one-hidden-layer ReLU reconstruction network, computed exactly from its weights. (Our
derivation of the terms the paper names; its derivation text was not available to us.)

f(x) = W2 relu(W1 x + b1) + b2, eps ~ N(0, sigma^2 I), D(x) the 0/1 diagonal of the units
active at x (W1 x + b1 > 0). If no unit changes state under the noise, f(x + eps) =
f(x) + W2 D W1 eps, and the cross term has mean 0, so

    E ||f(x + eps) - x||^2 = ||f(x) - x||^2 + sigma^2 ||W2 D W1||_F^2.

With G1 = W1 W1^T, G2 = W2^T W2 and d the 0/1 active vector, ||W2 D W1||_F^2 =
d^T (G1 * G2) d: its diagonal, sum over active i of ||w1_i||^2 ||w2_i||^2 (the
post-activation variance penalty: it falls with every unit switched off, sparsity), and its
off-diagonal pairs (w1_i . w1_j)(w2_i . w2_j) (overlap: they fall as active units' weights
stop overlapping, specialisation). Units that change state under the noise make up the rest
of the measured excess (the remainder); pre-activations far from 0 (margin) rarely flip. Part
of the remainder is the mean shift: flips make E f(x + eps) differ from f(x), which adds
2 (f(x) - x) . (E f(x + eps) - f(x)), measured beside it.

Units: those of `loss_clean`, the per-sample squared error AVERAGED over the O output dims
(metrics.mse), so every term here is the summed form divided by O.

The algebra needs a piecewise-linear activation (ReLU), squared error and zero-mean noise
with covariance sigma^2 I: for GELU the Jacobian is not a 0/1 diagonal and the noise also
shifts the mean output; for classification the loss is not quadratic. `applies` says which
runs these terms describe.
"""

from __future__ import annotations

import torch

from ..seeds import IMPLICIT_NOISE
from . import metrics as M

FINAL_INPUTS = 1024  # held-out inputs at the end of training (the first ones of x_test)
FINAL_PAIRS = 4  # antithetic noise pairs per input at the end of training
HISTORY_INPUTS = 256  # at each log step: the first of the history's held-out inputs
HISTORY_PAIRS = 2  # the fewest that give a standard error
GRAM_ELEMENTS = 1 << 22  # rows of G1 * G2 are built in blocks of at most this many entries


def applies(cfg) -> str | None:
    """None when the algebra describes this run's network, else why not (one line)."""
    for ok, why in ((cfg.arch == "mlp", "not the one-hidden-layer network"),
                    (cfg.task == "reconstruction", "not squared error (classification)"),
                    (cfg.activation == "relu", f"{cfg.activation} is not piecewise linear"),
                    (cfg.noise == "gaussian", f"{cfg.noise} noise (the terms assume Gaussian)"),
                    (not cfg.normalize, "cosine model: the input is normalised"),
                    (not cfg.topk, "Top-K: the active set depends on the other units"),
                    (cfg.inhib == "none", "inhibitory circuit between encoder and decoder")):
        if not ok:
            return why
    return None


def penalty_parts(w1: torch.Tensor, w2: torch.Tensor,
                  active: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The first-order penalty ||W2 D W1||_F^2 per input, split into (diagonal, overlap),
    for one network: w1 [N, D], w2 [O, N], active [B, N] -> [B], [B] each, without the
    sigma^2 factor. Uses d^T (G1 * G2) d, the Gram matrices built in row blocks so memory
    stays at GRAM_ELEMENTS entries whatever the width."""
    if w1.dim() != 2 or w2.dim() != 2 or active.dim() != 2:
        raise ValueError("penalty_parts takes one network: w1 [N, D], w2 [O, N], active [B, N]")
    d = active.to(w1.dtype)
    n = w1.shape[0]
    diag = d @ (w1.pow(2).sum(-1) * w2.pow(2).sum(0))
    total = torch.zeros(len(d), dtype=w1.dtype, device=w1.device)
    rows = max(1, GRAM_ELEMENTS // n)
    for r in range(0, n, rows):
        block = (w1[r:r + rows] @ w1.T) * (w2[:, r:r + rows].T @ w2)  # rows of G1 * G2
        total += (d[:, r:r + rows] * (d @ block.T)).sum(-1)
    return diag, total - diag


@torch.no_grad()
def implicit_terms(w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor,
                   x: torch.Tensor, sigma: torch.Tensor, generators: list[torch.Generator],
                   pairs: int, chunk: int = 512) -> dict[str, torch.Tensor]:
    """The implicit loss terms of K networks on held-out inputs, one value per member [K].

    w1 [K, N, D], b1 [K, N] (or [K, 1], shared), w2 [K, O, N], b2 [K, O], x [B, D] (the
    target is x itself), sigma [K], one noise generator per member; `pairs` >= 2 antithetic
    pairs (eps, -eps) per input. Returns, in loss_clean's units (mean over outputs):

    implicit_excess: measured E_eps loss(x + eps) - loss(x), Monte Carlo; implicit_excess_se
    its standard error over the noise draws (the inputs are fixed). Antithetic pairs cancel
    the cross term 2 r . (W2 D W1 eps), which has mean 0, the noisiest part of each draw.
    implicit_diag, implicit_overlap: sigma^2 / O times the two parts of ||W2 D W1||_F^2;
    implicit_first_order their sum; implicit_remainder = excess - first order (flips).
    implicit_shift: the part of the excess (all of it in the remainder) from the mean shift
    of the output, 2 r . E[delta] with r = f(x) - x and delta = f(x + eps) - f(x): 0 unless
    units flip (the linear part of delta has mean 0). ReLU is convex, so noise raises each
    unit's mean output, E relu(pre + W1 eps) >= relu(pre) (the positive mean shift the paper
    names); a network trained on noisy inputs can set its clean error r against it.
    implicit_flip_off / _on: of the units active (inactive) on the clean input, the fraction
    the noise turns off (on) (metrics.sign_flips of the clean and noisy pre-activations).
    Members with sigma 0 get NaN: there is no noise whose terms to measure."""
    if pairs < 2:
        raise ValueError(f"need at least 2 antithetic pairs for a standard error, got {pairs}")
    K, O, B = w1.shape[0], w2.shape[1], len(x)
    if len(generators) != K or sigma.shape != (K,):
        raise ValueError(f"{K} networks need {K} sigmas and {K} generators, got "
                         f"{tuple(sigma.shape)} and {len(generators)}")
    dev = x.device
    sums = {k: torch.zeros(K, device=dev) for k in (
        "excess", "var", "diag", "overlap", "shift", "flip_off", "flip_on")}
    for i in range(0, B, chunk):
        xc = x[i:i + chunk].expand(K, -1, -1)  # [K, b, D]
        pre = torch.baddbmm(b1.unsqueeze(1), xc, w1.transpose(1, 2))  # [K, b, N]
        z = torch.relu(pre)
        resid = torch.baddbmm(b2.unsqueeze(1), z, w2.transpose(1, 2)) - xc  # f(x) - x
        for k in range(K):
            dg, ov = penalty_parts(w1[k], w2[k], pre[k] > 0)
            sums["diag"][k] += dg.sum()
            sums["overlap"][k] += ov.sum()
        draws = []
        for _ in range(pairs):
            eps = torch.stack([torch.randn(xc.shape[1:], generator=g, device=dev)
                               for g in generators]) * sigma.view(K, 1, 1)
            shift = torch.bmm(eps, w1.transpose(1, 2))  # W1 eps: pre(x + eps) = pre + shift
            pair = 0.0
            for s in (1.0, -1.0):
                pre_n = pre + s * shift
                # loss(x + eps) - loss(x) = 2 r . delta + |delta|^2 with delta = f(x+eps) - f(x),
                # computed from delta directly: no cancellation of two nearly equal losses
                delta = torch.bmm(torch.relu(pre_n) - z, w2.transpose(1, 2))
                cross = (resid * delta).mean(-1)  # [K, b]
                sums["shift"] += cross.sum(-1) / pairs  # 0.5 * 2 r . delta, over the pair
                pair = pair + 0.5 * (2 * cross + delta.pow(2).mean(-1))
                for name, v in M.sign_flips(pre, pre_n).items():
                    sums[name] += v * xc.shape[1] / (2 * pairs)  # chunk-weighted, as evaluate
            draws.append(pair)
        draws = torch.stack(draws)  # [pairs, K, b]
        sums["excess"] += draws.mean(0).sum(-1)
        sums["var"] += draws.var(0).sum(-1)  # per input, over the pairs (unbiased)
    scale = sigma.pow(2) / O
    res = {"implicit_excess": sums["excess"] / B,
           "implicit_excess_se": (sums["var"] / pairs).sqrt() / B,
           "implicit_diag": scale * sums["diag"] / B,
           "implicit_overlap": scale * sums["overlap"] / B}
    res["implicit_first_order"] = res["implicit_diag"] + res["implicit_overlap"]
    res["implicit_remainder"] = res["implicit_excess"] - res["implicit_first_order"]
    res["implicit_shift"] = sums["shift"] / B
    res["implicit_flip_off"] = sums["flip_off"] / B
    res["implicit_flip_on"] = sums["flip_on"] / B
    off = sigma <= 0
    return {k: v.masked_fill(off, float("nan")) for k, v in res.items()}


def measure(model, x: torch.Tensor, sigma: torch.Tensor, seeds: list[int],
            pairs: int) -> dict[str, torch.Tensor]:
    """`implicit_terms` of a SparseNet ensemble, each member's noise from its own generator
    (seeded apart from training's and evaluation's streams, so measuring changes neither)."""
    gens = [torch.Generator(device=x.device).manual_seed(IMPLICIT_NOISE + s) for s in seeds]
    return implicit_terms(model.w1.detach().float(), model.hidden_bias().detach().float(),
                          model.w2.detach().float(), model.b2.detach().float(), x.float(),
                          sigma.float(), gens, pairs)
