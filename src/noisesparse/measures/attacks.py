"""Robustness of trained networks: PGD attacks (L-inf and L2) and Gaussian noise at test time.

Classifiers are attacked with foolbox's LinfPGD / L2PGD (foolbox 3.3.4; cross-entropy on the
true label). Reconstruction networks are attacked by the same projected gradient ascent on a
loss foolbox's PGD does not offer: the squared error of the reconstruction against the CLEAN
input. That ascent is `pgd` below, a minimal PGD with foolbox's exact arithmetic (random
start, gradient normalisation, projection and clamp in foolbox's order, the random start from
torch's generator as foolbox draws it), so a test checks that it reproduces foolbox's PGD on a
classifier draw for draw.

Why foolbox (benchmarks/attacks_2026-11-29.md, measured on the quick profile's classifier
shape, digits 64 -> 512 -> 10, 256 held-out inputs, 10 steps, the 7 non-zero eps of the grid,
both norms, one thread): with the same seed its adversarial inputs equal the reference's
exactly (largest difference 0), and one network's 14 attacks took 0.34 s, as long as the
reference's. It installs with the project's pins (it adds only eagerpy). The
adversarial-robustness-toolbox 1.20.1 also resolves, but draws its random start from numpy's
global generator (a torch seed does not reach it), clamps to the box before projecting onto
the L2 ball (a different point: up to 0.059 apart without random starts, L-inf equal),
converts to numpy and back, and took 0.75 s.

Settings follow the authors' code (TrentBrick/SparsityFromNoise, commit 64c1fdf,
exp_commands/Adv_Robustness_ClassifCIFAR10_DIFFUSION_FFN.py and
Adv_Robustness_Recon_DIFFUSION_FFN.py): `pgd_step_iters=10`, and the eps grid they left
commented there, {0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.3, 0.6} (the profiles' `attack_eps`).
Their step size is not in the released code; ours is Madry et al.'s 2.5 * eps / steps
(eps / 4 at 10 steps), with a random start: uniform in the L-inf box, uniform in the L2 ball
(foolbox's).

Clamp range: foolbox clamps to the model's bounds, here [0, 1]. Our inputs are not all in
[0, 1] (latents are not), so every attack works in a rescaled space u = (x - lo) / (hi - lo),
with [lo, hi] the range of the dataset's training inputs and the attacked inputs
(`data_range`); eps and the step scale by the same scalar, so a ball of radius eps in x is a
ball of radius eps / (hi - lo) in u, and the clamp to [0, 1] in u keeps x inside [lo, hi].
(The authors passed clip_min = clip_max = None: no clamp. For data in [0, 1] ours is the
usual valid-image constraint.) eps = 0 is the clean input, so it is not attacked.

Monotonicity: PGD at a larger eps need not find a worse point than at a smaller one (random
start, 10 steps). The curves we report are, per input, the worst case over every eps' <= eps
of the grid (eps = 0 included): legitimate, since the eps-ball contains the smaller balls,
and it makes accuracy under attack at most the clean accuracy and never rising with eps.
The raw per-eps numbers are kept beside them in the tables.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from ..errors import ConfigError

NORMS = ("linf", "l2")


def data_range(*xs: torch.Tensor) -> tuple[float, float]:
    """[lo, hi] over the given inputs (a dataset's training inputs and the inputs attacked):
    the box attacks keep inputs in. It holds every clean input, so eps = 0 is a valid point."""
    lo, hi = min(float(x.min()) for x in xs), max(float(x.max()) for x in xs)
    if not hi > lo:
        raise ConfigError(f"inputs are constant ({lo}); an attack needs a range")
    return lo, hi


def step_size(eps: float, steps: int) -> float:
    """Madry et al.'s PGD step, 2.5 * eps / steps."""
    return 2.5 * eps / steps


def _check(eps: float, steps: int, norm: str) -> None:
    if norm not in NORMS:
        raise ConfigError(f"unknown attack norm {norm!r}; choose one of {', '.join(NORMS)}")
    if not eps >= 0 or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"need eps >= 0 and a positive integer of steps, got {eps}, {steps}")


class _Unit(nn.Module):
    """One member of a SparseNet seen from the unit box: u [B, D] in [0, 1] -> the network's
    output [B, O] at x = lo + (hi - lo) u."""

    def __init__(self, net, lo: float, hi: float):
        super().__init__()
        self.net, self.lo, self.scale = net, lo, hi - lo

    def forward(self, u):
        return self.net(self.lo + self.scale * u)[2][0]


def _to_unit(x, lo, hi):
    u = (x - lo) / (hi - lo)
    if not (u.min() >= 0 and u.max() <= 1):
        raise ConfigError(f"inputs outside the attack box [{lo}, {hi}]: take data_range over "
                          "the training and the attacked inputs")
    return u


@contextmanager
def _seeded(seed: int, device: torch.device):
    """The random start from a seed of ours, without touching the caller's generators (the
    CPU one, and the GPU's when the inputs are there: the start is drawn on their device)."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def _inputs_only(net):
    """Gradients flow to the inputs only: the network's parameters are frozen for the attack
    (foolbox calls loss.backward(), which would otherwise fill their .grad)."""
    params = [p for p in net.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def attack_classifier(net, x, y, eps: float, norm: str, steps: int, lo: float, hi: float,
                      seed: int = 0) -> torch.Tensor:
    """foolbox's LinfPGD or L2PGD on a one-member classifier, true labels y: adversarial
    inputs [B, D] within eps of x (in the norm) and inside [lo, hi]."""
    import foolbox

    _check(eps, steps, norm)
    if eps == 0:  # the ball is the point
        return x.clone()
    s = hi - lo
    u0 = _to_unit(x, lo, hi)
    cls = foolbox.attacks.LinfPGD if norm == "linf" else foolbox.attacks.L2PGD
    atk = cls(abs_stepsize=step_size(eps, steps) / s, steps=steps, random_start=True)
    with _inputs_only(net), _seeded(seed, x.device):
        model = foolbox.PyTorchModel(_Unit(net, lo, hi).eval(), bounds=(0, 1),
                                     device=x.device)
        u, _, _ = atk(model, u0, foolbox.criteria.Misclassification(y), epsilons=eps / s)
    return (lo + s * u).detach()


def _random_start(u0: torch.Tensor, e: float, norm: str) -> torch.Tensor:
    """foolbox's start, drawn as it draws it: uniform in the L-inf box, or uniform in the L2
    ball (the first n coordinates of a uniform point on the sphere in n + 2 dimensions,
    Voelker et al. 2017), clamped to the unit box."""
    n, d = u0.shape
    if norm == "linf":
        r = torch.rand(u0.shape, dtype=u0.dtype, device=u0.device) * (e - (-e)) + (-e)
    else:
        g = torch.randn((n, d + 2), dtype=u0.dtype, device=u0.device)
        r = e * (g / (g ** 2).sum(-1, keepdim=True).sqrt())[:, :d]
    return (u0 + r).clamp(0, 1)


def pgd(loss_fn, x: torch.Tensor, eps: float, norm: str, steps: int, lo: float, hi: float,
        seed: int = 0, random_start: bool = True) -> torch.Tensor:
    """Projected gradient ascent on loss_fn(x_adv) (a scalar, summed or averaged over the
    batch) from a random start in the eps-ball, in the unit box of [lo, hi]: foolbox's PGD
    arithmetic with a loss of our choosing (it reproduces foolbox's, see tests)."""
    _check(eps, steps, norm)
    s = hi - lo
    e, alpha = eps / s, step_size(eps, steps) / s
    u0 = ((x - lo) / s).detach()
    tiny = 1e-12  # foolbox's floor on norms (no 0 / 0)

    def l2(v):
        return (v ** 2).sum(-1, keepdim=True).sqrt().clamp(min=tiny)

    u = u0
    if random_start:
        with _seeded(seed, x.device):
            u = _random_start(u0, e, norm)
    for _ in range(steps):
        u = u.clone().requires_grad_(True)
        g = torch.autograd.grad(loss_fn(lo + s * u), u)[0]
        g = g.sign() if norm == "linf" else g * (1 / l2(g))
        u = u.detach() + alpha * g
        if norm == "linf":
            u = u0 + (u - u0).clamp(-e, e)
        else:
            d = u - u0
            u = u0 + d * torch.clamp(e / l2(d), max=1)
        u = u.clamp(0, 1)
    return (lo + s * u).detach()


def recon_error(net, x_in: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-input squared error |x̂(x_in) - target|^2 of a one-member reconstruction net."""
    return (net(x_in)[2][0] - net.target(target)).pow(2).sum(-1)


def attack_reconstruction(net, x, eps: float, norm: str, steps: int, lo: float, hi: float,
                          seed: int = 0) -> torch.Tensor:
    """Inputs within eps of x that maximise the reconstruction error against the clean x."""
    return pgd(lambda xa: recon_error(net, xa, x).sum(), x, eps, norm, steps, lo, hi, seed)


def worst_case(values: torch.Tensor, higher_is_worse: bool) -> torch.Tensor:
    """Per input, the worst value over eps' <= eps: values [E, B] on an ascending eps grid
    whose first entry is 0 (clean) -> [E, B]. Correct-or-not (1/0) uses the running min,
    errors the running max."""
    return values.cummax(0).values if higher_is_worse else values.cummin(0).values


def _ascending(eps_grid) -> list[float]:
    eps = [float(e) for e in eps_grid]
    if not eps or eps[0] != 0 or any(b <= a for a, b in zip(eps, eps[1:])):
        raise ConfigError(f"the eps grid must start at 0 and ascend, got {eps_grid}")
    return eps


def attack_curves(net, task: str, x, y, eps_grid, steps: int, lo: float, hi: float,
                  seed: int = 0, chunk: int = 512) -> list[dict]:
    """One trained network under PGD: per norm and eps, the raw and worst-case metric
    (accuracy for a classifier, relative error sum|x̂ - x|^2 / sum|x|^2 for a reconstruction,
    over the given inputs)."""
    eps = _ascending(eps_grid)
    rows = []
    for norm in NORMS:
        per_eps = []
        for e in eps:
            vals = []
            for i in range(0, len(x), chunk):
                xc = x[i:i + chunk]
                if task == "classification":
                    yc = y[i:i + chunk]
                    xa = attack_classifier(net, xc, yc, e, norm, steps, lo, hi, seed) if e else xc
                    with torch.no_grad():
                        vals.append((net(xa)[2][0].argmax(-1) == yc).float())
                else:
                    xa = attack_reconstruction(net, xc, e, norm, steps, lo, hi, seed) if e else xc
                    with torch.no_grad():
                        vals.append(recon_error(net, xa, xc))
            per_eps.append(torch.cat(vals))
        raw = torch.stack(per_eps)  # [E, B]
        worst = worst_case(raw, higher_is_worse=task != "classification")
        if task == "classification":
            raw_m, worst_m = raw.mean(1), worst.mean(1)
        else:
            energy = net.target(x).pow(2).sum().clamp(min=1e-12)
            raw_m, worst_m = raw.sum(1) / energy, worst.sum(1) / energy
        rows += [{"attack": f"pgd_{norm}", "eps": e, "value": float(w), "value_raw": float(r)}
                 for e, w, r in zip(eps, worst_m, raw_m)]
    return rows


@torch.no_grad()
def noise_curve(net, task: str, x, y, sigmas, draws: int = 4, seed: int = 0) -> list[dict]:
    """Accuracy (classifier) or relative error (reconstruction, against the clean x) with
    Gaussian noise sigma * N(0, I) added at test time, averaged over `draws` draws."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for s in sigmas:
        vals = []
        for _ in range(draws if s else 1):
            xn = x + float(s) * torch.randn(x.shape, generator=g)
            out = net(xn)[2][0]
            if task == "classification":
                vals.append(float((out.argmax(-1) == y).float().mean()))
            else:
                t = net.target(x)
                vals.append(float((out - t).pow(2).sum() / t.pow(2).sum().clamp(min=1e-12)))
        rows.append({"attack": "gaussian", "eps": float(s), "value": sum(vals) / len(vals),
                     "value_raw": sum(vals) / len(vals)})
    return rows
