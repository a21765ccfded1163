"""`noisesparse bench`: how close our trainer runs to the speed limit of its matmuls.

Measured in one process on one device, for one model shape:
  (a) our trainer's steps/s (batched ensemble, data on the device, no host syncs),
  (b) a reference loop fed the way the authors' code is (TensorDataset + DataLoader with
      per-item collation, one model at a time, torch.optim.Adam, a .item() per step),
  (c) the step's matrix multiplications alone (forward and backward), the speed limit,
and ensemble scaling: time per step for 1, 2, 4, 8, 16 members.
"""

from __future__ import annotations

import csv
import datetime
import platform
import time
from pathlib import Path

import torch
from torch import nn

from ..training.config import make_run_config
from ..training.train import GroupTrainer, set_precision


def device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu-{platform.machine()}-{torch.get_num_threads()}threads"


def _sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _timeit(fn, steps: int, warmup: int, dev) -> float:
    """Seconds per call."""
    for _ in range(warmup):
        fn()
    _sync(dev)
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(dev)
    return (time.perf_counter() - t) / steps


def _data(n: int, d: int, dev) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, d, generator=g)
    return {"x_train": x, "x_test": x[:2048].clone(), "y_train": None, "y_test": None,
            "meta": {"name": "bench", "n_classes": 0}}


def ours(members: int, d: int, width: int, batch: int, n: int, steps: int, warmup: int, dev,
         precision: str = "tf32", compile: bool = False):
    cfgs = [make_run_config({"dataset": "bench", "width": width, "batch_size": batch,
                             "sigma": 0.1 * (k + 1), "seed": k, "steps": 10**9,
                             "log_every": 10**9}) for k in range(members)]
    tr = GroupTrainer(cfgs, _data(n, d, dev), dev, precision, compile)
    state = {"step": 0}

    def step():
        tr.train_step(state["step"])
        state["step"] += 1
    return _timeit(step, steps, warmup, dev)


def reference(d: int, width: int, batch: int, n: int, steps: int, warmup: int, dev):
    """One model, DataLoader with per-item collation, .item() every step (authors' style)."""
    x = torch.rand(n, d)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(n)),
                                         batch_size=batch, shuffle=True, drop_last=True)
    model = nn.Sequential(nn.Linear(d, width), nn.ReLU(), nn.Linear(width, d)).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    it = iter(loader)

    def step():
        nonlocal it
        try:
            xb, _ = next(it)
        except StopIteration:
            it = iter(loader)
            xb, _ = next(it)
        xb = xb.to(dev)
        y = model(xb + 0.1 * torch.randn_like(xb))
        loss = (y - xb).pow(2).mean(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss.item()
    return _timeit(step, steps, warmup, dev)


def matmuls_only(d: int, width: int, batch: int, steps: int, warmup: int, dev):
    """The five GEMMs of one step: forward x W1^T, z W2^T; backward dW2, dz, dW1."""
    x = torch.rand(batch, d, device=dev)
    w1, w2 = torch.rand(width, d, device=dev), torch.rand(d, width, device=dev)
    z, gy = torch.rand(batch, width, device=dev), torch.rand(batch, d, device=dev)

    def step():
        x @ w1.T
        z @ w2.T
        gy.T @ z
        gy @ w2
        z.T @ x
    return _timeit(step, steps, warmup, dev)


def run(d: int = 256, width: int = 10_000, batch: int = 1024, n: int = 50_000,
        steps: int = 10, warmup: int = 2, members=(1, 2, 4, 8, 16), device: str = "auto",
        out_dir: str = "benchmarks", precision: str = "tf32", compile: bool = False) -> list[dict]:
    """Time (a), (b), (c) and ensemble scaling; with `compile`, also our trainer under
    torch.compile (compilation happens in the warm-up steps, outside the timing)."""
    dev = _device(device)
    set_precision(precision, dev)  # for all three timings alike
    name = device_name(dev)
    shape = dict(device=name, precision=precision, in_dim=d, width=width, batch=batch)
    rows = []
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
        t_mm = matmuls_only(d, width, batch, steps, warmup, dev)
    t_ref = reference(d, width, batch, n, steps, warmup, dev)
    for what in ("ours", "ours_compiled") if compile else ("ours",):
        t_one = None
        for k in members:
            t = ours(k, d, width, batch, n, steps, warmup, dev, precision, what != "ours")
            t_one = t if k == 1 else t_one
            rows.append({**shape, "what": what, "members": k, "ms_per_step": 1e3 * t,
                         "vs_one_member": t / t_one if t_one else float("nan"),
                         "vs_matmuls": t / (k * t_mm), "speedup_vs_reference": k * t_ref / t})
    rows.insert(0, {**shape, "what": "reference_dataloader", "members": 1,
                    "ms_per_step": 1e3 * t_ref, "vs_matmuls": t_ref / t_mm})
    rows.insert(0, {**shape, "what": "matmuls_only", "members": 1, "ms_per_step": 1e3 * t_mm,
                    "vs_matmuls": 1.0})
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    safe = "".join(ch if ch.isalnum() else "_" for ch in name)
    path = Path(out_dir) / f"bench_{safe}_{d}x{width}_{precision}_{stamp}.csv"
    fields = ["device", "precision", "in_dim", "width", "batch", "what", "members", "ms_per_step",
              "vs_one_member", "vs_matmuls", "speedup_vs_reference"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})
    for r in rows:
        print(f"{r['what']:<22} K={r['members']:<3d} {r['ms_per_step']:9.2f} ms/step  "
              f"x{r.get('vs_matmuls', float('nan')):.2f} of matmul time"
              + (f"  {r['speedup_vs_reference']:.1f}x reference throughput"
                 if "speedup_vs_reference" in r else ""))
    print(f"wrote {path}")
    return rows


def _device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def precision_check(device: str = "auto", steps: int = 2000, sigmas=(0.0, 0.3, 0.8, 1.5),
                    width: int = 512, dataset: str = "natural_grey12",
                    precisions=("fp32", "tf32", "bf16"), out_dir: str = "benchmarks") -> list[dict]:
    """Does the matmul precision change the science? The same short σ sweep (same seeds,
    same data) in each precision: final fraction active and loss side by side."""
    import tempfile

    from ..data import build, load
    dev = _device(device)
    with tempfile.TemporaryDirectory() as tmp:
        data = load(dataset, build(dataset, out=f"{tmp}/{dataset}.pt"))
    cfgs = [make_run_config({"dataset": dataset, "width": width, "sigma": s, "steps": steps,
                             "batch_size": 256, "log_every": steps, "eval_size": 1024})
            for s in sigmas]
    rows = []
    for prec in precisions:
        tr = GroupTrainer(cfgs, data, dev, prec)
        tr.fit(progress=False)
        final = {k: v.float().cpu() for k, v in tr.final_metrics().items()}
        for i, c in enumerate(cfgs):
            rows.append({"device": device_name(dev), "precision": prec, "sigma": c.sigma,
                         "steps": steps, "width": width, "dataset": dataset,
                         "frac_active_clean": float(final["frac_active_clean"][i]),
                         "loss_clean": float(final["loss_clean"][i]),
                         "steps_per_s": tr.steps_per_s})
    set_precision("tf32", dev)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() else "_" for ch in device_name(dev))
    path = Path(out_dir) / f"precision_{safe}_{datetime.date.today().isoformat()}.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"{'sigma':>6} " + " ".join(f"{p + ' active':>12} {p + ' loss':>11}" for p in precisions))
    for s in sigmas:
        r = {x["precision"]: x for x in rows if x["sigma"] == s}
        print(f"{s:6g} " + " ".join(f"{r[p]['frac_active_clean']:12.4f} {r[p]['loss_clean']:11.5f}"
                                    for p in precisions))
    print(f"wrote {path}")
    return rows
