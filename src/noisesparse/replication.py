"""F18: the paper's reference numbers beside this workflow's (the verdicts: claims/).

Every verdict is computed from run results with the criterion stated next to it, so a
reader can disagree with the criterion but not with the arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from . import paths
from .errors import ConfigError
from .registry import Plan, resolve
from .results import load_final


def load_reference() -> dict:
    with open(paths.config_dir() / "reference.yaml") as f:
        return yaml.safe_load(f)


def _select(df: pd.DataFrame, select: dict, profile: str) -> pd.DataFrame:
    """Runs matching the curve's selection; empty when this profile's grid lacks it."""
    for key, value in select.items():
        try:
            value = resolve(profile, value)
        except ConfigError:
            return df.iloc[0:0]
        df = df[df[key] == value]
    return df


def _by_sigma(df: pd.DataFrame, col: str) -> pd.Series:
    ok = df[df["status"] == "ok"]
    return ok.groupby("sigma")[col].mean().sort_index()


def reference_table(plan: Plan) -> pd.DataFrame:
    """One row per reference curve and sigma: the paper's number (noisy inputs) and ours."""
    ref = load_reference()
    rows = []
    for curve in ref["curves"]:
        sigmas = curve.get("sigmas", ref["sigmas"])
        runs = plan.studies.get(curve["study"], [])
        df = _select(load_final(runs), curve["select"], plan.profile) if runs else pd.DataFrame()
        for sigma, value in zip(sigmas, curve["values"]):
            mine = df[np.isclose(df["sigma"], sigma)] if len(df) else df
            ok = mine[mine["status"] == "ok"] if len(mine) else mine
            c = mine.iloc[0] if len(mine) else None
            rows.append({
                "curve": curve["name"], "label": curve["label"], "sigma": sigma,
                "paper_noisy_inputs": value,
                "ours_noisy_inputs": ok["frac_active_noisy"].mean() if len(ok) else np.nan,
                "ours_clean_inputs": ok["frac_active_clean"].mean() if len(ok) else np.nan,
                "ours_dead": ok["frac_dead"].mean() if len(ok) else np.nan,
                "seeds": len(ok), "diverged": int((mine["status"] == "diverged").sum()) if len(mine) else 0,
                "our_setting": (f"{c['dataset']}, width {c['width']}, {c['steps']} steps"
                                if c is not None else "not in this profile's grid"),
                "same_setting_as_paper": plan.profile == "paper",
            })
    return pd.DataFrame(rows)

