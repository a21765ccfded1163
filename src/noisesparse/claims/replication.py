"""F18: the paper's reference numbers beside this workflow's (the verdicts: claims/).

Every verdict is computed from run results with the criterion stated next to it, so a
reader can disagree with the criterion but not with the arithmetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from .. import paths
from ..errors import ConfigError
from ..plan.registry import VERDICT_FIGURE, Plan, resolve
from ..runs.results import load_final


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


def _epochs(run_ids) -> pd.Series:
    """Each run's training length in the paper's epochs (ceil(n_train / batch) steps, the
    partial batch kept): the last value of the epoch axis of its history.csv."""
    out = {}
    for rid in run_ids:
        h = pd.read_csv(paths.root() / paths.run_dir(rid) / "history.csv", usecols=["epoch"])
        out[rid] = float(h["epoch"].iloc[-1])
    return pd.Series(out, dtype=float)


def _epoch_range(epochs) -> tuple[float, float]:
    """(low, high) of a reference's `epochs`: a number, a [low, high] range, or null."""
    if epochs is None:
        return np.nan, np.nan
    lo, hi = (epochs, epochs) if np.isscalar(epochs) else epochs
    return float(lo), float(hi)


def _fmt_epochs(epochs) -> str:
    lo, hi = _epoch_range(epochs)
    if np.isnan(hi):
        return "not stated"
    return f"{lo:,.0f}" if lo == hi else f"{lo:,.0f}-{hi:,.0f}"


def same_setting(profile: str, our_epochs: float, reference_epochs) -> bool:
    """Ours is the paper's setting only in the paper profile, and only where we trained at
    least as long as the reference may have (the top of its stated range); a reference
    whose length is not stated is never called the same setting."""
    _, hi = _epoch_range(reference_epochs)
    return bool(profile == "paper" and our_epochs >= hi)  # False for NaN on either side


def reference_table(plan: Plan) -> pd.DataFrame:
    """One row per reference curve and sigma: the paper's number (noisy inputs) and ours,
    with both dead-neuron counts and how long each side trained (`same_setting`)."""
    ref = load_reference()
    rows = []
    for curve in ref["curves"]:
        sigmas = curve.get("sigmas", ref["sigmas"])
        runs = plan.studies.get(curve["study"], [])
        df = _select(load_final(runs), curve["select"], plan.profile) if runs else pd.DataFrame()
        epochs = _epochs(df["run_id"]) if len(df) else pd.Series(dtype=float)
        for sigma, value in zip(sigmas, curve["values"]):
            mine = df[np.isclose(df["sigma"], sigma)] if len(df) else df
            ok = mine[mine["status"] == "ok"] if len(mine) else mine
            c = mine.iloc[0] if len(mine) else None

            def mean(col):
                return ok[col].mean() if len(ok) and col in ok else np.nan

            ours_ep = float(epochs[mine["run_id"]].mean()) if len(mine) else np.nan
            rows.append({
                "curve": curve["name"], "label": curve["label"], "sigma": sigma,
                "paper_noisy_inputs": value,
                "ours_noisy_inputs": mean("frac_active_noisy"),
                "ours_clean_inputs": mean("frac_active_clean"),
                # non-zero-mean noise: at x + E[noise], the centre of the training inputs
                "ours_shifted_inputs": mean("frac_active_shifted"),
                "ours_dead_paper": mean("frac_dead"),
                "ours_silent_on_clean": mean("frac_silent_clean"),
                "seeds": len(ok), "diverged": int((mine["status"] == "diverged").sum()) if len(mine) else 0,
                "paper_epochs": _fmt_epochs(curve.get("epochs")),
                "our_epochs": ours_ep,
                "our_setting": (f"{c['dataset']}, width {c['width']}, {c['steps']} steps"
                                if c is not None else "not in this profile's grid"),
                "same_setting_as_paper": same_setting(plan.profile, ours_ep, curve.get("epochs")),
            })
    return pd.DataFrame(rows)


def active_counts_table(plan: Plan) -> pd.DataFrame:
    """The paper's active-neuron counts (of 10,000) for three noisy raw CIFAR-10 training
    images, beside the receptive-field noise networks' (F18's role `fields`; seed 0 per
    sigma): active units per image on the first three training images with the run's own
    noise at its sigma, and the mean over the first 256. Fractions of the width compare
    across widths."""
    import torch

    from ..measures import metrics as M
    from ..data import load as load_data
    from ..training.noise import sample
    from ..runs.results import load_model

    ref = load_reference()["active_counts_raw_cifar10"]
    paper_width = 10_000  # the paper's "Active neurons (of 10,000)"
    runs = plan.read_runs(VERDICT_FIGURE, "fields")
    df = load_final(runs) if runs else pd.DataFrame(columns=["sigma", "seed", "status"])
    df = df[df["status"] == "ok"].sort_values(["sigma", "seed"]).groupby("sigma").first()
    epochs = _epochs(df["run_id"]) if len(df) else pd.Series(dtype=float)
    sigmas = sorted(set(map(float, ref["by_sigma"])) | set(df.index))
    rows = []
    for sigma in sigmas:
        row = {"sigma": sigma}
        paper = {float(k): v for k, v in ref["by_sigma"].items()}.get(sigma)
        for ep, n in zip(ref["epochs"], paper or [np.nan] * len(ref["epochs"])):
            row[f"paper_active_{ep}_epochs"] = n
            row[f"paper_fraction_{ep}_epochs"] = n / paper_width
        if sigma in df.index:
            r = df.loc[sigma]
            cfg, net = load_model(r["run_id"])
            x = load_data(cfg.dataset)["x_train"][:256]
            g = torch.Generator().manual_seed(0)
            with torch.no_grad():
                _, z = net.encode(x + sample(cfg.noise, sigma, x.shape, generator=g))
            counts = M.active_mask(z[0], cfg.activation, cfg.act_threshold).sum(dim=-1).float()
            row.update({"our_width": cfg.width, "our_epochs": float(epochs[r["run_id"]]),
                        "ours_active_3_images": float(counts[:3].mean()),
                        "ours_fraction_3_images": float(counts[:3].mean()) / cfg.width,
                        "ours_fraction_256_images": float(counts.mean()) / cfg.width,
                        "our_data": cfg.dataset})
        rows.append(row)
    return pd.DataFrame(rows)
