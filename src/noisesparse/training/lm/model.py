"""A small decoder-only Transformer, written plainly: pre-LayerNorm blocks, causal
self-attention, ReLU MLPs, learned positions.

Noise: during training, fresh noise at level sigma is added to the input of every MLP
block, after its LayerNorm (h~ = LN(x) + noise; MLP(h~)). Nothing is added at evaluation
unless `noise_sigma` is passed explicitly.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .. import noise as N


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.n_heads = n_heads
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.fc1, self.fc2 = nn.Linear(d_model, d_ff), nn.Linear(d_ff, d_model)

    def attention(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)
        q, k, v = (u.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for u in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, noise_fn=None):
        x = x + self.attention(self.ln1(x))
        h = self.ln2(x)
        if noise_fn is not None:
            h = h + noise_fn(h)
        z = torch.relu(self.fc1(h))
        return x + self.fc2(z), z


class TransformerLM(nn.Module):
    def __init__(self, vocab: int, context: int, n_layers: int, d_model: int, n_heads: int,
                 d_ff: int, seed: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        torch.manual_seed(seed)  # nn default init draws from the global generator
        self.context = context
        self.tok = nn.Embedding(vocab, d_model)
        self.pos = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads, d_ff) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab, bias=False)
        nn.init.normal_(self.tok.weight, std=1 / math.sqrt(d_model))
        nn.init.normal_(self.pos.weight, std=0.02)

    def forward(self, idx, noise_kind: str = "gaussian", noise_sigma=0.0,
                generator: torch.Generator | None = None):
        """Logits and the list of MLP hidden activations [B, T, d_ff], one per layer."""
        t = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(t, device=idx.device))
        noise_fn = None
        if float(noise_sigma) > 0:
            noise_fn = lambda h: N.sample(noise_kind, noise_sigma, h.shape, generator, h.device)
        acts = []
        for block in self.blocks:
            x, z = block(x, noise_fn)
            acts.append(z)
        return self.head(self.ln_f(x)), acts
