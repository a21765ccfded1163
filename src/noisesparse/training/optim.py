"""Adam and SGD(+momentum) for stacked ensemble parameters, with per-member settings.

torch.optim applies one learning rate to a whole tensor; here every member of the stacked
[K, ...] parameters has its own learning rate and gradient-clipping threshold. The update
rules are torch.optim.Adam's and torch.optim.SGD's (tests compare them).
"""

from __future__ import annotations

import math

import torch


def _per_member(values, like: torch.Tensor) -> torch.Tensor:
    """[K] values broadcast against a [K, ...] parameter."""
    t = torch.as_tensor(values, dtype=like.dtype, device=like.device)
    return t.view(-1, *([1] * (like.dim() - 1)))


def grad_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    """[K] global gradient norm of each member over all its parameters (one read of each)."""
    return torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads]
                       ).square().sum(0).sqrt()


def clip_coefs(norms: torch.Tensor, max_norm) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_'s scale per member; a limit of 0 means no clipping."""
    max_norm = torch.as_tensor(max_norm, dtype=norms.dtype, device=norms.device)
    return torch.where(max_norm > 0, (max_norm / (norms + 1e-6)).clamp(max=1.0),
                       torch.ones_like(norms))


def _update(params, grads, ms, vs, lrs, active, t, max_norm, kind: str, b1: float, b2: float,
            momentum: float, eps: float) -> None:
    """One in-place update of every parameter. Pure tensor code with the step count `t` as a
    device tensor, so torch.compile can fuse each parameter's clip + update into one kernel
    and never recompiles as t grows."""
    coef = None if max_norm is None else clip_coefs(grad_norms(grads), max_norm)
    if kind == "adam":
        # 1 - b**t without float32 cancellation (b2 = 0.999 would lose 4 digits)
        bc1, bc2 = -torch.expm1(t * math.log(b1)), -torch.expm1(t * math.log(b2))
    for p, g, m, v, lr in zip(params, grads, ms, vs, lrs):
        if coef is not None:
            g = g * _per_member(coef, p)
        lr = lr * _per_member(active, p)
        if kind == "adam":
            m.lerp_(g, 1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            denom = (v / bc2).sqrt_().add_(eps)
            p.sub_(lr / bc1 * m / denom)
        else:  # sgd, torch.optim.SGD semantics: the buffer starts at 0, so step 1 gives m = g
            if momentum:
                m.mul_(momentum).add_(g)
                g = m
            p.sub_(lr * g)


class EnsembleOptimizer:
    """Adam (default) or SGD with momentum over [K, ...] parameters.

    lr and bias_lr are [K] sequences; `bias_params` get bias_lr (the SGD ablation trains
    biases faster), the rest lr. `compile` fuses the update with torch.compile.
    """

    def __init__(self, params, bias_params, kind: str, lr, bias_lr, betas=(0.9, 0.999),
                 momentum: float = 0.0, eps: float = 1e-8, compile: bool = False):
        self.params = list(params)
        bias_ids = {id(p) for p in bias_params}
        self.lrs = [_per_member(bias_lr if id(p) in bias_ids else lr, p) for p in self.params]
        self.kind, self.betas, self.momentum, self.eps = kind, betas, momentum, eps
        dev = self.params[0].device
        self.step_count = 0
        self.t = torch.zeros((), device=dev)  # step count on the device: no syncs, no recompiles
        self.state = [{"m": torch.zeros_like(p), "v": torch.zeros_like(p)} for p in self.params]
        # [K] mask; members recorded as diverged stop updating
        self.active = torch.ones(len(self.params[0]), device=dev)
        self._update = torch.compile(_update, dynamic=False) if compile else _update

    @torch.no_grad()
    def step(self, max_norm=None):
        """Update every member; with `max_norm` ([K]), each member's gradient is first clipped
        to that global norm (folded into the update rather than a pass of its own)."""
        t = self.t + 1  # counted once the update ran (a failed compile changes nothing)
        self._update(self.params, [p.grad for p in self.params],
                     [s["m"] for s in self.state], [s["v"] for s in self.state], self.lrs,
                     self.active, t, max_norm, self.kind, *self.betas, self.momentum, self.eps)
        self.t, self.step_count = t, self.step_count + 1

    def use_eager(self) -> None:
        self._update = _update

    def state_dict(self) -> dict:
        return {"step_count": self.step_count,
                "state": [{k: v.cpu() for k, v in s.items()} for s in self.state],
                "active": self.active.cpu()}

    def load_state_dict(self, sd: dict):
        self.step_count = sd["step_count"]
        self.t.fill_(self.step_count)
        for s, saved in zip(self.state, sd["state"]):
            for k in s:
                s[k].copy_(saved[k])
        if sd["active"] is not None:
            self.active = sd["active"].to(self.params[0].device)
