"""Reading run results back: final metrics and metric histories as pandas DataFrames.

Every figure and table is computed from these files, never from typed-in numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import paths
from ..errors import ConfigError, MissingResults
from ..measures.convergence import hold_step, judge_run


def _run_file(run_id: str, name: str) -> Path:
    path = paths.root() / paths.run_dir(run_id) / name
    if not path.exists():
        raise MissingResults(f"results of run {run_id} are missing ({path}); train it with "
                          "`snakemake --cores 2` or `noisesparse train --group <its group>`")
    return path


def _damaged(run_id: str, path: Path, why: str) -> MissingResults:
    folder = paths.run_dir(run_id)
    return MissingResults(f"{path} is damaged ({why}). Retrain the run: delete {folder} and "
                       "run `snakemake --cores 2` again (or `noisesparse train --group <its "
                       "group>`; `noisesparse plan --json` lists the groups).")


RECORD_KEYS = ("run_id", "status", "config", "final", "loss_zero")


def load_record(run_id: str) -> dict:
    path = _run_file(run_id, "metrics.json")
    try:
        rec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # truncated or garbled
        raise _damaged(run_id, path, f"not valid JSON: {e}") from e
    missing = [k for k in RECORD_KEYS if not isinstance(rec, dict) or k not in rec]
    if missing:
        raise _damaged(run_id, path, f"missing {', '.join(missing)}")
    return rec


def _read_history(run_id: str) -> pd.DataFrame:
    """A run's history.csv as written: one row per logged step."""
    path = _run_file(run_id, "history.csv")
    try:
        h = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise _damaged(run_id, path, f"unreadable CSV: {e}") from e
    if "step" not in h.columns or h.empty:
        raise _damaged(run_id, path, "no logged steps")
    return h


def judgement(rec: dict, history: pd.DataFrame) -> dict:
    """A run's judgement (noisesparse.measures.convergence: convergence, the held phase of an
    annealed run, the zero predictor), from its record and its history, None as NaN."""
    out = judge_run(history, rec["status"], rec["final"].get("loss_clean"), rec["loss_zero"],
                    hold_step(rec["config"]))
    return {k: (float("nan") if v is None else v) for k, v in out.items()}


def load_final(run_ids) -> pd.DataFrame:
    """One row per run: its config fields, status, final metrics (NaN when diverged) and
    its judgement (`judgement`), made here from its history, so that the convergence rule
    is a step of reading results, not of training."""
    rows = []
    for rid in run_ids:
        rec = load_record(rid)
        final = {k: (float("nan") if v is None else v) for k, v in rec["final"].items()}
        rows.append({"run_id": rid, "status": rec["status"], **rec["config"], **final,
                     **judgement(rec, _read_history(rid))})
    return pd.DataFrame(rows)


def load_history(run_ids) -> pd.DataFrame:
    """Long table of every run's logged metrics, with the run's config fields joined on."""
    frames = []
    for rid in run_ids:
        rec = load_record(rid)
        # The logged sigma is the schedule's value at that step; the run's sigma is config.
        h = _read_history(rid).rename(columns={"sigma": "sigma_now"})
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

    from ..training.config import make_run_config
    from ..training.model import SparseNet

    path = _run_file(run_id, "model.pt")
    try:
        blob = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # truncated zip, empty file
        raise _damaged(run_id, path, f"torch.load failed: {type(e).__name__}") from e
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
