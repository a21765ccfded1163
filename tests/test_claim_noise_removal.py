"""Claim 5's judge (claims/noise_removal.py) on hand-built run tables: retention against
the never-noised reference reaches agrees, disagrees, inconclusive and each gate."""

from __future__ import annotations

import pandas as pd
import pytest

from noisesparse.claims import noise_removal as C5


def table(ref, annealed, sigma=0.8, lr=1e-3, held=True, converged=True, ref_beats=True):
    """Three seeds of a never-noised reference (sigma 0) and of one annealed sigma, with
    the given clean fractions active."""
    rows = []
    for seed, (r, a) in enumerate(zip(ref, annealed)):
        rows.append(dict(run_id=f"ref{seed}", status="ok", sigma=0.0, lr=lr, seed=seed,
                         frac_active_clean=r, converged=True, held_converged=True,
                         beats_zero_predictor=ref_beats))
        rows.append(dict(run_id=f"ann{seed}", status="ok", sigma=sigma, lr=lr, seed=seed,
                         frac_active_clean=a, converged=converged, held_converged=held,
                         beats_zero_predictor=True))
    return pd.DataFrame(rows)


REF = [0.60, 0.60, 0.60]


def verdict(t, **kw):
    return C5.judge_tables({"removal": t}, **kw)


def test_a_network_that_stays_well_below_the_reference_agrees():
    # ratios 0.12/0.6, 0.15/0.6, 0.18/0.6 = 0.2, 0.25, 0.3: mean 0.25, sd 0.05, half-width
    # 4.303 * 0.05 / sqrt(3) = 0.124: [0.126, 0.374], all <= 0.5
    row = verdict(table(REF, [0.12, 0.15, 0.18]))
    assert row["verdict"] == "agrees" and row["gates"] == "passed"
    assert "0.25 [0.126, 0.374] (3 seeds) <= 0.5" in row["checks"]
    # one essential check per (lr, sigma), named for them: the rule's unit of judgement
    assert row["claim"] == 5 and row["checks"].startswith("lr 0.001 sigma 0.8 retention: pass")
    assert row["checks"].count("retention") == 1


def test_a_network_that_densifies_to_the_reference_disagrees():
    # ratios 0.9, 0.95, 1.0: mean 0.95, interval [0.83, 1.07], all above 0.5
    assert verdict(table(REF, [0.54, 0.57, 0.60]))["verdict"] == "disagrees"


def test_a_seed_spread_that_straddles_the_threshold_is_inconclusive():
    # ratios 0.2, 0.5, 0.8: mean 0.5, interval [-0.25, 1.25] around 0.5
    assert verdict(table(REF, [0.12, 0.30, 0.48]))["verdict"] == "inconclusive"


def test_a_held_phase_that_had_not_plateaued_or_an_unsettled_end_is_not_converged():
    t = table(REF, [0.12, 0.15, 0.18], held=False)
    row = verdict(t)
    # the measurement is still shown beside the gate
    assert row["verdict"] == "not converged" and "0.25 [0.126" in row["checks"]
    assert verdict(table(REF, [0.12, 0.15, 0.18], converged=False))["verdict"] == \
        "not converged"
    # a table without the held phase's judgement is an error, not a pass
    with pytest.raises(KeyError, match="held_converged"):
        verdict(t.drop(columns="held_converged"))


def test_a_reference_that_does_not_beat_the_zero_predictor_fails_the_baseline_gate():
    assert verdict(table(REF, [0.12, 0.15, 0.18], ref_beats=False))["verdict"] == \
        "baseline failed"


def test_each_lr_and_sigma_is_its_own_essential_check_and_the_latents_join():
    # lr 1e-3 keeps sparse, lr 1e-4 densifies: partly
    both = pd.concat([table(REF, [0.12, 0.15, 0.18]),
                      table(REF, [0.54, 0.57, 0.60], lr=1e-4).assign(
                          run_id=lambda d: d["run_id"] + "b")])
    row = verdict(both)
    assert row["verdict"] == "partly"
    assert "lr 0.0001 sigma 0.8 retention: fail" in row["checks"]
    assert "lr 0.001 sigma 0.8 retention: pass" in row["checks"]
    # before removal (reported): 0.1 each -> after / before = mean(1.2, 1.5, 1.8) = 1.50
    before = pd.Series({"ann0": 0.1, "ann1": 0.1, "ann2": 0.1})
    row = C5.judge_tables({"removal": table(REF, [0.12, 0.15, 0.18]),
                           "removal_latents": table(REF, [0.54, 0.57, 0.60])},
                          {"removal": before}, sweep_fa0=0.7)
    assert row["verdict"] == "partly" and "latents lr 0.001 sigma 0.8" in row["checks"]
    assert "0.100 before removal (after / before 1.50)" in row["measured"]
    assert "sigma sweep's sigma 0 (shorter): 0.700" in row["measured"]


def test_only_matching_seeds_are_compared():
    t = table(REF, [0.12, 0.15, 0.18])
    t = t[t["run_id"] != "ref2"]  # seed 2's reference is missing: 2 seeds compared
    assert "(2 seeds)" in verdict(t)["checks"]
