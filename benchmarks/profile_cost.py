"""CPU seconds a profile's training costs, from measured rates rather than FLOPs alone.

The rate: CPU milliseconds per member-step of our trainer on one thread (evaluation every
log step included), measured by benchmarks/horizon.py at several widths and two input sizes
and fitted as a + b * FLOPs-per-step (noisesparse.pipeline.estimate.run_flops / steps). Each run then
costs steps * rate; a group trains its members together, which this sums. Runs are
deduplicated by the plan, so a run two studies share is counted once (the TOTAL row); a
study's row counts all its runs. The Transformer runs are extrapolated from the same line.

    python benchmarks/profile_cost.py quick [long ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from noisesparse.pipeline.estimate import run_flops
from noisesparse.plan.registry import build_plan

HERE = Path(__file__).resolve().parent


def fitted_rate() -> tuple[float, float]:
    """(a ms, b ms per FLOP) of the line through the measured (FLOPs per member-step, CPU ms)."""
    pts = {}
    for path in sorted((HERE / "horizon_histories").glob("*.csv")):
        d = pd.read_csv(path, nrows=1)
        flops = 6.0 * 256 * int(d["width"][0]) * 2 * dims(d["dataset"][0])
        pts[flops] = 1e3 * float(d["cpu_s_per_member_step"][0])
    if len(pts) < 2:
        raise SystemExit("need horizon histories at two sizes at least (benchmarks/horizon.py)")
    x, y = np.array(list(pts)), np.array(list(pts.values()))
    b, a = np.polyfit(x, y, 1)
    return float(a), float(b)


def dims(dataset: str) -> int:
    from noisesparse.pipeline.estimate import input_dim
    return input_dim(dataset)


def cost(profile: str, a: float, b: float, extras=()) -> pd.DataFrame:
    plan = build_plan(profile, extras)
    sec = {r: c.steps * (a + b * run_flops(c) / c.steps) / 1e3 for r, c in plan.runs.items()}
    rows = [{"study": s, "runs": len(r), "cpu_s": sum(sec[x] for x in r)}
            for s, r in plan.studies.items()]
    rows.append({"study": "TOTAL (unique runs)", "runs": len(plan.runs), "cpu_s": sum(sec.values())})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    a, b = fitted_rate()
    print(f"rate: {a:.3f} ms + {b * 1e9:.3f} ms per GFLOP per member-step (1 thread)")
    for prof in sys.argv[1:] or ["quick"]:
        t = cost(prof, a, b)
        print(f"\nprofile {prof}: {t['cpu_s'].iloc[-1]:.0f} CPU s "
              f"({t['cpu_s'].iloc[-1] / 2 / 60:.1f} min on 2 cores if perfectly shared)")
        print(t.to_string(index=False, float_format=lambda v: f"{v:.0f}"))
