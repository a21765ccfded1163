"""Compute estimates for a plan: FLOPs of every run, and time on a device from measured
throughput (a `noisesparse bench` CSV), per study and in total."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ..data import dataset_spec
from ..training.config import RunConfig

# Input dimensions of datasets that are not built yet (downloads).
KNOWN_DIMS = {"cifar10": 3072, "mnist": 784, "convmixer_latents": 256}


def input_dim(dataset: str) -> int:
    spec = dataset_spec(dataset)
    kind = spec["kind"]
    if kind in ("natural_patches", "image_folder"):
        return spec["size"] ** 2 * (3 if spec.get("colour") else 1)
    if kind == "digits":
        return 64
    if kind == "text":
        return 256
    if kind in KNOWN_DIMS:
        return KNOWN_DIMS[kind]
    raise KeyError(f"no input dimension known for dataset {dataset!r} ({kind})")


def run_flops(c: RunConfig) -> float:
    """Training FLOPs: 6 per multiply-accumulate-weight per example (forward + backward)."""
    if c.arch == "transformer":
        d, f, t = c.d_model, c.width, c.context
        params = c.n_layers * (4 * d * d + 2 * d * f) + 256 * d
        attn = c.n_layers * 2 * t * d  # per token, QK^T and AV
        return 6.0 * c.steps * c.batch_size * t * (params + attn)
    d_in = input_dim(c.dataset)
    d_out = 10 if c.task == "classification" else d_in
    macs = c.width * (d_in + d_out)
    if c.inhib == "all_to_all":
        macs += c.inhib_steps * c.width ** 2
    return 6.0 * c.steps * c.batch_size * macs


def throughput_from_bench(csv: str | Path) -> tuple[str, float]:
    """Achieved training FLOP/s of our trainer (largest ensemble measured) from a bench CSV."""
    df = pd.read_csv(csv)
    ours = df[df["what"] == "ours"].sort_values("members").iloc[-1]
    d, n, b = int(ours["in_dim"]), int(ours["width"]), int(ours["batch"])
    flops = 6.0 * b * n * 2 * d * int(ours["members"])
    return str(ours["device"]), flops / (ours["ms_per_step"] / 1e3)


def latest_bench(folder: str = "benchmarks", device_pattern: str = "") -> Path | None:
    files = sorted(p for p in Path(folder).glob("bench_*.csv")
                   if re.search(device_pattern, p.name, re.I))
    return files[-1] if files else None


def estimate(plan, flops_per_s: float | None = None) -> pd.DataFrame:
    rows = []
    for study, rids in plan.studies.items():
        flops = sum(run_flops(plan.runs[r]) for r in rids)
        rows.append({"study": study, "runs": len(rids), "pflop": flops / 1e15,
                     "hours": flops / flops_per_s / 3600 if flops_per_s else float("nan")})
    unique = sum(run_flops(c) for c in plan.runs.values())  # shared runs train once
    rows.append({"study": "TOTAL (unique runs)", "runs": len(plan.runs), "pflop": unique / 1e15,
                 "hours": unique / flops_per_s / 3600 if flops_per_s else float("nan")})
    return pd.DataFrame(rows)
