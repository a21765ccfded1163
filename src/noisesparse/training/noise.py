"""Input noise distributions and the noise-level schedule.

Parameterisation follows the paper: Gaussian sigma*N(0, 1) (sigma is the standard
deviation); Laplace with scale sigma (standard deviation sigma*sqrt(2)); exponential with
mean sigma (rate 1/sigma, standard deviation sigma); Poisson with rate sigma (mean sigma,
standard deviation sqrt(sigma)). The last two are not zero-mean: they shift every input by
E[noise] = sigma, which the figures mark and which `expected_value` gives to the metrics
(sparsity at x + E[noise]). Noise is drawn fresh every step, per ensemble member,
from that member's own generator, so a member sees the same noise it would see alone.
"""

from __future__ import annotations

import math

import torch

from ..errors import ConfigError

ZERO_MEAN = {"gaussian": True, "laplace": True, "exponential": False, "poisson": False}


def is_zero_mean(kind: str) -> bool:
    if kind not in ZERO_MEAN:
        raise ConfigError(f"unknown noise {kind!r}; choose one of {', '.join(ZERO_MEAN)}")
    return ZERO_MEAN[kind]


def _check_sigma(sigma: float) -> None:
    if not (math.isfinite(sigma) and sigma >= 0):  # NaN and inf fail here too
        raise ConfigError(f"sigma must be finite and >= 0, got {sigma}")


def expected_value(kind: str, sigma):
    """E[noise] per coordinate: 0 for the zero-mean kinds, sigma for exponential (its mean)
    and Poisson (its rate). Works on floats and on tensors of sigmas."""
    return sigma * 0 if is_zero_mean(kind) else sigma


def sample(kind: str, sigma: float | torch.Tensor, shape, generator: torch.Generator | None = None,
           device=None, check: bool = True) -> torch.Tensor:
    """One draw of noise of the given shape at level sigma (a float or a 0-d tensor).
    `check=False` skips the sigma >= 0 check, which reads sigma on the host (a device sync):
    for the training loop, whose sigmas were validated with their configs."""
    is_zero_mean(kind)
    if isinstance(sigma, torch.Tensor):
        sigma_t = sigma.float()
        if check and ((sigma_t < 0) | ~torch.isfinite(sigma_t)).any():
            raise ConfigError(f"sigma must be finite and >= 0, got {sigma}")
    else:  # a number stays on the host: no copy to the device every step
        _check_sigma(sigma)
        sigma_t = float(sigma)
    if kind == "poisson":
        rate = (sigma_t.expand(shape).contiguous() if isinstance(sigma_t, torch.Tensor)
                else torch.full(shape, sigma_t, device=device))
        return torch.poisson(rate, generator=generator)
    if kind == "gaussian":
        unit = torch.randn(shape, generator=generator, device=device)
    else:
        # Inverse-CDF from one uniform keeps each member on a single stream of its generator.
        u = torch.rand(shape, generator=generator, device=device).clamp_(1e-7, 1 - 1e-7)
        if kind == "laplace":
            v = u - 0.5
            unit = -torch.sign(v) * torch.log1p(-2 * v.abs())
        else:  # exponential, mean 1
            unit = -torch.log1p(-u)
    return sigma_t * unit


def sigma_at(step, steps: int, sigma, schedule: str, sigma_end, ramp_start: float,
             ramp_end: float):
    """Noise level at `step` (0-based) of `steps`; works on floats and on [K] tensors.

    "constant": sigma throughout. "linear": sigma until ramp_start*steps, then linearly to
    sigma_end at ramp_end*steps, then sigma_end (the noise-removal experiment).
    """
    if schedule == "constant":
        return sigma
    if schedule != "linear":
        raise ConfigError(f"unknown schedule {schedule!r}; choose constant or linear")
    start, end = ramp_start * steps, ramp_end * steps
    if step <= start:
        return sigma
    if step >= end or end == start:
        return sigma_end
    t = (step - start) / (end - start)
    return sigma + t * (sigma_end - sigma)
