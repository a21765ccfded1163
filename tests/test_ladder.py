"""The sensitivity ladder read from hand-built run tables (claims/ladder.py and each claim's
`rungs`): rungs per axis with the stand-in first, the convergence and lr x steps gates, and
the claim conclusions they lead to, each changed by one value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from noisesparse.claims import (conclusions, dead_neurons, ladder_table, mechanism,
                                noise_removal, preactivations, sensitivity, shared_bias,
                                sparsity)
from noisesparse.claims import ladder

SEEDS = (0, 1, 2)
STAND_IN = {"width": 128, "lr": 1e-3, "steps": 16000, "batch_size": 256,
            "dataset": "natural_grey12_centred", "bias": "neuron"}


def runs(tag: str, per_sigma: dict, converged=True, **config) -> pd.DataFrame:
    """Runs at each sigma and seed: `per_sigma` maps sigma -> {metric: value} (a jitter of
    +-0.01 across seeds), the stand-in's config with `config` changed."""
    rows = []
    for s, metrics in per_sigma.items():
        for seed in SEEDS:
            rows.append({"run_id": f"{tag}-{s}-{seed}", "status": "ok", "sigma": s,
                         "seed": seed, "converged": converged, **STAND_IN, **config,
                         **{k: v + 0.01 * (seed - 1) for k, v in metrics.items()}})
    return pd.DataFrame(rows)


def fa(at0, at08, **more):  # clean fraction active at sigma 0 and 0.8
    return {0.0: {"frac_active_clean": at0, **more}, 0.8: {"frac_active_clean": at08, **more}}


@pytest.fixture
def studies(monkeypatch):
    """Monkeypatch the ladder's readers to a dict of run tables by F18 role (the test fills
    it; config/studies.yaml maps each role to its studies)."""
    tables = {}
    monkeypatch.setattr(ladder, "sweep", lambda plan: tables["sweep"])
    monkeypatch.setattr(ladder, "study", lambda plan, name: tables.get(name))
    monkeypatch.setattr(noise_removal, "study", lambda plan, name: tables.get(name))
    return tables


def test_rungs_start_from_the_stand_in_and_order_toward_the_paper(studies):
    studies["sweep"] = runs("sw", fa(0.5, 0.25))
    studies["ladder_width"] = pd.concat([runs("w128", fa(0.5, 0.25)),
                                       runs("w512", fa(0.5, 0.2), width=512),
                                       runs("w2048", fa(0.5, 0.1), width=2048)])
    studies["ladder_lr"] = runs("lr", fa(0.5, 0.1), lr=1e-4, steps=160000)
    rs = ladder.rungs(None)
    got = [(r.axis, str(r.setting), r.order) for r in rs]
    assert got == [("width", "128", 0), ("width", "512", 1), ("width", "2048", 2),
                   ("lr", "0.001", 0), ("lr", "0.0001", 1)]
    # the stand-in's rung holds every run at the stand-in's settings, a rung study's too
    assert {"sw", "w128"} == {i.split("-")[0] for i in rs[0].runs["run_id"]}
    assert set(rs[3].runs["run_id"]) == set(rs[0].runs["run_id"])


def test_claim_1_is_stand_in_and_persists_by_one_value(studies):
    studies["sweep"] = runs("sw", fa(0.5, 0.25))  # ratio 0.5: fails <= 1/3
    studies["ladder_width"] = runs("w512", fa(0.5, 0.1), width=512)  # 0.2: passes
    word, detail = sensitivity.conclude_claim(sparsity.rungs(None))
    assert word == sensitivity.STAND_IN and "width toward" in detail
    studies["ladder_width"] = runs("w512", fa(0.5, 0.3), width=512)  # 0.6: worse
    assert sensitivity.conclude_claim(sparsity.rungs(None))[0] == sensitivity.PERSISTS


def test_an_unconverged_rung_and_an_early_flat_stretch_are_not_counted(studies):
    studies["sweep"] = runs("sw", fa(0.5, 0.25))
    studies["ladder_width"] = runs("w512", fa(0.5, 0.1), converged=False, width=512)
    rs = sparsity.rungs(None)
    assert [r.converged for r in rs] == [True, False]
    assert sensitivity.conclude_claim(rs)[0] == sensitivity.OPEN
    # Adam 1e-4 at long's steps: converged by the check, but lr x steps is a tenth of long's
    del studies["ladder_width"]
    studies["ladder_lr"] = runs("lr", fa(0.5, 0.1), lr=1e-4, steps=16000)
    assert [r.converged for r in sparsity.rungs(None)] == [True, False]
    studies["ladder_lr"] = runs("lr", fa(0.5, 0.1), lr=1e-4, steps=160000)  # steps scaled
    rs = sparsity.rungs(None)
    assert [r.converged for r in rs] == [True, True]
    assert sensitivity.conclude_claim(rs)[0] == sensitivity.STAND_IN


def test_claim_3_negative_biases_are_sensitive_to_initialisation(studies):
    m = dict(bias_std_living=1.0, drive_std=1.0, wnorm_cv_living=0.2)
    studies["sweep"] = runs("sw", fa(0.5, 0.2, bias_frac_negative=0.87, **m))
    studies["ladder_init"] = runs("ini", fa(0.5, 0.1, bias_frac_negative=1.0, **m),
                                init="normal")
    rs = mechanism.rungs(None)
    a1 = [r for r in rs if r.quantity.startswith("(a1)")]
    assert [(r.setting, r.order) for r in a1] == [("torch", None), ("normal", None)]
    word, detail = sensitivity.conclude_claim(rs)
    assert word == "sensitive to init" and "(b) bias std / drive std" in detail
    studies["ladder_init"] = runs("ini", fa(0.5, 0.1, bias_frac_negative=0.8, **m),
                                init="normal")  # both inits fail (a1): no flip
    assert sensitivity.conclude_claim(mechanism.rungs(None))[0] == sensitivity.OPEN


def test_claims_2_4_and_9_read_their_quantities_on_each_rung(studies):
    pre = dict(pre_neuron_std_median=1.0, lifetime_dispersion=0.8)
    sw = {0.0: {"frac_active_clean": 0.5, "pre_neuron_mean_median": 0.3,
                "pre_neuron_frac_negative": 0.2, **pre},
          0.8: {"frac_active_clean": 0.2, "pre_neuron_mean_median": -0.5,
                "pre_neuron_frac_negative": 0.7, **pre}}
    studies["sweep"] = runs("sw", sw)
    shared = {0.0: {**sw[0.0]}, 0.8: {**sw[0.8], "frac_active_clean": 0.05}}
    studies["shared"] = runs("sh", shared, bias="shared")
    assert dead_neurons.rungs(None) == []  # no rung study planned: no rung at all
    studies["ladder_width"] = pd.concat([runs("w512", sw, width=512),
                                       runs("w512s", sw, width=512, bias="shared")])
    d = dead_neurons.rungs(None)
    assert d[0].values == pytest.approx((0.79, 0.8, 0.81)) and d[0].outcome == "fail"
    c9 = preactivations.rungs(None)
    # (-0.5 - 0.3) / std 1, each seed with its own std (1 + 0.01 (seed - 1))
    assert c9[0].values == pytest.approx([-0.8 / 0.99, -0.8, -0.8 / 1.01])
    assert c9[0].outcome == "pass"
    # claim 4 on the stand-in: shared 0.05 vs per-neuron 0.2 at sigma 0.8, floor 0.025
    c4 = shared_bias.rungs(None)
    want = np.log((0.2 + 0.025) / (0.05 + 0.025))
    assert c4[0].values[1] == pytest.approx(want) and c4[0].outcome == "fail"
    # identical fractions at width 512: the ratio is 1
    assert c4[1].values == pytest.approx((0.0,) * 3)
    assert sensitivity.conclude_claim(c4)[0] == sensitivity.STAND_IN


def test_claims_2_and_3_also_read_the_sigma_their_verdict_was_judged_at(studies):
    # long's case: the stand-in's sigma 0.8 did not converge, so its verdicts are judged at
    # 0.3 (verdict.judged_sigma), where its rung counts; the 0.8 reading keeps an uncounted
    # first rung
    m = dict(bias_frac_negative=0.95, bias_std_living=1.0, drive_std=1.0,
             wnorm_cv_living=0.2, frac_active_clean=0.2)
    def at(s, disp, **kw):
        return {s: {**m, "lifetime_dispersion": disp, **kw}}
    studies["sweep"] = pd.concat([runs("s0", at(0.0, 0.9, wnorm_cv_living=0.3)),
                                  runs("s3", at(0.3, 0.85)),
                                  runs("s8", at(0.8, 0.47), converged=False)])
    w512 = lambda d3: pd.concat([runs("w0", at(0.0, 0.9, wnorm_cv_living=0.3), width=512),
                                 runs("w3", at(0.3, d3), width=512),
                                 runs("w8", at(0.8, 0.42), width=512)])
    studies["ladder_width"] = w512(0.28)
    rs = dead_neurons.rungs(None)
    assert [(r.quantity, r.setting, r.converged) for r in rs] == [
        ("(c) lifetime dispersion at sigma 0.3", "128", True),
        ("(c) lifetime dispersion at sigma 0.3", "512", True),
        ("(c) lifetime dispersion at sigma 0.8", "128", False),
        ("(c) lifetime dispersion at sigma 0.8", "512", True)]
    word, detail = sensitivity.conclude_claim(rs)
    assert word == sensitivity.STAND_IN and "at sigma 0.3: stand-in" in detail
    assert {r.quantity for r in mechanism.rungs(None)} == {
        f"{q} {s}" for s in ("0.3", "0.8") for q in (
            "(a1) negative biases at sigma", "(b) bias std / drive std at sigma")} | {
        "(c) weight-norm CV sigma 0.3 - 0", "(c) weight-norm CV sigma 0.8 - 0"}
    studies["ladder_width"] = w512(0.9)  # the wider rung departs as much: persists
    assert sensitivity.conclude_claim(dead_neurons.rungs(None))[0] == sensitivity.PERSISTS


def test_claim_5_reads_the_schedule_axis_by_learning_rate(studies):
    held = dict(held_converged=True, ramp_start=1 / 3, schedule="linear")
    studies["sweep"] = runs("sw", fa(0.5, 0.2))
    studies["removal"] = runs("nr", {0.0: {"frac_active_clean": 0.5},
                                           0.3: {"frac_active_clean": 0.35}},
                                    steps=12000, **held)
    studies["ladder_anneal"] = runs("sa", {0.0: {"frac_active_clean": 0.5},
                                         0.3: {"frac_active_clean": 0.15}},
                                  lr=1e-4, steps=120000, **held)
    rs = noise_removal.rungs(None)
    assert [(r.setting, r.order, r.converged) for r in rs] == [
        ("Adam 0.001", 0, True), ("Adam 0.0001", 1, True)]
    assert sensitivity.conclude_claim(rs)[0] == sensitivity.STAND_IN
    studies["ladder_anneal"]["held_converged"] = False  # the held phase had not plateaued
    assert sensitivity.conclude_claim(noise_removal.rungs(None))[0] == sensitivity.OPEN


def test_conclusions_have_the_summary_shape_and_the_table_one_row_per_rung(studies):
    studies["sweep"] = runs("sw", fa(0.5, 0.25))
    studies["ladder_width"] = runs("w512", fa(0.5, 0.1), width=512)
    rs = {"1": sparsity.rungs(None), "8": []}
    out = conclusions(None, rs)
    assert out == {"1": {"conclusion": "stand-in", "detail": out["1"]["detail"],
                         "quantities": out["1"]["quantities"]},
                   "8": {"conclusion": "open", "detail": out["8"]["detail"]}}
    assert all(isinstance(v["detail"], str) for v in out.values())
    (q, read), = out["1"]["quantities"].items()  # one quantity, its two rungs
    assert read["conclusion"] == "stand-in" and list(read["rungs"]) == ["width 128", "width 512"]
    assert [g["order"] for g in read["rungs"].values()] == [0, 1]
    t = ladder_table(rs)
    assert list(t["setting"]) == ["128", "512"] and list(t["outcome"]) == ["fail", "pass"]
