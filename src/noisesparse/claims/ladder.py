"""The sensitivity ladder's runs, read from a plan: per axis, the runs of each rung (one
stand-in choice moved toward the paper's setting, the others held at the profile's), with
the profile's own runs as every ordered axis's first rung. The claim modules compute their
deciding quantities from these (`rungs(plan)` in each), and claims/sensitivity.py's rule
turns them into a conclusion. The studies: config/studies.yaml's `sens_*` (the
`sensitivity` switch, docs/studies.md)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .verdict import converged_sigmas, judged_sigma, study, sweep

# axis -> (the study that moves it, the config field it moves, direction toward the paper:
# +1 larger is nearer, -1 smaller is nearer, 0 a choice the paper does not fix)
AXES = {"width": ("ladder_width", "width", +1), "lr": ("ladder_lr", "lr", -1),
        "batch": ("ladder_batch", "batch_size", +1), "data": ("ladder_data", "dataset", +1),
        "init": ("ladder_init", "init", 0)}
STAND_IN_INIT = "torch"  # the runs planned before `init` existed: PyTorch's default
# At a smaller Adam learning rate the early flat stretch (fraction active and loss barely
# moving before the late fall) passes the convergence check; a rung counts as converged only
# once lr x steps, the distance Adam lets each weight travel, is at least the stand-in's.
TRAVEL = "lr x steps >= the stand-in's"


@dataclass
class Rung:
    axis: str
    setting: object
    order: int | None
    runs: pd.DataFrame  # every run of the rung, finished or not (all sigmas, seeds, biases)


def _with_init(df: pd.DataFrame) -> pd.DataFrame:
    if "init" not in df:
        return df.assign(init=STAND_IN_INIT)
    return df.assign(init=df["init"].fillna(STAND_IN_INIT))


def stand_in(plan) -> pd.DataFrame:
    """The profile's own runs every ordered axis starts from: the main sweep, and the
    shared-bias study when planned (claim 4)."""
    parts = [sweep(plan)] + [d for d in [study(plan, "shared")] if d is not None]
    return _with_init(pd.concat(parts, ignore_index=True).drop_duplicates("run_id"))


def _own(base: pd.DataFrame, field: str):
    """The stand-in's setting of a config field (its first run's; init: PyTorch's)."""
    return STAND_IN_INIT if field == "init" else base[field].iloc[0]


def rungs(plan) -> list[Rung]:
    """Every rung of the planned `sens_*` studies, and the stand-in's rung on each axis
    whose study is planned: every run, of the profile's own studies or a rung study's, at
    the stand-in's setting of every axis (so that a rung study's seeds at that setting
    count too). Orders run from the stand-in (0) toward the paper; the init axis (a choice
    the paper does not fix): PyTorch's default and the other init, order None."""
    base = stand_in(plan)
    tables = {a: _with_init(df) for a, (role, _, _) in AXES.items()
              if (df := study(plan, role)) is not None}
    if not tables:
        return []
    pool = pd.concat([base, *tables.values()], ignore_index=True).drop_duplicates("run_id")
    origin = pool
    for _, field, _ in AXES.values():
        origin = origin[origin[field] == _own(base, field)]
    out = []
    for axis, df in tables.items():
        _, field, direction = AXES[axis]
        own, sig = _own(base, field), set(df["sigma"])
        out.append(Rung(axis, own, None if direction == 0 else 0,
                        origin[origin["sigma"].isin(sig)]))
        settings = sorted(set(df[field]) - {own}, key=lambda v: direction * _num(v))
        out += [Rung(axis, s, None if direction == 0 else i + 1, df[df[field] == s])
                for i, s in enumerate(settings)]
    return out


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0  # a dataset name: any other data is one step toward the paper's


def travelled(runs: pd.DataFrame, base: pd.DataFrame) -> bool:
    """TRAVEL: every finished run's lr x steps at least the stand-in's (its largest)."""
    ok = runs[runs["status"] == "ok"]
    ref = base[base["status"] == "ok"]
    if ok.empty or ref.empty:
        return False
    need = float((ref["lr"] * ref["steps"]).max())
    return bool((ok["lr"] * ok["steps"] >= need * (1 - 1e-9)).all())


def converged_at(runs: pd.DataFrame, sigmas, base: pd.DataFrame | None = None) -> bool:
    """Whether the rung's runs at every one of `sigmas` finished and converged (the public
    verdict.converged_sigmas) and, given the stand-in `base`, travelled as far (TRAVEL)."""
    conv = set(converged_sigmas(runs))
    ok = all(any(np.isclose(s, c) for c in conv) for s in sigmas)
    return ok and (base is None or travelled(runs[runs["sigma"].isin(sigmas)], base))


def verdict_sigmas(plan, sigma: float) -> list[float]:
    """Where a claim stated at the paper's `sigma` is read along the ladder: at the sigma
    its verdict was judged at on the profile's own sweep (verdict.judged_sigma: the largest
    converged sigma below `sigma` when `sigma` did not converge; sigma 0.3 on `long`), the
    quantity that decided the verdict, and at `sigma` itself. A rung study that did not
    train the verdict's sigma measures nothing there ("not measured")."""
    runs = sweep(plan)
    judged = judged_sigma(runs, sigma)[0] if not runs.empty else sigma
    return sorted({float(judged), float(sigma)})


def per_neuron(r: Rung) -> pd.DataFrame:
    """A rung's runs with per-neuron biases (the paper's network; the shared bias is claim
    4's)."""
    return r.runs[r.runs["bias"] == "neuron"]


def at(runs: pd.DataFrame, sigma: float) -> pd.DataFrame:
    return runs[np.isclose(runs["sigma"].astype(float), sigma)]


def measure(plan, quantity: str, values, threshold: float, op: str, sigmas,
            runs_of=per_neuron) -> list:
    """One claim quantity along every rung: `values(runs)` -> its per-seed values on a
    rung's runs (`runs_of` narrows them, e.g. to one bias mode), converged when the runs at
    `sigmas` converged and travelled as far as the stand-in's (sensitivity.Rung each)."""
    from . import sensitivity as S
    base = stand_in(plan)
    out = []
    for r in rungs(plan):
        runs = runs_of(r)
        try:
            v = values(runs)
        except (KeyError, ValueError, ZeroDivisionError, IndexError):
            v = []  # a rung without the runs this quantity reads: measured as nothing
        out.append(S.rung(quantity, r.axis, r.setting, r.order, v,
                          converged_at(runs, sigmas, base), threshold, op))
    return out
