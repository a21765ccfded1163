"""What every claim module shares: reading a study's results, per-sigma curves, and the
verdict row. A claim module exposes `CLAIM`, `STATEMENT`, `CRITERION` and `judge(plan)`,
which returns `row(...)`: the criterion stands beside the arithmetic that applies it. How
checks, gates and seed intervals make the verdict: `verdict.py` (its RULE, unless a module
states its own `RULE`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paths
from ..errors import ConfigError
from ..plan.registry import VERDICT_FIGURE, Plan
from ..runs.results import load_final
from .verdict import FAIL, PASS, RULE, Check, combine, deciding, flag, gate_summary


def row(claim: int | str, statement: str, criterion: str, measured: str,
        checks: list[Check | bool], rule: str = RULE) -> dict:
    """A claim's F18 verdict row: statement, criterion, the rule that combines its checks,
    what was measured, each check's outcome (gates and intervals included), what the gates
    stopped, the verdict, and the check that decided it (verdict.deciding: its text, and its
    mean, interval and threshold where it compares a per-seed quantity with one). A plain
    bool is an essential check with no interval (a deterministic quantity, or a profile
    with one seed)."""
    checks = [c if isinstance(c, Check) else Check(f"check {i + 1}", PASS if c else FAIL)
              for i, c in enumerate(checks)]
    d = deciding(checks)
    return {"claim": claim, "statement": statement, "verdict": combine(checks),
            "gates": gate_summary(checks), "criterion": criterion, "rule": rule,
            "checks": "; ".join(c.text() for c in checks) or "no check made",
            "measured": measured, "deciding": d.text() if d else "no check made",
            **{f"deciding_{k}": getattr(d, k, None)
               for k in ("value", "low", "high", "threshold")}}


def by_sigma(df: pd.DataFrame, col: str) -> pd.Series:
    """Mean over seeds of `col` per sigma, runs that finished only."""
    return finished(df).groupby("sigma")[col].mean().sort_index()


def reads(plan: Plan, role: str) -> list[str]:
    """The planned studies the claims read as `role`: F18's (VERDICT_FIGURE's) `studies`
    mapping in config/studies.yaml names them, so no claim names a study."""
    return plan.reads(VERDICT_FIGURE, role)


def sweep(plan: Plan) -> pd.DataFrame:
    """The main sigma sweep's final metrics, which most claims read."""
    return load_final(plan.read_runs(VERDICT_FIGURE, "sweep"))


def study(plan: Plan, role: str) -> pd.DataFrame | None:
    """Final metrics of the studies read as `role`, or None when this profile plans none."""
    runs = plan.read_runs(VERDICT_FIGURE, role)
    return load_final(runs) if runs else None


def figure_table(name: str, claim: int) -> pd.DataFrame:
    """A table a figure step wrote (results/tables/<name>.csv), for a claim judged on what
    that figure measured; the figure's `reads` in config/studies.yaml (F18's) makes it an
    input of the steps that compute verdicts, so it is drawn first."""
    path = paths.root() / f"results/tables/{name}.csv"
    if not path.exists():
        fig = name.split("_")[0]
        raise ConfigError(f"claim {claim} reads {path}: draw it first (`noisesparse figure "
                          f"{fig}`; the workflow does it before F18 and the summary)")
    return pd.read_csv(path)


def finished(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["status"] == "ok"]


def at_sigma(df: pd.DataFrame, sigma: float) -> tuple[float, pd.DataFrame]:
    """(grid sigma nearest `sigma`, every run there, finished or not: the gates see them)."""
    sig = np.sort(df["sigma"].unique())
    if not len(sig):
        return np.nan, df.iloc[0:0]
    s = float(sig[np.argmin(np.abs(sig - sigma))])
    return s, df[df["sigma"] == s]


def judged_sigma(df: pd.DataFrame, sigma: float) -> tuple[float, pd.DataFrame, str]:
    """Where a claim stated at the paper's noise level `sigma` is judged: the grid sigma
    nearest it when all its runs converged; otherwise the largest sigma above 0 and below it
    whose runs all converged, so that a profile too short for `sigma` still judges the claim
    on converged networks, and says where (the note); with none, `sigma` itself, for the
    gates to stop. (sigma, its runs, note: "" when judged where stated)."""
    s, rows = at_sigma(df, sigma)
    below = [x for x in converged_sigmas(df) if 0 < x <= s]
    if not below or s in below:
        return s, rows, ""
    t = max(below)
    return t, df[df["sigma"] == t], (f"judged at sigma {t:g}, the largest converged sigma "
                                     f"below {s:g} (not converged there)")


def per_seed(df: pd.DataFrame, col: str) -> pd.DataFrame:
    """seed x sigma table of `col` over finished runs (mean where a cell has several)."""
    ok = finished(df)
    if ok.empty or col not in ok:
        return pd.DataFrame()
    return ok.pivot_table(index="seed", columns="sigma", values=col, aggfunc="mean",
                          dropna=False).sort_index(axis=1)


def converged_sigmas(df: pd.DataFrame) -> list[float]:
    """The sigmas whose runs all finished and converged."""
    out = []
    for s, g in df.groupby("sigma"):
        if (g["status"] == "ok").all() and flag(g, "converged").all():
            out.append(float(s))
    return sorted(out)


def seeds_note(df: pd.DataFrame) -> str:
    """'(n seeds)' for a run table: what the intervals stand on."""
    n = finished(df)["seed"].nunique() if "seed" in df else 0
    return f"{n} seed{'s' if n != 1 else ''}"
