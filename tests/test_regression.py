"""The results regression: `noisesparse regress` compares a regenerated summary with the
committed one under the tolerances of regression/tolerances.yaml."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from noisesparse.errors import ConfigError
from noisesparse.report.summary import compare, flatten, load_tolerances, study_numbers

REPO = Path(__file__).resolve().parents[1]
RULES = load_tolerances(REPO / "regression/tolerances.yaml")

BASE = {
    "profile": "smoke", "with": [],
    "verdicts": {"claim_1": "agrees", "claim_2": "partly"},
    "studies": {"sigma_sweep": {"runs": 4, "diverged": 0,
                                "sigma=0": {"frac_active_clean": 0.5, "frac_dead": 0.125,
                                            "loss_clean": 0.010},
                                "sigma=0.8": {"frac_active_clean": 0.2, "frac_dead": 0.25,
                                              "loss_clean": 0.020}}},
}


def _changed(path: str, value):
    d = copy.deepcopy(BASE)
    *keys, last = path.split("/")
    node = d
    for k in keys:
        node = node[k]
    node[last] = value
    return d


def test_identical_summaries_agree():
    assert compare(BASE, copy.deepcopy(BASE), RULES) == []


def test_a_verdict_change_fails():
    problems = compare(_changed("verdicts/claim_2", "agrees"), BASE, RULES)
    assert problems == ["verdicts/claim_2: 'partly' -> 'agrees' (must not change)"]


@pytest.mark.parametrize("path, inside, beyond", [
    # frac_active_clean: abs 0.01
    ("studies/sigma_sweep/sigma=0.8/frac_active_clean", 0.209, 0.211),
    # frac_dead: abs 0.02
    ("studies/sigma_sweep/sigma=0/frac_dead", 0.144, 0.146),
    # loss_clean: rel 2% of 0.020 = 0.0004
    ("studies/sigma_sweep/sigma=0.8/loss_clean", 0.0203, 0.0205),
])
def test_numbers_pass_within_tolerance_and_fail_beyond(path, inside, beyond):
    assert compare(_changed(path, inside), BASE, RULES) == []
    (problem,) = compare(_changed(path, beyond), BASE, RULES)
    assert problem.startswith(path)


def test_counts_are_exact_and_missing_or_new_keys_fail():
    assert compare(_changed("studies/sigma_sweep/diverged", 1), BASE, RULES)
    gone = copy.deepcopy(BASE)
    del gone["studies"]["sigma_sweep"]["sigma=0.8"]
    assert len(compare(gone, BASE, RULES)) == 3  # its three numbers
    assert len(compare(BASE, gone, RULES)) == 3
    # a number that became None (a diverged run) is a change
    assert compare(_changed("studies/sigma_sweep/sigma=0/loss_clean", None), BASE, RULES)


def test_a_key_without_a_declared_tolerance_fails():
    new = _changed("studies/sigma_sweep/sigma=0/accuracy_clean", 0.9)
    old = _changed("studies/sigma_sweep/sigma=0/accuracy_clean", 0.9)
    assert compare(new, old, RULES) == [
        "studies/sigma_sweep/sigma=0/accuracy_clean: no tolerance declared for it"]


def test_bad_tolerances_are_a_clear_error(tmp_path):
    p = tmp_path / "t.yaml"
    p.write_text("verdicts/*: loose\n")
    with pytest.raises(ConfigError, match="exact"):
        load_tolerances(p)


def test_committed_summaries_are_covered_by_the_tolerances():
    for path in (REPO / "regression").glob("*.json"):
        summary = json.loads(path.read_text())
        assert compare(summary, summary, RULES) == [], path


def test_study_numbers_average_seeds_per_setting():
    df = pd.DataFrame({
        "status": ["ok", "ok", "ok", "diverged"], "sigma": [0.0, 0.0, 0.8, 0.8],
        "seed": [0, 1, 0, 1], "width": [64] * 4,
        "frac_active_clean": [0.5, 0.7, 0.2, float("nan")],
        "frac_dead": [0.0, 0.5, 0.25, float("nan")], "loss_clean": [1.0, 3.0, 2.0, float("nan")],
        "converged": [True, True, True, False], "beats_zero_predictor": [True, True, True, False],
    })
    out = study_numbers(df)
    # sigma 0 has two finished seeds: their spread beside each mean, e.g. std(0.5, 0.7)
    # = 0.2 / sqrt(2); sigma 0.8 has one (its diverged run is counted, not judged)
    assert out == {"runs": 4, "diverged": 1, "unconverged": 0, "no_better_than_zero": 0,
                   "sigma=0": {"frac_active_clean": 0.6, "frac_dead": 0.25, "loss_clean": 2.0,
                               "frac_active_clean_sd": 0.141421, "frac_dead_sd": 0.353553,
                               "loss_clean_sd": 1.41421, "unconverged": 0},
                   "sigma=0.8": {"frac_active_clean": 0.2, "frac_dead": 0.25, "loss_clean": 2.0,
                                 "unconverged": 0}}
    assert "sigma=0.8/loss_clean" in flatten(out)


def test_study_numbers_count_runs_that_fail_a_check():
    # sigma 0: one seed unconverged; sigma 0.8: seed 0 converged but no better than zeros,
    # seed 1 diverged (not counted: it did not finish)
    df = pd.DataFrame({
        "status": ["ok", "ok", "ok", "diverged"], "sigma": [0.0, 0.0, 0.8, 0.8],
        "seed": [0, 1, 0, 1], "frac_active_clean": [0.5, 0.7, 0.2, float("nan")],
        "converged": [True, False, True, False],
        "beats_zero_predictor": [True, True, False, False],
    })
    out = study_numbers(df)
    assert (out["unconverged"], out["no_better_than_zero"]) == (1, 1)
    assert out["sigma=0"]["unconverged"] == 1 and out["sigma=0.8"]["unconverged"] == 0
    one_more = _changed("studies/sigma_sweep/sigma=0/unconverged", 1)
    base = _changed("studies/sigma_sweep/sigma=0/unconverged", 0)
    assert compare(one_more, base, RULES) == []  # one run either way
    assert compare(_changed("studies/sigma_sweep/sigma=0/unconverged", 2), base, RULES)


def _with_spread(sd_08=0.02):
    d = copy.deepcopy(BASE)
    d["studies"]["sigma_sweep"]["sigma=0.8"]["frac_active_clean_sd"] = sd_08
    d["studies"]["sigma_sweep"]["sigma=0.8"]["loss_clean_sd"] = 0.002  # 10% of 0.020
    return d


def test_numbers_are_held_to_their_spread_over_seeds():
    base = _with_spread()
    # frac_active_clean: sd 4 x 0.02 = 0.08 beats the 0.01 floor
    key = "studies/sigma_sweep/sigma=0.8/frac_active_clean"
    moved = copy.deepcopy(base)
    moved["studies"]["sigma_sweep"]["sigma=0.8"]["frac_active_clean"] = 0.279
    assert compare(moved, base, RULES) == []
    moved["studies"]["sigma_sweep"]["sigma=0.8"]["frac_active_clean"] = 0.281
    (problem,) = compare(moved, base, RULES)
    assert problem.startswith(key) and "> 0.08" in problem
    # sigma 0 has no spread of its own: its loss gets the median relative spread of the
    # loss over settings with seeds (0.002 / 0.020 = 10%) x 4 = 40% of 0.010 = 0.004
    moved = copy.deepcopy(base)
    moved["studies"]["sigma_sweep"]["sigma=0"]["loss_clean"] = 0.0139
    assert compare(moved, base, RULES) == []
    moved["studies"]["sigma_sweep"]["sigma=0"]["loss_clean"] = 0.0141
    assert compare(moved, base, RULES)
    # with no spread anywhere, the floor holds (frac_active_clean: 0.01)
    assert compare(_changed("studies/sigma_sweep/sigma=0/frac_active_clean", 0.515), BASE, RULES)


def test_seed_spread_and_relative_spreads_by_hand():
    from noisesparse.report.summary import relative_spreads, seed_spread
    flat = flatten(_with_spread())
    assert relative_spreads(flat) == {"frac_active_clean": pytest.approx(0.1),
                                      "loss_clean": pytest.approx(0.1)}
    rel = relative_spreads(flat)
    assert seed_spread("studies/sigma_sweep/sigma=0.8/frac_active_clean", flat, rel) == 0.02
    assert seed_spread("studies/sigma_sweep/sigma=0/frac_active_clean", flat, rel) == \
        pytest.approx(0.05)  # 10% of 0.5
    assert seed_spread("studies/sigma_sweep/sigma=0/frac_dead", flat, rel) == 0.0


def _with_claims():
    d = copy.deepcopy(BASE)
    d["claims"] = {"claim_1": {"statement": "Noise makes it sparse", "verdict": "agrees",
                               "deciding": {"text": "(a) ratio: pass [0.2 [0.1, 0.3] <= 0.333]",
                                            "value": 0.2, "low": 0.1, "high": 0.3,
                                            "threshold": "<= 0.333"},
                               "gates": "passed", "figures": ["F1", "F2"]}}
    return d


def test_claims_hold_verdict_statement_and_figures_and_report_the_deciding_check():
    base = _with_claims()
    assert compare(base, copy.deepcopy(base), RULES) == []
    moved = copy.deepcopy(base)
    moved["claims"]["claim_1"]["deciding"].update(value=0.25, text="moved", threshold=None)
    moved["claims"]["claim_1"]["gates"] = "1 not converged"
    assert compare(moved, base, RULES) == []  # reported, not compared
    for key, value in (("verdict", "partly"), ("statement", "other"), ("figures", ["F1"])):
        changed = copy.deepcopy(base)
        changed["claims"]["claim_1"][key] = value
        (problem,) = compare(changed, base, RULES)
        assert problem.startswith(f"claims/claim_1/{key}:") and "must not change" in problem
    # a committed summary from before the key: each verdict, statement and figures is new
    assert len(compare(base, BASE, RULES)) == 3


def test_claim_entry_is_the_verdict_row_as_the_summary_keeps_it():
    from noisesparse.report.summary import claim_entry
    r = {"claim": "1", "statement": "s", "verdict": "partly", "gates": "passed",
         "deciding": "(b): fail", "deciding_value": 1.23456789, "deciding_low": float("nan"),
         "deciding_high": None, "deciding_threshold": float("nan"), "figures": "F1 F2"}
    assert claim_entry(r) == {
        "statement": "s", "verdict": "partly", "gates": "passed", "figures": ["F1", "F2"],
        "deciding": {"text": "(b): fail", "value": 1.23457, "low": None, "high": None,
                     "threshold": None}}
