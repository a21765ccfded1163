"""noisesparse.runs.results on hand-built histories: convergence over the last 20% of training,
and the zero predictor's gate. Every expected value is worked out by hand beside it."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from noisesparse.runs import results as C
from noisesparse.measures import metrics as M


def history(steps, **cols):
    return pd.DataFrame({"step": steps, **cols})


QUICK = list(range(0, 1501, 100))  # the quick profile logs every 100 of 1,500 steps


def test_the_window_starts_at_80_percent_and_interpolates_between_log_steps():
    # 1,500 steps logged every 100: 0.8 T = 1,200 is a log step, the window holds 4 points
    xs, ys = C.window_points(QUICK, np.arange(16.0))
    assert list(xs) == [1200, 1300, 1400, 1500] and list(ys) == [12, 13, 14, 15]
    # smoke: 40 steps logged every 10: 0.8 T = 32 lies between 30 and 40, where the
    # values are 0.5 and 0.3: 0.5 + 0.2 * (0.3 - 0.5) = 0.46
    xs, ys = C.window_points([0, 10, 20, 30, 40], [1, 1, 1, 0.5, 0.3])
    assert list(xs) == [32, 40] and ys == pytest.approx([0.46, 0.3])
    # two points: the line through them; relative change -0.16 / 0.46
    a, b = C.window_fit([0, 10, 20, 30, 40], [1, 1, 1, 0.5, 0.3])
    assert (a, b) == pytest.approx((0.46, 0.3))
    assert C.relative_change(a, b, C.FRAC_FLOOR) == pytest.approx(-0.16 / 0.46)


def test_a_fitted_line_ignores_a_fluctuation_the_last_two_points_would_call_a_change():
    # window 1,200..1,500: 0.10, 0.11, 0.09, 0.10. Centred on x = 150 (in steps after
    # 1,200), y = 0.10: slope = sum(dx dy) / sum(dx^2) = (-50 * 0.01 + 50 * -0.01) /
    # (2 * 150^2 + 2 * 50^2) = -1 / 50,000 = -2e-5; start 0.10 + 150 * 2e-5 = 0.103, end
    # 0.103 - 300 * 2e-5 = 0.097: a change of -0.006 / 0.103 = -5.8% (the last two points:
    # +11%)
    vals = [0.5] * 12 + [0.10, 0.11, 0.09, 0.10]
    a, b = C.window_fit(QUICK, vals)
    assert (a, b) == pytest.approx((0.103, 0.097))
    h = history(QUICK, frac_active_clean=vals, frac_active_noisy=vals, loss_clean=vals)
    conv = C.convergence(h, loss_zero=1.0)
    assert conv["conv_frac_active_clean"] == pytest.approx(-0.006 / 0.103)
    assert conv["converged"] is True


def test_the_colleagues_sigma_08_run_is_not_converged():
    # clean fraction active 0.114 at step 1,200, falling linearly to 0.047 at 1,500:
    # -0.067 / 0.114 = -58.8%
    clean = [0.3] * 12 + list(np.linspace(0.114, 0.047, 4))
    steady = [0.2] * 16
    h = history(QUICK, frac_active_clean=clean, frac_active_noisy=steady,
                loss_clean=[0.01] * 16, sigma=[0.8] * 16)
    conv = C.convergence(h, loss_zero=0.0099)
    assert conv["conv_frac_active_clean"] == pytest.approx(-0.067 / 0.114)
    assert conv["conv_frac_active_noisy"] == pytest.approx(0.0, abs=1e-12)
    assert conv["conv_loss_clean"] == pytest.approx(0.0, abs=1e-12)
    assert conv["conv_sigma_constant"] is True
    assert conv["converged"] is False


def test_tiny_fractions_and_losses_move_against_their_floors():
    # 0.004 -> 0.002 halves, but moves 0.002 < the floor 0.005: relative to
    # floor / 10% = 0.05, -0.002 / 0.05 = -4%
    steps = [0, 80, 100]
    assert C.relative_change(0.004, 0.002, C.FRAC_FLOOR) == pytest.approx(-0.04)
    # no floor and a start at exactly 0: any move is infinite, none is 0
    assert C.relative_change(0.0, 1e-9, 0.0) == math.inf
    assert C.relative_change(0.0, 0.0, 0.0) == 0.0
    # above the floor the plain relative change: 0.5 -> 0.4 is -20%
    assert C.relative_change(0.5, 0.4, C.FRAC_FLOOR) == pytest.approx(-0.2)
    # the loss floor is 1% of the zero predictor's loss: 0.01 -> 1e-4, so below 1e-3 a
    # change counts against 1e-3: 1.5e-4 -> 1e-4 is -5e-5 / 1e-3 = -5%; 3e-4 -> 1e-4, -20%
    h = history(steps, frac_active_clean=[0.01, 0.004, 0.002],
                frac_active_noisy=[0.3, 0.3, 0.3], loss_clean=[1.0, 1.5e-4, 1e-4])
    conv = C.convergence(h, loss_zero=0.01)
    assert conv["conv_frac_active_clean"] == pytest.approx(-0.04)
    assert conv["conv_loss_clean"] == pytest.approx(-0.05)
    assert conv["converged"] is True
    h["loss_clean"] = [1.0, 3e-4, 1e-4]
    conv = C.convergence(h, loss_zero=0.01)
    assert conv["conv_loss_clean"] == pytest.approx(-0.2) and conv["converged"] is False


def test_a_moving_schedule_is_recorded_and_a_diverged_run_has_not_converged():
    steps = [0, 10, 20, 30, 40]
    flat = [0.2] * 5
    # sigma annealed over the window: the metrics move by design, and the record says so
    h = history(steps, frac_active_clean=flat, frac_active_noisy=flat, loss_clean=flat,
                sigma=[0.8, 0.8, 0.8, 0.4, 0.0])
    conv = C.convergence(h, 1.0)
    assert conv["conv_sigma_constant"] is False and conv["converged"] is True
    h["sigma"] = 0.0
    assert C.convergence(h, 1.0)["conv_sigma_constant"] is True
    # a non-finite value in the window: no change measured, not converged
    h["loss_clean"] = [0.2, 0.2, 0.2, float("nan"), float("nan")]
    conv = C.convergence(h, 1.0)
    assert conv["conv_loss_clean"] is None and conv["converged"] is False
    rec = C.judge_run(h, "diverged", None, 0.0099)
    assert rec["converged"] is False and rec["beats_zero_predictor"] is False
    assert rec["loss_zero_clean"] == rec["loss_zero_noisy"] == 0.0099


def test_the_zero_predictor_gate():
    # reconstruction: the mean over inputs of each input's mean squared value:
    # (1 + 4) / 2 = 2.5 and (9 + 0) / 2 = 4.5 -> 3.5
    assert M.zero_predictor("reconstruction", torch.tensor([[1.0, 2.0], [3.0, 0.0]])) == \
        pytest.approx(3.5)
    # classification: all-zero logits over 4 classes, log 4 whatever the labels
    assert M.zero_predictor("classification", torch.tensor([0, 3, 1]), 4) == \
        pytest.approx(math.log(4))
    with pytest.raises(ValueError, match="n_classes"):
        M.zero_predictor("classification", torch.tensor([0, 1]))
    flat = history([0, 10], frac_active_clean=[0.2, 0.2], frac_active_noisy=[0.2, 0.2],
                   loss_clean=[0.0094, 0.0094])
    # strictly below the zero predictor's 0.0099 beats it; 0.0101 does not
    assert C.judge_run(flat, "ok", 0.0094, 0.0099)["beats_zero_predictor"] is True
    assert C.judge_run(flat, "ok", 0.0101, 0.0099)["beats_zero_predictor"] is False
    assert C.judge_run(flat, "ok", 0.0099, 0.0099)["beats_zero_predictor"] is False  # equal
    assert C.judge_run(flat, "ok", float("nan"), 0.0099)["beats_zero_predictor"] is False


def test_bad_histories_are_clear_errors():
    with pytest.raises(ValueError, match="two logged steps"):
        C.window_points([0], [1.0])
    with pytest.raises(ValueError, match="strictly increasing"):
        C.window_points([0, 10, 10], [1.0, 1.0, 1.0])
    # one logged step (a run that diverged at its first evaluation): unmeasured, unconverged
    one = C.convergence(history([0], frac_active_clean=[1.0], frac_active_noisy=[1.0],
                                loss_clean=[float("nan")]), 1.0)
    assert one["conv_loss_clean"] is None and one["converged"] is False
    with pytest.raises(ValueError, match="frac_active_noisy"):
        C.convergence(history([0, 10], frac_active_clean=[1, 1], loss_clean=[1, 1]), 1.0)


def test_the_held_phase_of_an_annealed_run_is_judged_on_its_own_history():
    # hold until step 1,000, anneal 1,000-1,600, flat at sigma 0 to 2,000 (logged every 200).
    steps = list(range(0, 2001, 200))
    sigma = [0.8] * 6 + [0.8 * (1 - (s - 1000) / 600) for s in (1200, 1400)] + [0.0] * 3
    # held phase 0..1,000 plateaus at 0.10 from step 600: its window is 800..1,000 (two
    # points, 0.10 -> 0.10): converged. Annealing doubles it; the 20% window of the whole
    # run (1,600..2,000) sits in the flat tail at 0.20: converged too, sigma constant there.
    frac = [0.5, 0.3, 0.2, 0.1, 0.1, 0.1, 0.15, 0.19, 0.2, 0.2, 0.2]
    h = history(steps, sigma=sigma, frac_active_clean=frac, frac_active_noisy=frac,
                loss_clean=[0.05] * 11)
    rec = C.judge_run(h, "ok", 0.05, 0.1, hold=1000)
    assert rec["held_converged"] is True
    assert rec["held_conv_frac_active_clean"] == pytest.approx(0.0, abs=1e-12)
    assert rec["converged"] is True and rec["conv_sigma_constant"] is True
    # still falling when the noise is removed: 800..1,000 goes 0.2 -> 0.1, a change of
    # -0.1 / 0.2 = -50%: the held phase did not plateau (the run's end is still flat)
    frac2 = [0.5, 0.4, 0.3, 0.25, 0.2, 0.1, 0.15, 0.19, 0.2, 0.2, 0.2]
    h2 = h.assign(frac_active_clean=frac2, frac_active_noisy=frac2)
    rec2 = C.judge_run(h2, "ok", 0.05, 0.1, hold=1000)
    assert rec2["held_conv_frac_active_clean"] == pytest.approx(-0.5)
    assert rec2["held_converged"] is False and rec2["converged"] is True
    # no hold step (a constant schedule): no held_ keys; a diverged run: held not converged
    assert not any(k.startswith("held_") for k in C.judge_run(h, "ok", 0.05, 0.1))
    assert C.judge_run(h, "diverged", None, 0.1, hold=1000)["held_converged"] is False


def test_the_hold_step_is_where_an_annealing_schedule_leaves_its_initial_sigma():
    assert C.hold_step({"schedule": "linear", "ramp_start": 0.5, "steps": 8000}) == 4000
    assert C.hold_step({"schedule": "constant", "ramp_start": 0.5, "steps": 8000}) is None


def test_results_are_judged_when_read_from_their_history(tmp_path, monkeypatch):
    """load_final judges a run from its history.csv, its config and the zero predictor's
    loss its trainer recorded: nothing of the judgement is stored by training."""
    import json

    from noisesparse import paths
    from noisesparse.runs import results
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    config = {"sigma": 0.8, "schedule": "linear", "ramp_start": 0.5, "steps": 2000}
    run = tmp_path / paths.run_dir("r1")
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps(
        {"run_id": "r1", "status": "ok", "config": config, "loss_zero": 0.1,
         "final": {"loss_clean": 0.05, "frac_active_clean": 0.2}}))
    # the annealed history of test_the_held_phase..., its held phase still falling
    steps = list(range(0, 2001, 200))
    frac = [0.5, 0.4, 0.3, 0.25, 0.2, 0.1, 0.15, 0.19, 0.2, 0.2, 0.2]
    history(steps, sigma=0.8, frac_active_clean=frac, frac_active_noisy=frac,
            loss_clean=[0.05] * 11).to_csv(run / "history.csv", index=False)
    row = results.load_final(["r1"]).iloc[0]
    assert row["converged"] and not row["held_converged"]
    assert row["held_conv_frac_active_clean"] == pytest.approx(-0.5)
    assert row["beats_zero_predictor"] and row["loss_zero_clean"] == row["loss_zero_noisy"] == 0.1
    assert "checks" not in row
