"""Adam and SGD(+momentum) for stacked ensemble parameters, with per-member settings.

torch.optim applies one learning rate to a whole tensor; here every member of the stacked
[K, ...] parameters has its own learning rate and gradient-clipping threshold. The update
rules are torch.optim.Adam's and torch.optim.SGD's (tests compare them).
"""

from __future__ import annotations

import torch


def _per_member(values, like: torch.Tensor) -> torch.Tensor:
    """[K] values broadcast against a [K, ...] parameter."""
    t = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return t.view(-1, *([1] * (like.dim() - 1)))


def clip_grad_norm_per_member(params, max_norm) -> torch.Tensor:
    """Clip each member's global gradient norm (all its parameters together), as
    torch.nn.utils.clip_grad_norm_ does for a lone model; a limit of 0 means no clipping.
    Returns the [K] norms."""
    norms = torch.stack([p.grad.pow(2).flatten(1).sum(1) for p in params]).sum(0).sqrt()
    max_norm = torch.as_tensor(max_norm, dtype=norms.dtype, device=norms.device)
    coef = torch.where(max_norm > 0, (max_norm / (norms + 1e-6)).clamp(max=1.0),
                       torch.ones_like(norms))
    for p in params:
        p.grad.mul_(_per_member(coef, p))
    return norms


class EnsembleOptimizer:
    """Adam (default) or SGD with momentum over [K, ...] parameters.

    lr and bias_lr are [K] sequences; `bias_params` get bias_lr (the SGD ablation trains
    biases faster), the rest lr.
    """

    def __init__(self, params, bias_params, kind: str, lr, bias_lr, betas=(0.9, 0.999),
                 momentum: float = 0.0, eps: float = 1e-8):
        self.params = list(params)
        bias_ids = {id(p) for p in bias_params}
        self.lrs = [_per_member(bias_lr if id(p) in bias_ids else lr, p) for p in self.params]
        self.kind, self.betas, self.momentum, self.eps = kind, betas, momentum, eps
        self.step_count = 0
        self.state = [{"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for p in self.params]
        self.active = None  # [K] mask; members recorded as diverged stop updating

    @torch.no_grad()
    def step(self):
        self.step_count += 1
        t = self.step_count
        for p, lr, st in zip(self.params, self.lrs, self.state):
            g = p.grad
            if self.active is not None:
                lr = lr * _per_member(self.active, p)
            if self.kind == "adam":
                b1, b2 = self.betas
                st["m"].lerp_(g, 1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (st["v"] / (1 - b2 ** t)).sqrt_().add_(self.eps)
                p.sub_(lr / (1 - b1 ** t) * st["m"] / denom)
            else:  # sgd, torch.optim.SGD semantics (first step seeds the buffer with g)
                if self.momentum:
                    if t == 1:
                        st["m"].copy_(g)
                    else:
                        st["m"].mul_(self.momentum).add_(g)
                    g = st["m"]
                p.sub_(lr * g)

    def state_dict(self) -> dict:
        return {"step_count": self.step_count,
                "state": [{k: v.cpu() for k, v in s.items()} for s in self.state],
                "active": None if self.active is None else self.active.cpu()}

    def load_state_dict(self, sd: dict):
        self.step_count = sd["step_count"]
        for s, saved in zip(self.state, sd["state"]):
            for k in s:
                s[k].copy_(saved[k])
        if sd["active"] is not None:
            self.active = sd["active"].to(self.params[0].device)
