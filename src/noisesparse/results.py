"""Reading run results back: final metrics and metric histories as pandas DataFrames.

Every figure and table is computed from these files, never from typed-in numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from . import paths
from .errors import ConfigError


def _run_file(run_id: str, name: str) -> Path:
    path = paths.root() / paths.run_dir(run_id) / name
    if not path.exists():
        raise ConfigError(f"results of run {run_id} are missing ({path}); train it with "
                          "`snakemake --cores 2` or `noisesparse train --group <its group>`")
    return path


def load_record(run_id: str) -> dict:
    return json.loads(_run_file(run_id, "metrics.json").read_text())


def load_final(run_ids) -> pd.DataFrame:
    """One row per run: its config fields, status, and final metrics (NaN when diverged)."""
    rows = []
    for rid in run_ids:
        rec = load_record(rid)
        final = {k: (float("nan") if v is None else v) for k, v in rec["final"].items()}
        rows.append({"run_id": rid, "status": rec["status"], **rec["config"], **final})
    return pd.DataFrame(rows)


def load_history(run_ids) -> pd.DataFrame:
    """Long table of every run's logged metrics, with the run's config fields joined on."""
    frames = []
    for rid in run_ids:
        rec = load_record(rid)
        # The logged sigma is the schedule's value at that step; the run's sigma is config.
        h = pd.read_csv(_run_file(rid, "history.csv")).rename(columns={"sigma": "sigma_now"})
        h.insert(0, "run_id", rid)
        for k, v in rec["config"].items():
            if k not in h.columns:
                h[k] = v
        h["status"] = rec["status"]
        frames.append(h)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def load_model(run_id: str):
    """(RunConfig, one-member SparseNet) rebuilt from a run's model.pt, for figures that need
    weights or activations (receptive fields, pre-activations, reconstructions)."""
    import torch

    from .config import make_run_config
    from .model import SparseNet

    blob = torch.load(_run_file(run_id, "model.pt"), weights_only=True, map_location="cpu")
    cfg = make_run_config(blob["config"], f"run {run_id}")
    if cfg.arch != "mlp":
        raise ConfigError(f"run {run_id} is a {cfg.arch}; load_model rebuilds MLP runs only")
    state = blob["state"]
    net = SparseNet([cfg], state["encoder.weight"].shape[1], state["decoder.weight"].shape[0])
    names = {"encoder.weight": "w1", "encoder.bias": "b1", "decoder.weight": "w2",
             "decoder.bias": "b2"}
    net.load_state_dict({names.get(k, k): v.unsqueeze(0) for k, v in state.items()})
    net.k = cfg.topk  # every Top-K schedule ends at k = topk
    return cfg, net.eval()
