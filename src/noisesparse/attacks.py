"""Robustness of trained networks: PGD attacks (L-inf and L2) and Gaussian noise at test time.

Classifiers are attacked with torchattacks' PGD / PGDL2 (cross-entropy on the true label).
Reconstruction networks are attacked by the same projected gradient ascent on a loss that
torchattacks does not offer: the squared error of the reconstruction against the CLEAN
input. That ascent is `pgd` below, a minimal PGD with torchattacks' exact arithmetic (a
test checks that it reproduces torchattacks' PGD and PGDL2 on a classifier, draw for draw).

Settings follow the authors' code (TrentBrick/SparsityFromNoise, commit 64c1fdf,
exp_commands/Adv_Robustness_ClassifCIFAR10_DIFFUSION_FFN.py and
Adv_Robustness_Recon_DIFFUSION_FFN.py): `pgd_step_iters=10`, and the eps grid they left
commented there, {0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.3, 0.6} (the profiles' `attack_eps`).
Their step size is not in the released code; ours is Madry et al.'s 2.5 * eps / steps
(eps / 4 at 10 steps, also torchattacks' default ratio 2/255 : 8/255), with a random start.

Clamp range: torchattacks clamps to [0, 1]. Our inputs are not all in [0, 1] (latents are
not), so every attack works in a rescaled space u = (x - lo) / (hi - lo), with [lo, hi] the
range of the dataset's training inputs (`data_range`); eps and the step scale by the same
scalar, so a ball of radius eps in x is a ball of radius eps / (hi - lo) in u, and the clamp
to [0, 1] in u keeps x inside the data's range. (The authors passed clip_min = clip_max =
None: no clamp. For data in [0, 1] ours is the usual valid-image constraint.)

torchattacks 3.5.1 is installed with `pip install --no-deps` (README): it declares
requests~=2.25.1, which conflicts with dvc's dulwich (urllib3 >= 2.2.2), and never imports
requests. Its PGDL2 returns NaN at eps = 0 (0 / 0 in the projection); eps = 0 is the clean
input, so it is not attacked.

Monotonicity: PGD at a larger eps need not find a worse point than at a smaller one (random
start, 10 steps). The curves we report are, per input, the worst case over every eps' <= eps
of the grid (eps = 0 included): legitimate, since the eps-ball contains the smaller balls,
and it makes accuracy under attack at most the clean accuracy and never rising with eps.
The raw per-eps numbers are kept beside them in the tables.
"""

from __future__ import annotations

import torch
from torch import nn

from .errors import ConfigError

NORMS = ("linf", "l2")


def data_range(x: torch.Tensor) -> tuple[float, float]:
    """[lo, hi] of a dataset's training inputs: the box attacks keep inputs in."""
    lo, hi = float(x.min()), float(x.max())
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
    """One member of a SparseNet seen from the unit box: u [B, 1, 1, D] in [0, 1] ->
    the network's output [B, O] at x = lo + (hi - lo) u. (torchattacks' L2 attack needs
    image-shaped [B, C, H, W] inputs; flat vectors become [B, 1, 1, D].)"""

    def __init__(self, net, lo: float, hi: float):
        super().__init__()
        self.net, self.lo, self.scale = net, lo, hi - lo

    def forward(self, u):
        return self.net(self.lo + self.scale * u.flatten(1))[2][0]


def _to_unit(x, lo, hi):
    return ((x - lo) / (hi - lo)).reshape(len(x), 1, 1, -1)


def attack_classifier(net, x, y, eps: float, norm: str, steps: int, lo: float, hi: float,
                      seed: int = 0) -> torch.Tensor:
    """torchattacks' PGD (L-inf) or PGDL2 on a one-member classifier, true labels y:
    adversarial inputs [B, D] within eps of x (in the norm) and inside [lo, hi]."""
    try:
        import torchattacks
    except ImportError:  # its declared requests pin breaks dvc's resolver: installed apart
        raise ConfigError("torchattacks is missing: pip install --no-deps torchattacks==3.5.1"
                          ) from None
    _check(eps, steps, norm)
    if eps == 0:  # the ball is the point; torchattacks' PGDL2 would divide 0 by 0 (NaN)
        return x.clone()
    model = _Unit(net, lo, hi).eval()
    s = hi - lo
    cls = torchattacks.PGD if norm == "linf" else torchattacks.PGDL2
    atk = cls(model, eps=eps / s, alpha=step_size(eps, steps) / s, steps=steps,
              random_start=True)
    with torch.random.fork_rng(devices=[]):  # the random start, without touching the caller's
        torch.manual_seed(seed)
        u = atk(_to_unit(x, lo, hi), y)
    return (lo + s * u.flatten(1)).detach()


def pgd(loss_fn, x: torch.Tensor, eps: float, norm: str, steps: int, lo: float, hi: float,
        seed: int = 0) -> torch.Tensor:
    """Projected gradient ascent on loss_fn(x_adv) (a scalar, summed or averaged over the
    batch) from a random start in the eps-ball, in the unit box of [lo, hi]: torchattacks'
    PGD/PGDL2 arithmetic with a loss of our choosing (it reproduces them, see tests)."""
    _check(eps, steps, norm)
    s = hi - lo
    e, alpha = eps / s, step_size(eps, steps) / s
    u0 = _to_unit(x, lo, hi).detach()
    n = len(u0)

    def f(u):
        return loss_fn(lo + s * u.flatten(1))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if norm == "linf":
            u = (u0 + torch.empty_like(u0).uniform_(-e, e)).clamp(0, 1).detach()
        else:
            d = torch.empty_like(u0).normal_()
            dn = d.view(n, -1).norm(p=2, dim=1).view(n, 1, 1, 1)
            r = torch.zeros_like(dn).uniform_(0, 1)
            u = (u0 + d * r / dn * e).clamp(0, 1).detach()
    for _ in range(steps):
        u.requires_grad_(True)
        g = torch.autograd.grad(f(u), u)[0]
        if norm == "linf":
            u = u.detach() + alpha * g.sign()
            delta = (u - u0).clamp(-e, e)
        else:
            g = g / (g.view(n, -1).norm(p=2, dim=1) + 1e-10).view(n, 1, 1, 1)
            delta = u.detach() + alpha * g - u0
            dn = delta.view(n, -1).norm(p=2, dim=1)
            # (clamped: at eps = 0 the step is 0 and 0 / 0 would be NaN)
            delta = delta * torch.minimum(e / dn.clamp(min=1e-12), torch.ones_like(dn)
                                          ).view(n, 1, 1, 1)
        u = (u0 + delta).clamp(0, 1).detach()
    return (lo + s * u.flatten(1)).detach()


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
