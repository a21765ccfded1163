"""What every claim module shares: reading a study's results, per-sigma curves, and the
verdict row. A claim module exposes `CLAIM`, `STATEMENT`, `CRITERION` and `judge(plan)`,
which returns `row(...)`: the criterion stands beside the arithmetic that applies it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import paths
from ..errors import ConfigError
from ..registry import Plan
from ..results import load_final


def verdict(passed: list[bool]) -> str:
    if not passed:
        return "not measured"
    return "agrees" if all(passed) else ("partly" if any(passed) else "disagrees")


def row(claim: int, statement: str, criterion: str, measured: str, passed: list[bool],
        verdict_text: str | None = None) -> dict:
    """A claim's F18 verdict row: statement, criterion, what was measured, and the verdict
    (computed from `passed` unless one is given)."""
    return {"claim": claim, "statement": statement, "criterion": criterion,
            "measured": measured, "verdict": verdict_text or verdict(passed)}


def by_sigma(df: pd.DataFrame, col: str) -> pd.Series:
    """Mean over seeds of `col` per sigma, runs that finished only."""
    ok = df[df["status"] == "ok"]
    return ok.groupby("sigma")[col].mean().sort_index()


def nearest(series: pd.Series, sigma: float):
    """(sigma, value) at the grid point nearest `sigma`; NaNs for an empty curve."""
    if series.empty:
        return np.nan, np.nan
    s = series.index[np.argmin(np.abs(series.index.values - sigma))]
    return s, series.loc[s]


def sweep(plan: Plan) -> pd.DataFrame:
    """The main sigma sweep's final metrics, which most claims read."""
    return load_final(plan.studies["sigma_sweep"])


def study(plan: Plan, name: str) -> pd.DataFrame | None:
    """A study's final metrics, or None when this profile does not plan it."""
    return load_final(plan.studies[name]) if name in plan.studies else None


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
