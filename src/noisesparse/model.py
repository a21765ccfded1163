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


def _linear_init(out_f: int, in_f: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """PyTorch's default nn.Linear init: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias."""
    bound = 1.0 / math.sqrt(in_f)
    w = torch.empty(out_f, in_f).uniform_(-bound, bound, generator=g)
    b = torch.empty(out_f).uniform_(-bound, bound, generator=g)
    return w, b


class SparseNet(nn.Module):
    """K independent networks sharing shapes and options (activation, bias mode, task)."""

    def __init__(self, configs: list[RunConfig], in_dim: int, out_dim: int):
        super().__init__()
        c = configs[0]
        self.activation, self.bias_mode, self.task = c.activation, c.bias, c.task
        self.act = ACT_FNS[c.activation]
        w1, b1, w2, b2 = [], [], [], []
        for cfg in configs:
            g = torch.Generator().manual_seed(cfg.seed)
            a, ab = _linear_init(cfg.width, in_dim, g)
            d, db = _linear_init(out_dim, cfg.width, g)
            w1.append(a), w2.append(d), b2.append(db)
            # Shared bias: one learned scalar per member, initialised at 0 (spec).
            b1.append(torch.zeros(1) if c.bias == "shared" else ab)
        self.w1 = nn.Parameter(torch.stack(w1))  # [K, N, D]
        self.b1 = nn.Parameter(torch.stack(b1))  # [K, N] or [K, 1]
        self.w2 = nn.Parameter(torch.stack(w2))  # [K, O, N]
        self.b2 = nn.Parameter(torch.stack(b2))  # [K, O]

    @property
    def members(self) -> int:
        return self.w1.shape[0]

    def bias_params(self) -> list[nn.Parameter]:
        return [self.b1, self.b2]

    def hidden_bias(self) -> torch.Tensor:
        """b1 as [K, N] whatever the bias mode (a shared scalar is broadcast)."""
        return self.b1.expand(self.members, self.w1.shape[1])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [K, B, D] (or [B, D], shared by all members) -> pre-activation and activation."""
        if x.dim() == 2:
            x = x.expand(self.members, *x.shape)
        pre = torch.baddbmm(self.b1.unsqueeze(1), x, self.w1.transpose(1, 2))
        return pre, self.act(pre)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.b2.unsqueeze(1), z, self.w2.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pre, z = self.encode(x)
        return pre, z, self.decode(z)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Plain tensors of one member, in nn.Linear naming, for its checkpoint."""
        return {
            "encoder.weight": self.w1[k].detach().cpu().clone(),
            "encoder.bias": self.b1[k].detach().cpu().clone(),
            "decoder.weight": self.w2[k].detach().cpu().clone(),
            "decoder.bias": self.b2[k].detach().cpu().clone(),
        }
