"""benchmarks/horizon.py's horizon: the first step from which every longer prefix of a
history is converged under noisesparse.runs.results. Histories built by hand; each expected step
is worked out beside it."""

import importlib.util
import math
from pathlib import Path

import pandas as pd

SPEC = importlib.util.spec_from_file_location(
    "horizon", Path(__file__).resolve().parents[1] / "benchmarks" / "horizon.py")
H = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(H)

STEPS = list(range(0, 2001, 100))


def hist(frac):
    return pd.DataFrame({"step": STEPS, "frac_active_clean": frac, "frac_active_noisy": frac,
                         "loss_clean": [0.01] * len(STEPS)})


def test_a_late_drop_is_not_an_early_plateau():
    # 0.6 until step 900, 0.3 from 1000 on. Prefixes ending before 1000 are flat (converged)
    # but a longer one sees the drop, so they do not count. A prefix ending at T is
    # converged once its window [0.8 T, T] starts at or after 1000: T >= 1250, and the first
    # logged such T is 1300. At T = 1200 the window starts at 960 (interpolated: 0.42) and
    # its points fall to 0.3: far more than 10%, unconverged.
    h = H.horizons(hist([0.6 if s < 1000 else 0.3 for s in STEPS]), loss_zero=0.01)
    assert h["frac_active_clean"] == h["frac_active_noisy"] == 1300
    # the loss never moves: converged from the first judged prefix (three logged steps)
    assert h["loss_clean"] == 200
    assert h["run"] == 1300


def test_still_moving_at_the_end_has_no_horizon():
    # falls by 0.02 per 100 steps to the end: over the last 400 of 2,000 steps, 0.08 of
    # about 0.28, well over 10%
    h = H.horizons(hist([0.68 - 0.02 * i for i in range(len(STEPS))]), loss_zero=0.01)
    assert math.isnan(h["frac_active_clean"]) and math.isnan(h["run"])


def test_the_table_keeps_one_row_per_seed_init_and_batch(tmp_path, monkeypatch):
    # an older history (no seed, init or batch columns: seed 0, PyTorch's init, batch 256)
    # and a newer one with seeds 0 and 1: seed 0's longer history replaces the older one,
    # seed 1 gets its own row
    monkeypatch.setattr(H, "HIST", tmp_path / "h")
    monkeypatch.setattr(H, "HERE", tmp_path)
    (tmp_path / "h").mkdir()
    common = dict(dataset="d", width=8, lr=1e-3, loss_zero=0.01, threads=1,
                  cpu_s_per_member_step=0.001, wall_s=1.0)
    old = hist([0.5] * len(STEPS)).assign(sigma=0.8, **common)
    old.to_csv(tmp_path / "h" / "old.csv", index=False)
    steps = list(range(0, 4001, 100))
    new = pd.concat([pd.DataFrame({"step": steps, "frac_active_clean": 0.5,
                                   "frac_active_noisy": 0.5, "loss_clean": 0.01})
                     .assign(sigma=0.8, seed=s, init="torch", batch_size=256, **common)
                     for s in (0, 1)])
    new.to_csv(tmp_path / "h" / "new.csv", index=False)
    H.table(None)
    t = pd.read_csv(next(tmp_path.glob("horizon_*.csv")))
    assert sorted(zip(t["seed"], t["steps_trained"])) == [(0, 4000), (1, 4000)]
    md = next(tmp_path.glob("horizon_*.md")).read_text()
    assert "| d | 8 | 0.001 | torch | 256 | 1 |" in md
