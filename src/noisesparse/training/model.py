"""The one-hidden-layer network of the paper, as a batched ensemble of K members.

x~ = x + noise;  z = act(W1 x~ + b1);  y = W2 z + b2.  W1 is N x D, the decoder is untied.
Parameters carry a leading member dimension K so that a sigma sweep trains as one batched
matmul per layer. Each member is initialised from its own seed exactly as a lone
`nn.Linear` pair would be, so member k of an ensemble equals the same run trained alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import RunConfig

ACT_FNS = {
    "relu": torch.relu,
    "gelu": nn.functional.gelu,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "elu": nn.functional.elu,
}


def _linear_init(out_f: int, in_f: int, g: torch.Generator,
                 init: str = "torch") -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias;
    `init="normal"`: weights N(0, 1/in), biases 0 (config.INITS)."""
    if init == "normal":
        w = torch.empty(out_f, in_f).normal_(0.0, 1.0 / math.sqrt(in_f), generator=g)
        return w, torch.zeros(out_f)
    bound = 1.0 / math.sqrt(in_f)
    w = torch.empty(out_f, in_f).uniform_(-bound, bound, generator=g)
    b = torch.empty(out_f).uniform_(-bound, bound, generator=g)
    return w, b


def topk_activation(pre: torch.Tensor, k: int, mode: str = "mask") -> torch.Tensor:
    """k-winners-take-all on the last dimension, then ReLU.

    mask: keep the k largest pre-activations, zero the rest; subtract: relu(pre - t) with t
    the (k+1)-th largest value, so at most k units stay positive and outputs stay continuous.
    """
    n = pre.shape[-1]
    if k >= n:
        return torch.relu(pre)
    if mode == "mask":  # threshold at the k-th largest (ties at it are kept, a measure-0 event)
        kth = pre.detach().topk(k, dim=-1, sorted=False).values.amin(-1, keepdim=True)
        return torch.relu(torch.where(pre >= kth, pre, torch.zeros((), dtype=pre.dtype,
                                                                   device=pre.device)))
    kth = pre.topk(k + 1, dim=-1).values[..., -1:]
    return torch.relu(pre - kth)


class _BatchedLinear(torch.autograd.Function):
    """y = b + x W^T for stacked members: x [K, B, I], W [K, O, I], b [K, O] (or [K, 1],
    a bias shared by the O units). Autograd's own rule for baddbmm(b, x, W^T) returns W's
    gradient in the transposed layout, which PyTorch then copies into W's layout every step
    (a full pass over the weights); here it is computed as g^T x, in W's layout directly."""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        ctx.shared_bias = b.shape[-1] == 1 and w.shape[1] != 1
        return torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors  # as given: under bf16 autocast, g is bf16 and they are not
        gx = torch.bmm(g, w.to(g.dtype)) if ctx.needs_input_grad[0] else None
        gw = torch.bmm(g.transpose(1, 2), x.to(g.dtype)) if ctx.needs_input_grad[1] else None
        gb = None
        if ctx.needs_input_grad[2]:
            gb = g.sum((1, 2)).unsqueeze(-1) if ctx.shared_bias else g.sum(1)
        return gx, gw, gb


def batched_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return _BatchedLinear.apply(x, w, b)


class SparseNet(nn.Module):
    """K independent networks sharing shapes and options.

    Options (from RunConfig): activation, per-neuron or shared hidden bias, reconstruction
    or classification head, cosine pre-activation (`normalize`), an explicit Top-K
    activation on the pre-activations W x + b (with the defaults, raw input and per-neuron
    bias, it is the noise network with a cap of k active units, claim 7's baseline; with
    `normalize` and a shared bias, the authors' SDM_DIFFUSION Top-K), unit-norm encoder
    rows and/or decoder columns (`unit_norm`: with an L1 penalty, sparse coding), or an
    inhibitory circuit after the encoder:
    mu <- mu + eta * ((mu0 - C relu(mu)) - mu) for `inhib_steps` steps, output relu(mu),
    with C an all-to-all N x N matrix or one interneuron, C z = V relu(u.z + c).
    """

    def __init__(self, configs: list[RunConfig], in_dim: int, out_dim: int):
        super().__init__()
        c = configs[0]
        self.activation, self.bias_mode, self.task = c.activation, c.bias, c.task
        self.act = ACT_FNS[c.activation]
        self.normalize, self.topk_mode, self.inhib = c.normalize, c.topk_mode, c.inhib
        self.unit_rows = c.normalize or c.unit_norm in ("encoder", "both")
        self.unit_columns = c.unit_norm in ("decoder", "both")
        self.inhib_steps, self.inhib_eta = c.inhib_steps, c.inhib_eta
        self.k = c.topk  # the trainer lowers/raises it along a Top-K schedule
        n = c.width
        w1, b1, w2, b2, extra = [], [], [], [], []
        for cfg in configs:
            g = torch.Generator().manual_seed(cfg.seed)
            a, ab = _linear_init(cfg.width, in_dim, g, cfg.init)
            d, db = _linear_init(out_dim, cfg.width, g, cfg.init)
            w1.append(a), w2.append(d), b2.append(db)
            # Shared bias: one learned scalar per member, initialised at 0 (the paper's).
            b1.append(torch.zeros(1) if c.bias == "shared" else ab)
            # Circuit weights are drawn after the others so they leave the others' init alone.
            if c.inhib == "all_to_all":
                extra.append({"inhib_c": _linear_init(n, n, g)[0]})
            elif c.inhib == "interneuron":
                u, cb = _linear_init(1, n, g)
                v = torch.empty(n).uniform_(-1.0, 1.0, generator=g)
                extra.append({"inhib_u": u[0], "inhib_cb": cb, "inhib_v": v})
        w1, w2 = torch.stack(w1), torch.stack(w2)
        if self.unit_rows:  # the cosine model and sparse coding start at unit rows, and keep them
            w1 = nn.functional.normalize(w1, dim=-1)
        if self.unit_columns:  # a unit-norm dictionary: one column per hidden unit
            w2 = nn.functional.normalize(w2, dim=1)
        self.w1 = nn.Parameter(w1)  # [K, N, D]
        self.b1 = nn.Parameter(torch.stack(b1))  # [K, N] or [K, 1]
        self.w2 = nn.Parameter(w2)  # [K, O, N]
        self.b2 = nn.Parameter(torch.stack(b2))  # [K, O]
        for name in (extra[0] if extra else {}):
            self.register_parameter(name, nn.Parameter(torch.stack([e[name] for e in extra])))

    @property
    def members(self) -> int:
        return self.w1.shape[0]

    def bias_params(self) -> list[nn.Parameter]:
        return [self.b1, self.b2] + ([self.inhib_cb] if self.inhib == "interneuron" else [])

    def hidden_bias(self) -> torch.Tensor:
        """b1 as [K, N] whatever the bias mode (a shared scalar is broadcast)."""
        return self.b1.expand(self.members, self.w1.shape[1])

    def encoder_weight(self) -> torch.Tensor:
        return nn.functional.normalize(self.w1, dim=-1) if self.normalize else self.w1

    @torch.no_grad()
    def renormalize_(self) -> None:
        """Cosine model: project the encoder rows back to unit L2 norm, as the authors do
        after every optimizer step (their TrackedMLPLayer.enforce_l2_norm_weights); sparse
        coding (`unit_norm`): the encoder rows and/or the decoder's columns. The forward pass
        uses the weights as they are, so gradients are those of plain weights."""
        if self.unit_rows:
            self.w1.div_(self.w1.norm(dim=-1, keepdim=True).clamp(min=1e-12))
        if self.unit_columns:
            self.w2.div_(self.w2.norm(dim=1, keepdim=True).clamp(min=1e-12))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [K, B, D] (or [B, D], shared by all members) -> pre-activation W x + b (before
        any Top-K or circuit) and the hidden activation z."""
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        if self.normalize:
            x = nn.functional.normalize(x, dim=-1)
        pre = batched_linear(x, self.w1, self.b1)  # cosine model: rows kept at unit norm
        if self.inhib != "none":
            return pre, self._circuit(pre)
        if self.k:
            return pre, topk_activation(pre, self.k, self.topk_mode)
        return pre, self.act(pre)

    def _circuit(self, mu0: torch.Tensor) -> torch.Tensor:
        mu = mu0
        for _ in range(self.inhib_steps):
            r = torch.relu(mu)
            if self.inhib == "all_to_all":
                inhibition = torch.bmm(r, self.inhib_c.transpose(1, 2))
            else:  # one interneuron: drive u.z + c, fed back through V
                drive = torch.relu((r * self.inhib_u.unsqueeze(1)).sum(-1, keepdim=True)
                                   + self.inhib_cb.unsqueeze(1))
                inhibition = drive * self.inhib_v.unsqueeze(1)
            mu = mu + self.inhib_eta * ((mu0 - inhibition) - mu)
        return torch.relu(mu)

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """What a reconstruction should reproduce: the clean, raw input, also for the cosine
        model (the authors' SDM_DIFFUSION normalises the encoder's input, not the target)."""
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return batched_linear(z, self.w2, self.b2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pre, z = self.encode(x)
        return pre, z, self.decode(z)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Plain tensors of one member, in nn.Linear naming, for its checkpoint."""
        names = {"w1": "encoder.weight", "b1": "encoder.bias", "w2": "decoder.weight",
                 "b2": "decoder.bias"}
        return {names.get(n, n): p[k].detach().cpu().clone() for n, p in self.named_parameters()}
